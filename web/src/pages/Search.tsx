import { Fragment, useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";
import { Bookmark, ChevronDown, ChevronRight, Download, List, Minus, Plus, Search as SearchIcon } from "lucide-react";
import { api, quoteValue, type Flat, type Query, type Req, type Res } from "../api";
import { Chart, baseAxis, palette, type Option } from "../components/Chart";
import { Empty, ErrorBox, Loading, Pager, Panel, download, fmtValue, useDebounced } from "../components/common";
import { TimePicker } from "../components/TimePicker";
import { SaveSearch, SavedSearches } from "../components/SavedSearches";
import { useAuth } from "../auth";
import { useFormat } from "../i18n";
import { useRange } from "../live";

const LIMIT = 100;
const SUMMARY = [
  "event.code", "event.action", "event.category", "host.name", "user.name", "source.ip", "destination.ip", "destination.port",
  "process.command_line", "process.name", "rule.name", "url.original", "dns.question.name", "message",
];

/** `field:"value"` joined to the filter part of a query (before any pipe). */
export function addFilter(query: string, field: string, value: string, negate = false): string {
  const term = `${negate ? "NOT " : ""}${field}:${quoteValue(value)}`;
  const i = pipeIndex(query);
  const filter = (i < 0 ? query : query.slice(0, i)).trim();
  const rest = i < 0 ? "" : ` ${query.slice(i).trim()}`;
  if (!filter || filter === "*") return term + rest;
  const wrapped = /\sOR\s/i.test(filter) ? `(${filter})` : filter;
  return `${wrapped} AND ${term}${rest}`;
}

function pipeIndex(q: string): number {
  let inQuote = false;
  for (let i = 0; i < q.length; i++) {
    const c = q[i];
    if (c === "\\") i++;
    else if (c === '"') inQuote = !inQuote;
    else if (c === "|" && !inQuote) return i;
  }
  return -1;
}

type TableOut = Extract<Res<"/search", "post">, { kind: "table" }>;

/**
 * A timechart answer (`@timestamp` first, then an optional split field,
 * then its aggregations) as line series: one per split value when the
 * second column holds names, else one per aggregation column.
 */
export function timechartOption(out: TableOut, fmt: { short: (v: string) => string; compact: (v: number) => string; num: (v: number) => string }): Option | null {
  if (out.columns[0] !== "@timestamp" || out.columns.length < 2 || !out.rows.length) return null;
  const split = out.columns.length >= 3 && out.rows.some((r) => typeof r[1] === "string");
  const times = [...new Set(out.rows.map((r) => String(r[0])))];
  const at = new Map(times.map((x, i) => [x, i]));
  const series: { name: string; data: (number | null)[] }[] = [];
  if (split) {
    const by = new Map<string, (number | null)[]>();
    for (const r of out.rows) {
      const key = r[1] == null ? "" : String(r[1]);
      if (!by.has(key)) by.set(key, times.map(() => null));
      by.get(key)![at.get(String(r[0]))!] = typeof r[2] === "number" ? r[2] : null;
    }
    // The busiest series first; a chart of hundreds of lines reads as none.
    const total = (d: (number | null)[]) => d.reduce<number>((a, b) => a + (b ?? 0), 0);
    for (const [name, data] of [...by.entries()].sort((a, b) => total(b[1]) - total(a[1])).slice(0, 10)) series.push({ name, data });
  } else {
    out.columns.slice(1).forEach((c, j) => series.push({ name: c, data: out.rows.map((r) => (typeof r[j + 1] === "number" ? (r[j + 1] as number) : null)) }));
  }
  const colors = [palette.accent, "#a78bfa", "#f472b6", "#facc15", "#34d399", "#fb923c", "#60a5fa", "#f87171", "#c084fc", "#4ade80"];
  return {
    color: colors,
    tooltip: { trigger: "axis", backgroundColor: "#0f1b2d", borderColor: "#24405f", textStyle: { color: palette.text }, valueFormatter: (v: number) => fmt.num(v) },
    legend: { top: 0, textStyle: { color: palette.text }, type: "scroll" },
    grid: { left: 48, right: 16, top: 30, bottom: 24 },
    xAxis: { type: "category", data: times, ...baseAxis(), axisLabel: { ...baseAxis().axisLabel, formatter: (v: string) => fmt.short(v) } },
    yAxis: { type: "value", ...baseAxis(), axisLabel: { ...baseAxis().axisLabel, formatter: (v: number) => fmt.compact(v) } },
    series: series.map((x) => ({ type: "line", name: x.name, data: x.data, showSymbol: times.length < 60, connectNulls: false, areaStyle: series.length === 1 ? { opacity: 0.15 } : undefined })),
  };
}

function csvCell(v: unknown): string {
  const s = fmtValue(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export default function Search() {
  const { t } = useTranslation();
  const f = useFormat();
  const [params, setParams] = useSearchParams();
  const [range, setRange] = useRange();
  const query = params.get("q") ?? "";
  const offset = Number(params.get("offset") ?? 0) || 0;
  const [text, setText] = useState(query);
  const [fieldFilter, setFieldFilter] = useState("");
  const [openField, setOpenField] = useState<string | null>(null);
  const [expanded, setExpanded] = useState<Set<number>>(new Set());
  const [saving, setSaving] = useState(false);
  const [showSaved, setShowSaved] = useState(false);
  const [showTable, setShowTable] = useState(false);
  const { can } = useAuth();
  const ff = useDebounced(fieldFilter, 150);

  const run = (q: string, off = 0, r = range) => {
    setText(q);
    setExpanded(new Set());
    setParams((p) => {
      const n = new URLSearchParams(p);
      n.set("q", q);
      n.set("from", r.from);
      n.set("to", r.to);
      if (off) n.set("offset", String(off));
      else n.delete("offset");
      return n;
    });
  };

  const searched = params.has("q");
  const res = useQuery({
    queryKey: ["search", query, range.from, range.to, offset],
    queryFn: ({ signal }) => api<Res<"/search", "post">>("/search", { body: { query, from: range.from, to: range.to, limit: LIMIT, offset } satisfies Req<"/search">, signal }),
    enabled: searched,
    placeholderData: (p) => p,
  });
  const filterPart = pipeIndex(query) < 0 ? query : query.slice(0, pipeIndex(query));
  const fields = useQuery({
    queryKey: ["fields", filterPart, range.from, range.to],
    queryFn: ({ signal }) => api<Res<"/fields">>("/fields", { query: { query: filterPart, from: range.from, to: range.to } satisfies Query<"/fields">, signal }),
    enabled: searched,
    placeholderData: (p) => p,
  });

  const out = res.data;
  const hist = useMemo<Option | null>(() => {
    if (!out || out.kind !== "hits" || !out.histogram?.buckets.length) return null;
    const iv = out.histogram.interval_ms;
    return {
      tooltip: { trigger: "axis", backgroundColor: "#0f1b2d", borderColor: "#24405f", textStyle: { color: palette.text }, valueFormatter: (v: number) => f.num(v) },
      grid: { left: 48, right: 12, top: 10, bottom: 24 },
      xAxis: {
        type: "category", data: out.histogram.buckets.map((b) => b.t), ...baseAxis(),
        axisLabel: { ...baseAxis().axisLabel, formatter: (v: string) => (iv >= 86_400_000 ? f.date(v).slice(0, 10) : f.short(v)) },
      },
      yAxis: { type: "value", minInterval: 1, ...baseAxis(), axisLabel: { ...baseAxis().axisLabel, formatter: (v: number) => f.compact(v) } },
      series: [{ type: "bar", name: t("search.hits", { count: "" }), data: out.histogram.buckets.map((b) => b.count), itemStyle: { color: palette.accent }, barMaxWidth: 22 }],
    };
  }, [out, f, t]);

  const chart = useMemo<Option | null>(() => (out && out.kind === "table" ? timechartOption(out, f) : null), [out, f]);

  const shownFields = (fields.data?.fields ?? []).filter((x) => !ff || x.name.toLowerCase().includes(ff.toLowerCase()));

  const exportAll = async (kind: "csv" | "json") => {
    const r = await api<Res<"/search", "post">>("/search", { body: { query, from: range.from, to: range.to, limit: 1000, offset: 0 } satisfies Req<"/search"> });
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    if (r.kind === "table") {
      if (kind === "json") download(`taishi-${stamp}.json`, "application/json", JSON.stringify(r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]]))), null, 2));
      else download(`taishi-${stamp}.csv`, "text/csv", [r.columns.map(csvCell).join(","), ...r.rows.map((row) => row.map(csvCell).join(","))].join("\r\n"));
      return;
    }
    if (kind === "json") {
      download(`taishi-${stamp}.json`, "application/x-ndjson", r.events.map((e) => JSON.stringify(e)).join("\n") + "\n");
    } else {
      const cols = ["@timestamp", ...new Set(r.events.flatMap((e) => Object.keys(e)).filter((k) => k !== "@timestamp"))];
      const rows = r.events.map((e) => cols.map((c) => csvCell(e[c])).join(","));
      download(`taishi-${stamp}.csv`, "text/csv", "\uFEFF" + [cols.map(csvCell).join(","), ...rows].join("\r\n"));
    }
  };

  return (
    <div className="search-page">
      <div className="page-head">
        <h1>{t("search.title")}</h1>
        <div className="grow" />
        <button className={showSaved ? "btn btn-primary" : "btn"} aria-expanded={showSaved} onClick={() => setShowSaved((v) => !v)} data-testid="saved-toggle">
          <List size={16} aria-hidden /> {t("saved.title")}
        </button>
        {can("searches:write") && searched && query && (
          <button className="btn" onClick={() => setSaving((v) => !v)} aria-expanded={saving} data-testid="save-search">
            <Bookmark size={16} aria-hidden /> {t("saved.save")}
          </button>
        )}
        <TimePicker value={range} onChange={(r) => { setRange(r); }} />
      </div>
      {saving && <SaveSearch query={query} from={range.from} to={range.to} onClose={() => { setSaving(false); setShowSaved(true); }} />}
      {showSaved && (
        <SavedSearches
          onOpen={(s) => {
            const r = { from: s.from, to: s.to ?? "now" };
            setShowSaved(false);
            setRange(r);
            run(s.query, 0, r);
          }}
        />
      )}
      <form
        className="querybar"
        onSubmit={(e) => {
          e.preventDefault();
          run(text.trim());
        }}
      >
        <SearchIcon size={18} className="muted" aria-hidden />
        <input
          className="query-input mono"
          data-testid="query"
          aria-label={t("search.placeholder")}
          placeholder={t("search.placeholder")}
          value={text}
          onChange={(e) => setText(e.target.value)}
          spellCheck={false}
        />
        <button className="btn btn-primary" type="submit" data-testid="run-search">{t("search.run")}</button>
      </form>
      <div className="muted small help">{t("search.help")}</div>

      {!searched ? (
        <Empty text={t("search.start")} />
      ) : (
        <div className="search-layout">
          <aside className="fields" aria-label={t("search.fields")}>
            <div className="fields-head">
              <h2>{t("search.fields")}</h2>
              <input placeholder={t("search.filterFields")} aria-label={t("search.filterFields")} value={fieldFilter} onChange={(e) => setFieldFilter(e.target.value)} />
            </div>
            {fields.isLoading && <Loading inline />}
            {fields.error && <ErrorBox error={fields.error} />}
            {fields.data && !shownFields.length && <div className="muted small pad">{t("search.noFields")}</div>}
            <ul className="field-list">
              {shownFields.map((fi) => (
                <li key={fi.name} data-field={fi.name}>
                  <button className="field-name" aria-expanded={openField === fi.name} onClick={() => setOpenField(openField === fi.name ? null : fi.name)}>
                    {openField === fi.name ? <ChevronDown size={14} aria-hidden /> : <ChevronRight size={14} aria-hidden />}
                    <span className="mono">{fi.name}</span>
                    <span className="muted small">{f.compact(fi.count)}</span>
                  </button>
                  {openField === fi.name && (
                    <ul className="field-values">
                      {fi.top.map((v) => {
                        const pct = fi.count ? (100 * v.count) / fi.count : 0;
                        return (
                          <li key={v.value}>
                            <button
                              className="field-value"
                              data-testid="field-value"
                              title={t("search.addFilter")}
                              onClick={() => run(addFilter(query, fi.name, v.value))}
                            >
                              <span className="fv-text mono">{v.value || '""'}</span>
                              <span className="fv-count">{f.num(v.count)}</span>
                              <span className="fv-bar" style={{ width: `${pct}%` }} aria-hidden />
                            </button>
                            <button className="icon-btn" aria-label={t("search.exclude")} title={t("search.exclude")} onClick={() => run(addFilter(query, fi.name, v.value, true))}>
                              <Minus size={12} aria-hidden />
                            </button>
                          </li>
                        );
                      })}
                    </ul>
                  )}
                </li>
              ))}
            </ul>
          </aside>
          <section className="results">
            {res.error && <ErrorBox error={res.error} onRetry={() => res.refetch()} />}
            {res.isLoading && <Loading />}
            {out && (
              <>
                <div className="results-head">
                  <span data-testid="hit-count">
                    {out.kind === "hits" ? t("search.hits", { count: f.num(out.total) as unknown as number }) : t("common.total", { count: f.num(out.rows.length) as unknown as number })}
                  </span>
                  <span className="muted small">· {t("search.took", { ms: f.num(out.took_ms) })}</span>
                  {res.isFetching && <span className="muted small">· {t("common.loading")}</span>}
                  <div className="grow" />
                  <button className="btn btn-sm" onClick={() => exportAll("csv")} data-testid="export-csv"><Download size={14} aria-hidden /> {t("search.exportCsv")}</button>
                  <button className="btn btn-sm" onClick={() => exportAll("json")} data-testid="export-json"><Download size={14} aria-hidden /> {t("search.exportJson")}</button>
                </div>
                {hist && (
                  <Panel>
                    <Chart
                      option={hist}
                      height={120}
                      label={t("search.histogram")}
                      onClick={(p) => {
                        if (out.kind !== "hits" || !out.histogram || p.dataIndex == null) return;
                        const b = out.histogram.buckets[p.dataIndex];
                        const start = new Date(b.t);
                        setRange({ from: start.toISOString(), to: new Date(start.getTime() + out.histogram.interval_ms).toISOString() });
                      }}
                    />
                  </Panel>
                )}
                {chart && (
                  <Panel
                    title={t("saved.chart")}
                    actions={
                      <button className="btn btn-sm" aria-expanded={showTable} onClick={() => setShowTable((v) => !v)} data-testid="toggle-table">
                        {showTable ? t("saved.hideTable") : t("saved.showTable")}
                      </button>
                    }
                  >
                    <div data-testid="timechart"><Chart option={chart} height={280} label={t("saved.chart")} /></div>
                  </Panel>
                )}
                {out.kind === "table" ? (
                  chart && !showTable ? null : out.rows.length ? (
                    <table className="table" data-testid="result-table">
                      <thead><tr>{out.columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
                      <tbody>
                        {out.rows.map((r, i) => (
                          <tr key={i}>{r.map((v, j) => <td key={j} className={typeof v === "number" ? "num" : ""}>{typeof v === "number" ? f.num(v) : fmtValue(v)}</td>)}</tr>
                        ))}
                      </tbody>
                    </table>
                  ) : <Empty text={t("search.noHits")} />
                ) : out.events.length ? (
                  <>
                    <table className="table events" data-testid="result-table">
                      <thead><tr><th style={{ width: 28 }} /><th style={{ width: 170 }}>{t("search.time")}</th><th>{t("search.event")}</th></tr></thead>
                      <tbody>
                        {out.events.map((e, i) => (
                          // Search answers carry no store sequence: rows are
                          // keyed by their place on the page.
                          <EventRow
                            key={i}
                            event={e}
                            open={expanded.has(i)}
                            toggle={() => setExpanded((s) => { const n = new Set(s); if (n.has(i)) n.delete(i); else n.add(i); return n; })}
                            onFilter={(k, v, neg) => run(addFilter(query, k, v, neg))}
                          />
                        ))}
                      </tbody>
                    </table>
                    <Pager total={out.total} limit={LIMIT} offset={offset} onChange={(o) => run(query, o)} />
                  </>
                ) : <Empty text={t("search.noHits")} />}
              </>
            )}
          </section>
        </div>
      )}
    </div>
  );
}

