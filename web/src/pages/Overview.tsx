import { lazy, Suspense, useEffect, useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";
import { Minimize2 } from "lucide-react";
import { api, attackPath, LEVELS, type Level, type Overview as O, type Query, type Res } from "../api";
import { Chart, baseAxis, palette, type Option } from "../components/Chart";
import { Empty, ErrorBox, RuleTitle, ruleTitleText, LevelBadge, Loading, Panel } from "../components/common";
import { TimePicker } from "../components/TimePicker";
import { LangSwitch, OrgSwitcher, ThreatPill } from "../components/Layout";
import { TimeBasis, useAlertTime } from "../components/TimeBasis";
import { useFormat, type Fmt } from "../i18n";
import { useLive, useRange } from "../live";

const GeoMap = lazy(() => import("../components/GeoMap"));

// ATT&CK v19 matrix order (the server's taishi-attack data): Stealth and
// Defense Impairment replaced Defense Evasion.
const TACTICS = [
  "reconnaissance", "resource_development", "initial_access", "execution", "persistence", "privilege_escalation", "stealth",
  "defense_impairment", "credential_access", "discovery", "lateral_movement", "collection", "command_and_control", "exfiltration", "impact", "unknown",
];

const THREAT_COLOR: Record<string, string> = {
  low: "#22c55e", guarded: "#38bdf8", elevated: "#facc15", high: "#fb923c", severe: "#ef4444",
};

function axisTime(f: Fmt, intervalMs: number) {
  return (v: string | number) => {
    const d = new Date(v);
    if (intervalMs >= 86_400_000) return f.date(d).slice(0, 10);
    return f.short(d);
  };
}

export default function Overview() {
  const { t } = useTranslation();
  const f = useFormat();
  const nav = useNavigate();
  const live = useLive();
  const [params] = useSearchParams();
  const big = params.get("screen") === "1";
  const [range, setRange] = useRange();
  // Alerts of the range by when they were raised (default) or by their events' time.
  const [time] = useAlertTime();
  const q = useQuery({
    queryKey: ["overview", range.from, range.to, time],
    queryFn: ({ signal }) => api<Res<"/overview">>("/overview", { query: { ...range, time } satisfies Query<"/overview">, signal }),
    refetchInterval: big ? 15_000 : 30_000,
    placeholderData: (prev) => prev,
  });
  const [clock, setClock] = useState(() => new Date());
  // The big screen fits the wall display's height with no scroll: its three
  // rows of panels share what the header and the KPIs leave.
  const [viewH, setViewH] = useState(() => window.innerHeight);
  useEffect(() => {
    if (!big) return;
    const on = () => setViewH(window.innerHeight);
    window.addEventListener("resize", on);
    return () => window.removeEventListener("resize", on);
  }, [big]);
  useEffect(() => {
    if (!big) return;
    const h = setInterval(() => setClock(new Date()), 1000);
    return () => clearInterval(h);
  }, [big]);

  const d = q.data;
  // The gauge is the range's (the top bar's pill is the last 24 hours').
  const threat = d?.threat.level;
  const score = d?.threat.score;
  const rateNow = live.tick?.events_per_s ?? d?.events_per_s;

  // Built apart so that the 2-second ticks redraw only the gauge and the
  // sparkline, not every chart (which would replay their animations).
  const main = useMemo(() => (d ? buildCharts(d, f, t) : null), [d, f, t]);
  const gauge = useMemo(() => gaugeOption(threat, score), [threat, score]);
  const spark = useMemo(() => sparkOption(live.rates), [live.rates]);
  const charts = main && { ...main, gauge, spark };

  if (q.isLoading) return <Loading />;
  if (q.error && !d) return <ErrorBox error={q.error} onRetry={() => q.refetch()} />;
  if (!d || !charts) return null;
  const h = big ? Math.max(MIN_CHART_PX, Math.floor((viewH - BIG_CHROME_PX) / 3) - PANEL_CHROME_PX) : 240;
  // Log formats write "-" for an absent client address.
  const sources = d.top_sources.filter((s) => s.ip && s.ip !== "-");

  const sourceTable = (rows: number) =>
    sources.length ? (
      <table className="table compact">
        <thead>
          <tr><th>{t("overview.ip")}</th><th>{t("overview.location")}</th><th className="num">{t("overview.count")}</th></tr>
        </thead>
        <tbody>
          {sources.slice(0, rows).map((s) => (
            <tr key={s.ip}>
              <td><Link to={`/alerts?source_ip=${encodeURIComponent(s.ip)}`} className="mono">{s.ip}</Link></td>
              {/* Place names in the console's language: the enrich stage stores both. */}
              <td className="muted">{(f.lang === "zh-CN" ? [s.city_name_zh ?? s.city_name, s.country_name_zh ?? s.country_name].filter(Boolean).join("，") : [s.city_name, s.country_name].filter(Boolean).join(", ")) || "—"}</td>
              <td className="num">{f.num(s.count)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    ) : <Empty text={t("common.noData")} />;

  // Alerts by rule and the most attacked assets: the same two panels on the
  // big screen and the normal overview (their height follows `h`).
  const rulesAndAssets = (
    <>
      <Panel title={t("overview.alertsByRule")}>
        {d.alerts_by_rule.length ? (
          <Chart option={charts.rules} height={h} label={t("overview.alertsByRule")} onClick={(p) => p.data && nav(`/alerts?rule_id=${encodeURIComponent((p.data as { id: string }).id)}`)} />
        ) : <Empty text={t("overview.noAlerts")} />}
      </Panel>
      <Panel title={t("overview.topAssets")}>
        {d.top_assets.length ? (
          <Chart option={charts.assets} height={h} label={t("overview.topAssets")} onClick={(p) => p.name && nav(`/alerts?host=${encodeURIComponent(p.name)}`)} />
        ) : <Empty text={t("common.noData")} />}
      </Panel>
    </>
  );

  const kpis = (
    <div className="kpis">
      <div className="kpi kpi-threat" data-testid="kpi-threat" style={{ borderColor: THREAT_COLOR[threat ?? "low"] }}>
        <div className="gauge">
          <Chart option={charts.gauge} height={big ? 150 : 118} label={t("threat.title")} />
          <div className="gauge-value" style={{ color: THREAT_COLOR[threat ?? "low"] }}>{f.dec(score ?? 0)}</div>
        </div>
        <div className="kpi-threat-label" style={{ color: THREAT_COLOR[threat ?? "low"] }}>
          {t("threat.title")} · <b>{t(`threat.${threat ?? "low"}`)}</b>
        </div>
        {/* Why the level is what it is: each level's open findings and points. */}
        <details className="threat-factors" data-testid="threat-factors">
          <summary>{t("threat.why")}</summary>
          <table className="mini">
            <thead><tr><th>{t("alerts.level")}</th><th>{t("threat.openAlerts")}</th><th>{t("threat.findings")}</th><th>{t("threat.points")}</th></tr></thead>
            <tbody>
              {d.threat.factors.map((x) => (
                <tr key={x.level} data-level={x.level}><td>{t(`level.${x.level}`)}</td><td>{f.num(x.alerts)}</td><td>{f.num(x.findings)} × {x.weight}</td><td>{f.dec(x.points)}</td></tr>
              ))}
            </tbody>
          </table>
          <p className="muted small">{t("threat.formula", { points: f.dec(d.threat.points), hosts: f.num(d.threat.hosts), closed: f.num(d.threat.closed) })}</p>
        </details>
      </div>
      <Kpi label={t("overview.eventsTotal")} value={f.num(d.events_total)} testid="kpi-events" />
      <div className="kpi">
        <div className="kpi-label">{t("overview.eventsPerS")}</div>
        <div className="kpi-value">{f.dec(rateNow ?? 0)}</div>
        <Chart option={charts.spark} height={34} label={t("overview.eventsPerS")} />
      </div>
      <Kpi label={t("overview.alertsTotal")} value={f.num(d.alerts_total)} testid="kpi-alerts" />
      <Kpi label={t("overview.alertsOpen")} value={f.num(d.alerts_open)} accent testid="kpi-open" onClick={() => nav("/alerts?status=open")} />
    </div>
  );

  return (
    <div className={big ? "overview big" : "overview"} data-testid="overview">
      {big ? (
        <header className="big-head">
          <div className="big-title">
            <img src="/favicon.svg" alt="" width={34} height={34} />
            <h1>{t("app.name")} · {t("overview.title")}</h1>
          </div>
          <ThreatPill level={threat} score={score} />
          {/* The big screen has no top bar: whose data this is shows here. */}
          <OrgSwitcher />
          <div className="grow" />
          <div className="big-clock">{f.date(clock)}</div>
          <TimeBasis />
          <TimePicker value={range} onChange={setRange} />
          <LangSwitch />
          <button className="btn btn-ghost" onClick={() => nav("/overview")} aria-label={t("nav.exitBigscreen")} title={t("nav.exitBigscreen")}>
            <Minimize2 size={16} aria-hidden />
          </button>
        </header>
      ) : (
        <div className="page-head">
          <h1>{t("overview.title")}</h1>
          <div className="grow" />
          {q.isFetching && <span className="muted small">{t("common.loading")}</span>}
          <TimeBasis />
          <TimePicker value={range} onChange={setRange} />
        </div>
      )}
      {kpis}
      {big ? (
        <>
          <div className="grid g-3">
            <Panel title={t("overview.eventsOverTime")}>
              {d.events_total ? <Chart option={charts.events} height={h} label={t("overview.eventsOverTime")} /> : <Empty text={t("overview.noEvents")} />}
            </Panel>
            <Panel title={t("overview.alertsOverTime")}>
              {d.alerts_total ? <Chart option={charts.alerts} height={h} label={t("overview.alertsOverTime")} /> : <Empty text={t("overview.noAlerts")} />}
            </Panel>
            <Panel title={t("overview.alertsByLevel")}>
              {d.alerts_total ? <Chart option={charts.levels} height={h} label={t("overview.alertsByLevel")} onClick={(p) => p.data && nav(`/alerts?level=${(p.data as { key: string }).key}`)} /> : <Empty text={t("overview.noAlerts")} />}
            </Panel>
          </div>
          <div className="grid g-3">
            <Panel title={t("overview.map")} className="span-2">
              <Suspense fallback={<Loading />}>
                <GeoMap sources={sources} height={h} />
              </Suspense>
            </Panel>
            <Panel title={t("overview.topSources")}>
              <div style={{ height: h, overflow: "hidden" }}>{sourceTable(Math.max(3, Math.floor((h - 30) / 29)))}</div>
            </Panel>
          </div>
          <div className="grid g-3">
            {rulesAndAssets}
            <Panel title={t("overview.liveAlerts")}>
              <div style={{ height: h, overflow: "hidden" }}><LiveFeed /></div>
            </Panel>
          </div>
        </>
      ) : (
      <>
      <div className="grid g-2">
        <Panel title={t("overview.eventsOverTime")}>
          {d.events_total ? <Chart option={charts.events} height={h} label={t("overview.eventsOverTime")} /> : <Empty text={t("overview.noEvents")} />}
        </Panel>
        <Panel title={t("overview.alertsOverTime")}>
          {d.alerts_total ? <Chart option={charts.alerts} height={h} label={t("overview.alertsOverTime")} /> : <Empty text={t("overview.noAlerts")} />}
        </Panel>
      </div>
      <div className="grid g-3">
        <Panel title={t("overview.map")} className="span-2">
          <Suspense fallback={<Loading />}>
            <GeoMap sources={sources} height={big ? 420 : 320} />
          </Suspense>
        </Panel>
        <Panel title={t("overview.topSources")}>
          {sourceTable(10)}
        </Panel>
      </div>
      <div className="grid g-3">
        <Panel title={t("overview.alertsByLevel")}>
          {d.alerts_total ? <Chart option={charts.levels} height={h} label={t("overview.alertsByLevel")} onClick={(p) => p.data && nav(`/alerts?level=${(p.data as { key: string }).key}`)} /> : <Empty text={t("overview.noAlerts")} />}
        </Panel>
        {rulesAndAssets}
      </div>
      <div className="grid g-3">
        <Panel title={t("overview.attackMatrix")} className="span-2">
          {d.attack_matrix.length ? <Chart option={charts.matrix} height={Math.max(h, 26 * charts.techniqueCount + 90)} label={t("overview.attackMatrix")} onClick={(p) => { const te = typeof p.value === "string" ? p.value : charts.techniques[(p.value as number[] | undefined)?.[1] ?? -1]; if (te) nav(attackPath(te)); }} /> : <Empty text={t("overview.noAlerts")} />}
        </Panel>
        <Panel title={t("overview.liveAlerts")}>
          <LiveFeed />
        </Panel>
      </div>
      <Panel title={t("overview.listeners")}>
        <Listeners d={d} />
      </Panel>
      </>
      )}
    </div>
  );
}

/** What the big screen's header, KPI row and gaps take of its height, and
 * what one panel's title and padding take: measured at 1920×1080 (the
 * browser test checks the page does not scroll there). */
const BIG_CHROME_PX = 380;
const PANEL_CHROME_PX = 62;
const MIN_CHART_PX = 100;

function Kpi({ label, value, accent, testid, onClick }: { label: string; value: string; accent?: boolean; testid?: string; onClick?: () => void }) {
  const inner = (
    <>
      <div className="kpi-label">{label}</div>
      <div className={accent ? "kpi-value accent" : "kpi-value"}>{value}</div>
    </>
  );
  return onClick ? (
    <button className="kpi kpi-btn" data-testid={testid} onClick={onClick}>{inner}</button>
  ) : (
    <div className="kpi" data-testid={testid}>{inner}</div>
  );
}

function LiveFeed() {
  const { t } = useTranslation();
  const f = useFormat();
  const live = useLive();
  const recent = useQuery({
    queryKey: ["alerts", "recent"],
    queryFn: () => api<Res<"/alerts">>("/alerts", { query: { sort: "-time", status: "new" } satisfies Query<"/alerts"> }),
    refetchInterval: 30_000,
  });
  const seen = new Set<string>();
  const items = [...live.recent, ...(recent.data?.items ?? [])].filter((a) => (seen.has(a.id) ? false : (seen.add(a.id), true))).slice(0, 12);
  if (!items.length) return <Empty text={t("overview.noAlerts")} />;
  return (
    <ul className="feed">
      {items.map((a) => (
        <li key={a.id}>
          <LevelBadge level={a.level} />
          <Link to={`/alerts/${encodeURIComponent(a.id)}`} className="feed-title"><RuleTitle title={a.rule_title} zh={a.rule_title_zh} /></Link>
          <span className="muted small">{a.host ?? a.source_ip ?? ""} · {f.ago(a.created || a["@timestamp"])}</span>
        </li>
      ))}
    </ul>
  );
}

function Listeners({ d }: { d: O }) {
  const { t } = useTranslation();
  const f = useFormat();
  if (!d.listeners.length) return <Empty text={t("common.noData")} />;
  return (
    <table className="table" data-testid="listeners">
      <thead>
        <tr>
          <th>{t("overview.listener")}</th><th>{t("common.type")}</th><th>{t("overview.address")}</th><th className="num">{t("overview.rate")}</th>
          <th className="num">{t("overview.received")}</th><th className="num">{t("overview.rejected")}</th><th className="num">{t("overview.dropped")}</th>
          <th className="num">{t("overview.lag")}</th><th className="num">{t("overview.errors")}</th>
        </tr>
      </thead>
      <tbody>
        {d.listeners.map((l) => {
          const bad = (l.udp_dropped ?? 0) > 0 || (l.errors ?? 0) > 0;
          return (
            <tr key={l.name} className={bad ? "warn" : ""}>
              <td><span className={bad ? "dot-status bad" : "dot-status ok"} aria-hidden /> {l.name}</td>
              <td className="muted">{l.kind}</td>
              <td className="mono muted">{l.address}</td>
              <td className="num">{l.events_per_s == null ? "—" : `${f.dec(l.events_per_s)}/s`}</td>
              <td className="num">{f.num(l.received)}</td>
              <td className="num">{f.num(l.rejected)}</td>
              <td className="num">{f.num(l.udp_dropped)}</td>
              <td className="num">{l.lag_ms == null ? "—" : l.lag_ms < 60_000 ? `${f.dec(l.lag_ms / 1000)} s` : f.duration(l.lag_ms / 1000)}</td>
              <td className="num">{f.num(l.errors)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

type T = (k: string, o?: Record<string, unknown>) => string;

function buildCharts(d: O, f: Fmt, t: T) {
  const tooltip = { backgroundColor: "#0f1b2d", borderColor: "#24405f", textStyle: { color: palette.text } };
  const grid = { left: 48, right: 16, top: 28, bottom: 28 };
  const fmtT = axisTime(f, d.interval_ms);
  const events: Option = {
    tooltip: { ...tooltip, trigger: "axis", valueFormatter: (v: number) => f.num(v) },
    grid,
    xAxis: { type: "category", data: d.events_over_time.map((b) => b.t), ...baseAxis(), axisLabel: { ...baseAxis().axisLabel, formatter: fmtT } },
    yAxis: { type: "value", ...baseAxis(), axisLabel: { ...baseAxis().axisLabel, formatter: (v: number) => f.compact(v) } },
    series: [
      {
        type: "line", name: t("overview.eventsTotal"), smooth: true, showSymbol: false, data: d.events_over_time.map((b) => b.count),
        lineStyle: { color: palette.accent, width: 2 },
        areaStyle: { color: { type: "linear", x: 0, y: 0, x2: 0, y2: 1, colorStops: [{ offset: 0, color: "rgba(34,211,238,0.45)" }, { offset: 1, color: "rgba(34,211,238,0.02)" }] } },
      },
    ],
  };
  const lv: Level[] = [...LEVELS];
  const alerts: Option = {
    tooltip: { ...tooltip, trigger: "axis", valueFormatter: (v: number) => f.num(v) },
    legend: { top: 0, right: 0, textStyle: { color: palette.text }, itemWidth: 10, itemHeight: 10 },
    grid: { ...grid, top: 34 },
    xAxis: { type: "category", data: d.alerts_over_time.map((b) => b.t), ...baseAxis(), axisLabel: { ...baseAxis().axisLabel, formatter: fmtT } },
    yAxis: { type: "value", minInterval: 1, ...baseAxis() },
    series: lv.map((l) => ({
      type: "bar", stack: "a", name: t(`level.${l}`), data: d.alerts_over_time.map((b) => b[l] ?? 0), itemStyle: { color: palette.level[l] }, barMaxWidth: 18,
    })),
  };
  const levels: Option = {
    tooltip: { ...tooltip, trigger: "item", valueFormatter: (v: number) => f.num(v) },
    legend: {
      bottom: 0, textStyle: { color: palette.text }, itemWidth: 10, itemHeight: 10,
      formatter: (name: string) => {
        const l = lv.find((x) => t(`level.${x}`) === name);
        return `${name} ${f.num(l ? d.alerts_by_level[l] ?? 0 : 0)}`;
      },
    },
    series: [
      {
        type: "pie", radius: ["50%", "74%"], center: ["50%", "44%"],
        itemStyle: { borderColor: "#0b1525", borderWidth: 2 },
        label: { show: true, position: "center", color: "#eaf6ff", fontSize: 22, fontWeight: 700, formatter: () => f.num(d.alerts_total) },
        emphasis: { label: { show: true, fontSize: 18, formatter: (p: { name: string; value: number }) => `${p.name}\n${f.num(p.value)}` } },
        labelLine: { show: false },
        data: [...lv].reverse().filter((l) => (d.alerts_by_level[l] ?? 0) > 0)
          .map((l) => ({ key: l, name: t(`level.${l}`), value: d.alerts_by_level[l] ?? 0, itemStyle: { color: palette.level[l] } })),
      },
    ],
  };
  const topRules = d.alerts_by_rule.slice(0, 10).reverse();
  const rules: Option = {
    tooltip: { ...tooltip, trigger: "item", valueFormatter: (v: number) => f.num(v) },
    grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: "value", ...baseAxis(), axisLabel: { show: false }, splitLine: { show: false } },
    yAxis: {
      type: "category", data: topRules.map((r) => ruleTitleText(f.lang, r.title, r.title_zh)), ...baseAxis(),
      axisLabel: { color: palette.text, fontSize: 11, width: 190, overflow: "truncate" },
    },
    series: [{
      type: "bar", barMaxWidth: 14, label: { show: true, position: "right", color: palette.text, formatter: (p: { value: number }) => f.num(p.value) },
      data: topRules.map((r) => ({ id: r.rule_id, value: r.count, itemStyle: { color: palette.level[r.level] ?? palette.accent, borderRadius: [0, 3, 3, 0] } })),
    }],
  };
  const topAssets = d.top_assets.slice(0, 10).reverse();
  const assets: Option = {
    tooltip: { ...tooltip, trigger: "item", valueFormatter: (v: number) => f.num(v) },
    grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: "value", ...baseAxis(), axisLabel: { show: false }, splitLine: { show: false } },
    yAxis: { type: "category", data: topAssets.map((a) => a.host), ...baseAxis(), axisLabel: { color: palette.text, fontSize: 11, width: 150, overflow: "truncate" } },
    series: [{
      type: "bar", barMaxWidth: 14, label: { show: true, position: "right", color: palette.text, formatter: (p: { value: number }) => f.num(p.value) },
      data: topAssets.map((a) => ({ value: a.count, itemStyle: { color: palette.level[a.max_level] ?? palette.accent, borderRadius: [0, 3, 3, 0] } })),
    }],
  };
  // Tactics in kill-chain order (those that fired); techniques by total hits.
  const tactics = TACTICS.filter((ta) => d.attack_matrix.some((m) => m.tactic === ta));
  const byTech = new Map<string, number>();
  for (const m of d.attack_matrix) byTech.set(m.technique, (byTech.get(m.technique) ?? 0) + m.count);
  const techniques = [...byTech.entries()].sort((a, b) => a[1] - b[1]).slice(-25).map((e) => e[0]);
  const maxCell = Math.max(1, ...d.attack_matrix.map((m) => m.count));
  const matrix: Option = {
    tooltip: {
      ...tooltip,
      formatter: (p: { value: [number, number, number] }) => `${t(`tactic.${tactics[p.value[0]]}`)} · ${techniques[p.value[1]]}<br/>${f.num(p.value[2])}`,
    },
    grid: { left: 8, right: 16, top: 8, bottom: 60, containLabel: true },
    xAxis: {
      type: "category", data: tactics.map((ta) => t(`tactic.${ta}`, { defaultValue: ta })), ...baseAxis(), splitArea: { show: false },
      axisLabel: { color: palette.text, fontSize: 11, rotate: 30, interval: 0 },
    },
    // A technique's label opens its description too (triggerEvent: the
    // click carries the label as its value).
    yAxis: { type: "category", data: techniques, triggerEvent: true, ...baseAxis(), axisLabel: { color: palette.text, fontSize: 11, fontFamily: "monospace" } },
    visualMap: {
      min: 0, max: maxCell, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120, itemWidth: 10,
      textStyle: { color: palette.muted }, inRange: { color: ["#10243a", "#155e75", "#f59e0b", "#ef4444"] },
    },
    series: [{
      type: "heatmap",
      data: d.attack_matrix
        .filter((m) => tactics.includes(m.tactic) && techniques.includes(m.technique))
        .map((m) => [tactics.indexOf(m.tactic), techniques.indexOf(m.technique), m.count]),
      label: { show: true, color: "#e2e8f0", fontSize: 10 },
      itemStyle: { borderColor: "#0b1525", borderWidth: 2, borderRadius: 2 },
    }],
  };
  return { events, alerts, levels, rules, assets, matrix, techniques, techniqueCount: techniques.length };
}

function gaugeOption(threat?: string, score?: number): Option {
  const tc = THREAT_COLOR[threat ?? "low"];
  return {
    series: [{
      type: "gauge", startAngle: 210, endAngle: -30, min: 0, max: 100, radius: "92%", center: ["50%", "62%"],
      progress: { show: true, width: 10, itemStyle: { color: tc } },
      axisLine: { lineStyle: { width: 10, color: [[1, "rgba(148,163,184,0.15)"]] } },
      axisTick: { show: false }, splitLine: { show: false }, axisLabel: { show: false }, pointer: { show: false },
      anchor: { show: false }, title: { show: false },
      detail: { show: false },
      data: [{ value: score ?? 0 }],
    }],
  };
}

function sparkOption(rates: { t: number; v: number }[]): Option {
  return {
    animation: false,
    grid: { left: 0, right: 0, top: 2, bottom: 2 },
    xAxis: { type: "category", show: false, data: rates.map((r) => r.t) },
    yAxis: { type: "value", show: false, min: 0 },
    series: [{ type: "line", data: rates.map((r) => r.v), showSymbol: false, smooth: true, lineStyle: { color: palette.accent, width: 1.5 }, areaStyle: { color: "rgba(34,211,238,0.15)" } }],
  };
}
