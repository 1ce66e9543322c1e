// The source-location map. Loaded on demand: the country outlines
// (world-atlas, Natural Earth 1:110m, converted from TopoJSON) are its own chunk.
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { feature } from "topojson-client";
import type { Topology, GeometryCollection } from "topojson-specification";
import countries from "world-atlas/countries-110m.json";
import { Chart, echarts, palette, type Option } from "./Chart";
import type { Overview } from "../api";
import { useFormat } from "../i18n";

let registered = false;
function register() {
  if (registered) return;
  const topo = countries as unknown as Topology<{ countries: GeometryCollection }>;
  const geo = feature(topo, topo.objects.countries) as unknown as GeoJSON.FeatureCollection;
  // Antarctica is dropped (no attackers, half the height), and rings that
  // cross the antimeridian (Russia, Fiji) are unwrapped eastwards so that
  // no polygon edge is drawn across the whole map.
  geo.features = geo.features.filter((f) => f.id !== "010");
  for (const f of geo.features) {
    const g = f.geometry;
    const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    for (const poly of polys) {
      for (const ring of poly) {
        if (ring.some((p, i) => i > 0 && Math.abs(p[0] - ring[i - 1][0]) > 180)) {
          for (const p of ring) if (p[0] < 0) p[0] += 360;
        }
      }
    }
  }
  echarts.registerMap("world", geo as never);
  registered = true;
}

export default function GeoMap({ sources, height = 300 }: { sources: Overview["top_sources"]; height?: number | string }) {
  register();
  const { t } = useTranslation();
  const f = useFormat();
  const [view, setView] = useState<"world" | "china">("world");
  const points = sources.filter((s) => typeof s.lat === "number" && typeof s.lon === "number");
  const max = Math.max(1, ...points.map((p) => p.count));

  const option = useMemo<Option>(
    () => ({
      tooltip: {
        trigger: "item",
        formatter: (p: { data?: { name: string; value: number[]; place: string } }) =>
          p.data ? `${p.data.name}<br/>${p.data.place}<br/>${f.num(p.data.value[2])} ${t("overview.hits")}` : "",
      },
      geo: {
        map: "world",
        roam: true,
        silent: false,
        // Antarctica left out: it holds no attackers and half the height.
        boundingCoords: view === "china" ? [[72, 54], [136, 17]] : [[-170, 78], [180, -56]],
        left: 8, right: 8, top: 8, bottom: 24,
        itemStyle: { areaColor: "#13233a", borderColor: "#2b4a6f", borderWidth: 0.6 },
        emphasis: { itemStyle: { areaColor: "#1c3556" }, label: { show: false } },
        label: { show: false },
      },
      series: [
        {
          type: "effectScatter",
          coordinateSystem: "geo",
          rippleEffect: { brushType: "stroke", scale: 3 },
          symbolSize: (v: number[]) => 6 + 14 * Math.sqrt(v[2] / max),
          itemStyle: { color: "#f97316", shadowBlur: 8, shadowColor: "#f97316" },
          data: points.map((p) => ({
            name: p.ip,
            place: [p.city_name, f.lang === "zh-CN" ? p.country_name_zh ?? p.country_name : p.country_name].filter(Boolean).join(", "),
            value: [p.lon, p.lat, p.count],
          })),
        },
      ],
    }),
    [points, view, max, f, t],
  );

  return (
    <div className="geomap">
      <div className="seg" role="tablist">
        {(["world", "china"] as const).map((v) => (
          <button key={v} role="tab" aria-selected={view === v} className={view === v ? "seg-btn on" : "seg-btn"} onClick={() => setView(v)}>
            {t(`overview.${v}`)}
          </button>
        ))}
      </div>
      <Chart option={option} height={height} label={t("overview.map")} />
      {points.length === 0 && <div className="map-note" style={{ color: palette.muted }}>{t("overview.noGeo")}</div>}
    </div>
  );
}
