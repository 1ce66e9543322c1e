// A thin React binding for Apache ECharts: one instance per element,
// options replaced on change, resized with the element.
import { useEffect, useRef } from "react";
import * as echarts from "echarts/core";
import { BarChart, LineChart, PieChart, HeatmapChart, ScatterChart, EffectScatterChart, MapChart, GaugeChart } from "echarts/charts";
import {
  GridComponent, TooltipComponent, LegendComponent, VisualMapComponent, GeoComponent, DataZoomComponent, TitleComponent, BrushComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([
  BarChart, LineChart, PieChart, HeatmapChart, ScatterChart, EffectScatterChart, MapChart, GaugeChart,
  GridComponent, TooltipComponent, LegendComponent, VisualMapComponent, GeoComponent, DataZoomComponent, TitleComponent, BrushComponent,
  CanvasRenderer,
]);

export { echarts };
export type Option = echarts.EChartsCoreOption;

export const palette = {
  text: "#cbd5e1",
  muted: "#64748b",
  grid: "rgba(148,163,184,0.12)",
  accent: "#22d3ee",
  level: {
    informational: "#64748b",
    low: "#38bdf8",
    medium: "#facc15",
    high: "#fb923c",
    critical: "#ef4444",
  } as Record<string, string>,
};

export function baseAxis() {
  return {
    axisLine: { lineStyle: { color: palette.grid } },
    axisLabel: { color: palette.muted, fontSize: 11 },
    splitLine: { lineStyle: { color: palette.grid } },
  };
}

export function Chart({
  option, height = 240, onClick, className, label,
}: {
  option: Option;
  height?: number | string;
  onClick?: (p: { name?: string; data?: unknown; seriesName?: string; value?: unknown; dataIndex?: number }) => void;
  className?: string;
  label?: string;
}) {
  const el = useRef<HTMLDivElement>(null);
  const inst = useRef<echarts.ECharts | null>(null);
  const click = useRef(onClick);
  // The chart's click handler is bound once; it calls the latest onClick.
  useEffect(() => {
    click.current = onClick;
  });

  useEffect(() => {
    if (!el.current) return;
    const c = echarts.init(el.current, undefined, { renderer: "canvas" });
    inst.current = c;
    c.on("click", (p) => click.current?.(p as never));
    const ro = new ResizeObserver(() => c.resize());
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      c.dispose();
      inst.current = null;
    };
  }, []);

  useEffect(() => {
    inst.current?.setOption(
      { backgroundColor: "transparent", textStyle: { fontFamily: "inherit" }, animationDuration: 400, ...option },
      { notMerge: true },
    );
  }, [option]);

  return <div ref={el} className={`chart ${className ?? ""}`} style={{ height }} role="img" aria-label={label} data-chart />;
}