/** One event; `time` is its stored time when known, else its `@timestamp` field. */
export function EventRow({ event: ev, time, open, toggle, onFilter, highlight }: { event: Flat; time?: string | null; open: boolean; toggle: () => void; onFilter?: (k: string, v: string, neg: boolean) => void; highlight?: boolean }) {
  const { t } = useTranslation();
  const f = useFormat();
  const summary = SUMMARY.filter((k) => ev[k] != null && ev[k] !== "").slice(0, 6);
  const rest = summary.length < 3 ? Object.keys(ev).filter((k) => !summary.includes(k) && k !== "@timestamp").slice(0, 6 - summary.length) : [];
  return (
    <Fragment>
      <tr className={`event-row ${open ? "open" : ""} ${highlight ? "highlight" : ""}`} onClick={toggle} data-testid="event-row">
        <td>
          <button className="icon-btn" aria-expanded={open} aria-label={t("search.event")} onClick={(e) => { e.stopPropagation(); toggle(); }}>
            {open ? <ChevronDown size={14} aria-hidden /> : <ChevronRight size={14} aria-hidden />}
          </button>
        </td>
        <td className="mono small nowrap">
          {f.date(time ?? (typeof ev["@timestamp"] === "string" ? ev["@timestamp"] : null))}
          {ev["taishi.timezone_assumed"] === true && (
            // The sender gave no zone: the listener's zone was assumed, so the time may be off by hours.
            <span className="muted small" data-testid="zone-assumed" title={t("search.zoneAssumedHint", { zone: fmtValue(ev["event.timezone"]) })}> {t("search.zoneAssumed")}</span>
          )}
        </td>
        <td className="ev-summary">
          {[...summary, ...rest].map((k) => (
            <span key={k} className="kv"><span className="k">{k}</span> <span className="v">{fmtValue(ev[k]).slice(0, 160)}</span></span>
          ))}
        </td>
      </tr>
      {open && (
        <tr className="event-detail">
          <td />
          <td colSpan={2}>
            <table className="kv-table">
              <tbody>
                {Object.keys(ev).sort().map((k) => (
                  <tr key={k}>
                    <td className="mono k">{k}</td>
                    <td className="actions">
                      {onFilter && (
                        <>
                          <button className="icon-btn" aria-label={`${t("search.addFilter")}: ${k}`} title={t("search.addFilter")} onClick={() => onFilter(k, fmtValue(ev[k]), false)}><Plus size={12} aria-hidden /></button>
                          <button className="icon-btn" aria-label={`${t("search.exclude")}: ${k}`} title={t("search.exclude")} onClick={() => onFilter(k, fmtValue(ev[k]), true)}><Minus size={12} aria-hidden /></button>
                        </>
                      )}
                    </td>
                    <td className="mono v">{fmtValue(ev[k])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </td>
        </tr>
      )}
    </Fragment>
  );
}
