// 威胁情报: indicators with their hits, feed status and management, the
// most-hit indicators and the sources. Built to the intel API contract; the
// parts the server does not offer yet (404/405) say so instead of failing.
import { useEffect, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";
import type { TFunction } from "i18next";
import { Download, Plus, RefreshCw, Search as SearchIcon, Trash2, Upload, X } from "lucide-react";
import {
  api, ApiError, FEED_KINDS, quoteValue, type Query, type Req, type Res,
  type FeedKind, type FeedStatus, type ImportReport, type ImportResult, type Indicator, type IntelStatus,
} from "../api";

/** `GET /intel` as the page shows it: the sources as a list. */
function readStatus(d: IntelStatus) {
  const sources = Object.entries(d.sources).map(([name, s]) => ({
    name, indicators: s.indicators, updated: s.updated ?? undefined, format: s.format ?? undefined,
  }));
  return { indicators: d.matcher.indicators, feeds: d.feeds, sources };
}
type Status = ReturnType<typeof readStatus>;

/** One feed of `GET /intel/feeds`, with absent values as `undefined`. */
function readFeed(x: FeedStatus) {
  return {
    ...x, format: x.format ?? undefined, last_pull: x.last_pull ?? undefined, last_success: x.last_success ?? undefined,
    last_error: x.last_error ?? undefined,
  };
}
type Feed = ReturnType<typeof readFeed>;
import { useAuth } from "../auth";
import { Empty, ErrorBox, RuleTitle, LevelBadge, Loading, Pager, Panel, StatusBadge, Toast, useDebounced } from "../components/common";
import { useFormat, type Fmt } from "../i18n";

const LIMIT = 50;
const TABS = ["indicators", "feeds", "top"] as const;
type Tab = (typeof TABS)[number];
// taishi_intel::IndicatorType, plus the contract's ipv4/ipv6 spellings.
const TYPES = ["ip", "ipv4", "ipv6", "cidr", "domain", "url", "md5", "sha1", "sha256", "email", "ja3", "ja3s", "ja4", "ip-port", "pattern"];
const FORMATS = ["stix", "misp-event", "misp-feed", "warninglist", "feodo", "urlhaus", "threatfox", "malwarebazaar", "csv", "text"];

type Say = (text: string, kind?: "ok" | "err") => void;

/** An endpoint this server does not have yet (the contract is ahead of it). */
const missing = (e: unknown) => e instanceof ApiError && (e.status === 404 || e.status === 405);

export default function Intel() {
  const { t } = useTranslation();
  const f = useFormat();
  const { can } = useAuth();
  const [params, setParams] = useSearchParams();
  const tab: Tab = (TABS as readonly string[]).includes(params.get("tab") ?? "") ? (params.get("tab") as Tab) : "indicators";
  const [toast, setToast] = useState<{ text: string; kind: "ok" | "err" } | null>(null);
  const say: Say = (text, kind = "ok") => setToast({ text, kind });
  const [importing, setImporting] = useState(false);
  const status = useQuery({ queryKey: ["intel", "status"], queryFn: () => api<Res<"/intel">>("/intel"), select: readStatus });
  const sources = status.data ? status.data.sources.map((s) => s.name).sort() : [];
  const labels: Record<Tab, string> = { indicators: t("intel.indicatorsTab"), feeds: t("intel.feedsTab"), top: t("intel.topTab") };

  const goTab = (x: Tab, extra: Record<string, string> = {}) => setParams(() => new URLSearchParams({ tab: x, ...extra }));

  return (
    <div className="intel-page">
      <div className="page-head">
        <h1>{t("intel.title")}</h1>
        {status.data && (
          <div className="intel-kpis" data-testid="intel-kpis">
            <span><span className="muted">{t("intel.kpiIndicators")}</span> <b>{f.num(status.data.indicators)}</b></span>
            <span><span className="muted">{t("intel.kpiSources")}</span> <b>{f.num(sources.length)}</b></span>
            {status.data.feeds != null && <span><span className="muted">{t("intel.kpiFeeds")}</span> <b>{f.num(status.data.feeds)}</b></span>}
          </div>
        )}
        <div className="grow" />
        {can("intel:write") && (
          <button className={importing ? "btn btn-primary" : "btn"} onClick={() => setImporting((v) => !v)} aria-expanded={importing} data-testid="import-open">
            <Upload size={16} aria-hidden /> {t("intel.importBtn")}
          </button>
        )}
      </div>
      {status.error && <ErrorBox error={status.error} onRetry={() => status.refetch()} />}
      {importing && <ImportPanel say={say} onClose={() => setImporting(false)} />}
      <div className="tabs" role="tablist">
        {TABS.map((x) => (
          <button key={x} role="tab" aria-selected={tab === x} className={tab === x ? "tab on" : "tab"} data-testid={`intel-tab-${x}`} onClick={() => goTab(x)}>
            {labels[x]}
          </button>
        ))}
      </div>
      <div role="tabpanel">
        {tab === "indicators" && <Indicators sources={sources} />}
        {tab === "feeds" && <Feeds say={say} />}
        {tab === "top" && <TopAndSources status={status.data} onPick={(k, v) => goTab("indicators", { [k]: v })} />}
      </div>
      {toast && <Toast text={toast.text} kind={toast.kind} onDone={() => setToast(null)} />}
    </div>
  );
}

function typeLabel(t: TFunction, type: string) {
  return t(`intel.types.${type}`, { defaultValue: type });
}

function Indicators({ sources }: { sources: string[] }) {
  const { t } = useTranslation();
  const f = useFormat();
  const [params, setParams] = useSearchParams();
  const [text, setText] = useState(params.get("q") ?? "");
  const q = useDebounced(text, 300);
  const type = params.get("type") ?? "";
  const source = params.get("source") ?? "";
  const offset = Number(params.get("offset") ?? 0) || 0;
  const [sel, setSel] = useState<Indicator | null>(null);
  const tbody = useRef<HTMLTableSectionElement>(null);

  const set = (k: string, v: string) =>
    setParams((p) => {
      const n = new URLSearchParams(p);
      if (v) n.set(k, v);
      else n.delete(k);
      if (k !== "offset") n.delete("offset");
      return n;
    }, { replace: k === "q" });

  useEffect(() => {
    if (q !== (params.get("q") ?? "")) set("q", q);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q]);

  const list = useQuery({
    queryKey: ["intel", "indicators", q, type, source, offset],
    queryFn: ({ signal }) =>
      api<Res<"/intel/indicators">>("/intel/indicators", { query: { q, type, source, limit: LIMIT, offset: offset || undefined } satisfies Query<"/intel/indicators">, signal }),
    placeholderData: keepPreviousData,
  });
  const items = list.data?.items ?? [];
  const filtered = !!(q || type || source);

  const rowKey = (x: Indicator) => `${x.source}\u0000${x.type}\u0000${x.value}`;
  const onRowKey = (e: KeyboardEvent<HTMLTableRowElement>, x: Indicator) => {
    const row = e.currentTarget;
    if (e.key === "Enter" || e.key === " ") setSel(x);
    else if (e.key === "ArrowDown" || e.key === "j") (row.nextElementSibling as HTMLElement | null)?.focus();
    else if (e.key === "ArrowUp" || e.key === "k") (row.previousElementSibling as HTMLElement | null)?.focus();
    else if (e.key === "Escape") setSel(null);
    else return;
    e.preventDefault();
  };

  return (
    <div className={sel ? "intel-split open" : "intel-split"}>
      <div className="intel-main">
        <div className="toolbar">
          <input className="grow-input" type="search" placeholder={t("intel.searchPlaceholder")} aria-label={t("intel.searchPlaceholder")} value={text}
            onChange={(e) => setText(e.target.value)} data-testid="indicator-search" />
          <select value={type} onChange={(e) => set("type", e.target.value)} aria-label={t("intel.type")} data-testid="indicator-type">
            <option value="">{t("intel.allTypes")}</option>
            {TYPES.map((x) => <option key={x} value={x}>{typeLabel(t, x)}</option>)}
          </select>
          <select value={source} onChange={(e) => set("source", e.target.value)} aria-label={t("intel.source")} data-testid="indicator-source">
            <option value="">{t("intel.allSources")}</option>
            {[...new Set([...sources, source].filter(Boolean))].map((x) => <option key={x} value={x}>{x}</option>)}
          </select>
        </div>
        {list.isLoading ? <Loading /> : list.error ? <ErrorBox error={list.error} onRetry={() => list.refetch()} /> : !items.length ? (
          <Empty text={filtered ? t("intel.empty") : t("intel.emptyAll")} />
        ) : (
          <>
            <div className="table-wrap">
              <table className="table intel-table" data-testid="indicator-table" aria-label={t("intel.indicatorsTab")}>
                <thead>
                  <tr>
                    <th>{t("intel.value")}</th><th>{t("intel.type")}</th><th>{t("intel.source")}</th><th className="num col-opt">{t("intel.confidence")}</th>
                    <th>{t("intel.tlp")}</th><th>{t("intel.malware")}</th><th className="col-opt">{t("intel.validUntil")}</th><th className="num">{t("intel.hits")}</th><th className="col-opt">{t("intel.lastHit")}</th>
                  </tr>
                </thead>
                <tbody ref={tbody}>
                  {items.map((x) => {
                    const on = sel != null && rowKey(sel) === rowKey(x);
                    // Expired as of the answer (render stays pure: no clock read here).
                    const expired = x.valid_until != null && new Date(x.valid_until).getTime() < list.dataUpdatedAt;
                    return (
                      <tr key={rowKey(x)} tabIndex={0} aria-selected={on} data-testid="indicator-row" data-value={x.value}
                        className={`clickable ${on ? "cursor" : ""} ${expired ? "dim" : ""}`} onClick={() => setSel(x)} onKeyDown={(e) => onRowKey(e, x)}>
                        <td className="mono ind-value" title={x.value}>{x.value}{x.name && <div className="muted small ellipsis">{x.name}</div>}</td>
                        <td className="nowrap small">{typeLabel(t, x.type)}</td>
                        <td className="small nowrap">{x.source}</td>
                        <td className="num col-opt">{x.confidence != null ? f.num(x.confidence) : "—"}</td>
                        <td>{x.tlp ? <TlpBadge tlp={x.tlp} /> : "—"}</td>
                        <td className="tags nowrap">
                          {(x.malware ?? []).slice(0, 2).map((m) => <span key={`m${m}`} className="tag small malware">{m}</span>)}
                          {(x.labels ?? []).slice(0, Math.max(0, 2 - (x.malware?.length ?? 0))).map((l) => <span key={`l${l}`} className="tag small">{l}</span>)}
                        </td>
                        <td className={expired ? "small nowrap col-opt err" : "small nowrap col-opt"} title={x.valid_until ? f.date(x.valid_until) : undefined}>{x.valid_until ? f.day(x.valid_until) : "—"}</td>
                        <td className="num">{x.hits != null ? f.num(x.hits) : "—"}</td>
                        <td className="small nowrap muted col-opt" title={x.last_hit ? f.date(x.last_hit) : undefined}>{x.last_hit ? f.short(x.last_hit) : x.hits != null ? t("common.never") : "—"}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            <div className="row">
              <span className="muted small">{t("intel.rowHint")}</span>
              <div className="grow" />
              <Pager total={list.data?.total ?? 0} limit={LIMIT} offset={offset} onChange={(o) => set("offset", String(o))} />
            </div>
          </>
        )}
      </div>
      {sel && (
        <IndicatorDetail
          // A new indicator starts its hit list on the first page.
          key={sel.value}
          ind={sel}
          onClose={() => {
            const k = rowKey(sel);
            setSel(null);
            // Back to the row it came from, for keyboard users.
            [...(tbody.current?.querySelectorAll<HTMLElement>("tr") ?? [])].find((_r, i) => items[i] && rowKey(items[i]) === k)?.focus();
          }}
        />
      )}
    </div>
  );
}

export function TlpBadge({ tlp }: { tlp: string }) {
  return <span className={`badge tlp tlp-${tlp}`} data-tlp={tlp}>TLP:{tlp.toUpperCase()}</span>;
}

function IndicatorDetail({ ind, onClose }: { ind: Indicator; onClose: () => void }) {
  const { t } = useTranslation();
  const f = useFormat();
  const [offset, setOffset] = useState(0);
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, [ind]);
  const hits = useQuery({
    queryKey: ["intel", "hits", ind.value, offset],
    queryFn: ({ signal }) => api<Res<"/intel/hits">>("/intel/hits", { query: { indicator: ind.value, limit: 20, offset: offset || undefined } satisfies Query<"/intel/hits">, signal }),
    retry: false,
    placeholderData: keepPreviousData,
  });
  const rows: [string, ReactNode][] = [
    [t("intel.value"), <span className="mono">{ind.value}</span>],
    [t("intel.type"), typeLabel(t, ind.type)],
    [t("intel.source"), ind.source],
    [t("intel.name"), ind.name],
    [t("intel.description"), ind.description],
    [t("intel.confidence"), ind.confidence != null ? f.num(ind.confidence) : null],
    [t("intel.tlp"), ind.tlp ? <TlpBadge tlp={ind.tlp} /> : null],
    [t("intel.malware"), ind.malware?.length ? ind.malware.join(", ") : null],
    [t("intel.labels"), ind.labels?.length ? ind.labels.join(", ") : null],
    [t("intel.attack"), ind.attack?.length ? <span className="tags">{ind.attack.map((a) => <span key={a} className="tag technique small mono">{a}</span>)}</span> : null],
    [t("intel.validFrom"), ind.valid_from ? f.date(ind.valid_from) : null],
    [t("intel.validUntil"), ind.valid_until ? f.date(ind.valid_until) : null],
    [t("intel.firstSeen"), ind.first_seen ? f.date(ind.first_seen) : null],
    [t("intel.lastSeen"), ind.last_seen ? f.date(ind.last_seen) : null],
    [t("intel.id"), ind.id ? <span className="mono small">{ind.id}</span> : null],
  ];
  return (
    <aside className="intel-detail panel" aria-label={t("intel.detail")} data-testid="indicator-detail" tabIndex={-1} ref={ref}
      onKeyDown={(e) => { if (e.key === "Escape") { e.preventDefault(); onClose(); } }}>
      <header className="panel-head">
        <h2>{t("intel.detail")}</h2>
        <div className="panel-actions">
          <button className="icon-btn" onClick={onClose} aria-label={t("intel.close")} title={t("intel.close")}><X size={16} aria-hidden /></button>
        </div>
      </header>
      <div className="panel-body">
        <table className="kv-table">
          <tbody>
            {rows.filter(([, v]) => v != null && v !== "").map(([k, v]) => (
              <tr key={k}><td className="k">{k}</td><td className="v">{v}</td></tr>
            ))}
          </tbody>
        </table>
        <div className="row" style={{ marginTop: 8 }}>
          <Link className="btn btn-sm" to={`/search?q=${encodeURIComponent(quoteValue(ind.value))}`}><SearchIcon size={14} aria-hidden /> {t("intel.searchEvents")}</Link>
        </div>
        <h3>{t("intel.hitAlerts")}{hits.data ? ` · ${f.num(hits.data.total)}` : ""}</h3>
        {hits.isLoading ? <Loading inline /> : hits.error ? (
          missing(hits.error) ? <p className="muted small" data-testid="hits-unavailable">{t("intel.hitsUnavailable")}</p> : <ErrorBox error={hits.error} onRetry={() => hits.refetch()} />
        ) : !hits.data?.items.length ? <p className="muted small">{t("intel.noHits")}</p> : (
          <>
            <ul className="hit-list" data-testid="indicator-hits">
              {hits.data.items.map((a) => (
                <li key={a.id}>
                  <LevelBadge level={a.level} />
                  <div className="hit-main">
                    <Link to={`/alerts/${encodeURIComponent(a.id)}`} className="alert-title"><RuleTitle title={a.rule_title} zh={a.rule_title_zh} /></Link>
                    {a.retrospective && <span className="tag small">{t("alerts.retrospective")}</span>}
                    <div className="muted small">
                      {f.date(a["@timestamp"])} · {a.host ?? "—"} · <span className="mono">{a.source_ip ?? "—"}</span>
                    </div>
                  </div>
                  <StatusBadge status={a.status} resolution={a.resolution} />
                </li>
              ))}
            </ul>
            {hits.data.total > 20 && <Pager total={hits.data.total} limit={20} offset={offset} onChange={setOffset} />}
          </>
        )}
      </div>
    </aside>
  );
}

function ReportView({ title, r, onClose }: { title: string; r: ImportResult; onClose: () => void }) {
  const { t } = useTranslation();
  const f = useFormat();
  const rep: ImportReport = r.report;
  const rejected = rep.rejected ?? [];
  return (
    <Panel title={title} className="intel-report" actions={<button className="icon-btn" onClick={onClose} aria-label={t("common.close")}><X size={16} aria-hidden /></button>}>
      <div data-testid="intel-report">
        <p className={rejected.length ? "warn-text" : ""}>
          {t("intel.reportLine", { added: f.num(rep.added), updated: f.num(rep.updated), removed: f.num(rep.removed), rejected: f.num(rejected.length) })}
          {rep.total != null && <span className="muted"> · {t("intel.indicators")} {f.num(rep.total)}</span>}
        </p>
        {r.retro_hunt && r.retro_hunt.indicators > 0 && <p className="muted small">{t("intel.retro", { indicators: f.num(r.retro_hunt.indicators), days: f.num(r.retro_hunt.window_days) })}</p>}
        {rejected.length > 0 && (
          <>
            <h3>{t("intel.rejectedEntries")}</h3>
            <table className="table compact">
              <thead><tr><th>{t("intel.entry")}</th><th>{t("intel.reason")}</th></tr></thead>
              <tbody>
                {rejected.slice(0, 10).map((x, i) => (
                  <tr key={i}><td className="mono small ellipsis-cell" title={x.entry}>{x.entry}</td><td className="small err">{x.reason}</td></tr>
                ))}
              </tbody>
            </table>
            {rejected.length > 10 && <p className="muted small">{t("intel.more", { count: rejected.length - 10 })}</p>}
          </>
        )}
      </div>
    </Panel>
  );
}

function ImportPanel({ say, onClose }: { say: Say; onClose: () => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const [name, setName] = useState("");
  const [format, setFormat] = useState("");
  const [result, setResult] = useState<{ name: string; r: ImportResult } | null>(null);
  const m = useMutation({
    mutationFn: () => api<Res<"/intel/import", "post">>("/intel/import", { query: { name, format } satisfies Query<"/intel/import", "post">, raw: file!, contentType: "application/octet-stream" }),
    onSuccess: (r) => {
      setResult({ name, r });
      void qc.invalidateQueries({ queryKey: ["intel"] });
    },
    onError: (e) => say((e as Error).message, "err"),
  });
  return (
    <>
      <Panel title={t("intel.importTitle")} className="intel-import" actions={<button className="icon-btn" onClick={onClose} aria-label={t("common.close")}><X size={16} aria-hidden /></button>}>
        <form className="form-row" data-testid="import-form" onSubmit={(e) => { e.preventDefault(); if (!file) say(t("intel.chooseFile"), "err"); else m.mutate(); }}>
          <div className="file-pick">
            <span className="label">{t("intel.file")}</span>
            <div className="row">
              <button type="button" className="btn" onClick={() => fileRef.current?.click()}>{t("intel.chooseBtn")}</button>
              <span className={file ? "small mono ellipsis" : "small muted"} data-testid="import-file-name">{file ? file.name : t("intel.noFile")}</span>
            </div>
            <input ref={fileRef} type="file" hidden data-testid="import-file" aria-label={t("intel.file")} onChange={(e) => {
              const fl = e.target.files?.[0] ?? null;
              setFile(fl);
              if (fl && !name) setName(fl.name.replace(/\.[^.]+$/, "").replace(/[^A-Za-z0-9._-]/g, "_"));
            }} />
          </div>
          <label>{t("intel.sourceName")}<input required value={name} onChange={(e) => setName(e.target.value)} pattern="[A-Za-z0-9._\-]+" data-testid="import-name" /></label>
          <label>{t("intel.format")}
            <select value={format} onChange={(e) => setFormat(e.target.value)} data-testid="import-format">
              <option value="">{t("intel.formatAuto")}</option>
              {FORMATS.map((x) => <option key={x} value={x}>{t(`intel.formats.${x}`)}</option>)}
            </select>
          </label>
          <button className="btn btn-primary" type="submit" disabled={m.isPending} data-testid="import-submit">
            <Upload size={16} aria-hidden /> {m.isPending ? t("intel.importing") : t("intel.importBtn")}
          </button>
        </form>
        <p className="muted small">{t("intel.importHint")}</p>
      </Panel>
      {result && <ReportView title={t("intel.reportOf", { name: result.name })} r={result.r} onClose={() => setResult(null)} />}
    </>
  );
}

function Feeds({ say }: { say: Say }) {
  const { t } = useTranslation();
  const f = useFormat();
  const qc = useQueryClient();
  const { can } = useAuth();
  const admin = can("intel:feeds");
  const [adding, setAdding] = useState(false);
  const [report, setReport] = useState<{ name: string; r: ImportResult } | null>(null);
  const feeds = useQuery({
    queryKey: ["intel", "feeds"],
    queryFn: () => api<Res<"/intel/feeds">>("/intel/feeds"),
    select: (d) => d.items.map(readFeed),
    retry: false,
    // While a pull runs elsewhere (the scheduler), follow it.
    refetchInterval: (q) => (q.state.data?.items.some((x) => x.pulling === true) ? 3000 : 30_000),
  });
  const done = () => void qc.invalidateQueries({ queryKey: ["intel"] });
  const pull = useMutation({
    mutationFn: (name: string) => api<Res<"/intel/feeds/{name}/pull", "post">>(`/intel/feeds/${encodeURIComponent(name)}/pull`, { method: "POST" }),
    onSuccess: (r, name) => setReport({ name, r }),
    onError: (e, name) => say(t("intel.pullFailed", { name, msg: (e as Error).message }), "err"),
    onSettled: done,
  });
  const del = useMutation({
    mutationFn: (name: string) => api(`/intel/feeds/${encodeURIComponent(name)}`, { method: "DELETE" }),
    onSuccess: (_r, name) => say(t("intel.feedDeleted", { name })),
    onError: (e) => say((e as Error).message, "err"),
    onSettled: done,
  });

  if (feeds.isLoading) return <Loading />;
  if (feeds.error && missing(feeds.error)) return <Empty text={t("intel.feedsUnavailable")} />;
  if (feeds.error) return <ErrorBox error={feeds.error} onRetry={() => feeds.refetch()} />;
  const items = feeds.data ?? [];
  return (
    <>
      {report && <ReportView title={t("intel.reportOf", { name: report.name })} r={report.r} onClose={() => setReport(null)} />}
      <Panel title={t("intel.feedsTab")} actions={
        <>
          <button className="btn btn-sm btn-ghost" onClick={() => feeds.refetch()} aria-label={t("common.refresh")} title={t("common.refresh")}><RefreshCw size={14} aria-hidden /></button>
          {admin && <button className="btn btn-sm" onClick={() => setAdding((v) => !v)} aria-expanded={adding} data-testid="feed-add-open"><Plus size={14} aria-hidden /> {t("intel.addFeed")}</button>}
        </>
      }>
        {adding && admin && <AddFeed say={say} onDone={() => setAdding(false)} />}
        {!items.length ? <Empty text={admin ? t("intel.noFeedsAdmin") : t("intel.noFeeds")} /> : (
          <div className="table-wrap">
            <table className="table feed-table" data-testid="feed-table">
              <thead>
                <tr>
                  <th>{t("intel.feedName")}</th><th>{t("intel.interval")}</th><th>{t("intel.lastPull")} / {t("intel.lastSuccess")}</th>
                  <th className="num">{t("intel.indicators")}</th><th className="num" title={t("intel.counts")} aria-label={t("intel.counts")}>{t("intel.changes")}</th>
                  <th>{t("intel.lastError")}</th><th>{t("intel.nextPull")}</th><th>{t("common.actions")}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((x) => (
                  <FeedRow key={x.name} x={x} f={f} admin={admin} writable={can("intel:write")}
                    pulling={x.pulling || (pull.isPending && pull.variables === x.name)}
                    onPull={() => pull.mutate(x.name)}
                    onDelete={() => confirm(t("intel.deleteConfirm", { name: x.name })) && del.mutate(x.name)} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
    </>
  );
}

function FeedRow({ x, f, admin, writable, pulling, onPull, onDelete }: {
  x: Feed; f: Fmt; admin: boolean; writable: boolean; pulling: boolean; onPull: () => void; onDelete: () => void;
}) {
  const { t } = useTranslation();
  return (
    <tr data-testid="feed-row" data-feed={x.name} className={x.last_error ? "warn" : ""}>
      <td>
        <b>{x.name}</b>
        <div className="tags nowrap">
          <span className="tag small">{t(`intel.kinds.${x.kind}`, { defaultValue: x.kind })}</span>
          {x.format && <span className="tag small">{t(`intel.formats.${x.format}`, { defaultValue: x.format })}</span>}
        </div>
        <div className="muted small mono ellipsis feed-url" title={x.url}>{x.url}</div>
      </td>
      <td className="small nowrap">{f.duration(x.interval_secs)}</td>
      <td className="small nowrap">
        <div title={f.date(x.last_pull)}>{x.last_pull ? f.short(x.last_pull) : t("common.never")}</div>
        <div title={f.date(x.last_success)} className={x.last_success && x.last_success === x.last_pull ? "ok" : "muted"}>{x.last_success ? f.short(x.last_success) : t("common.never")}</div>
      </td>
      <td className="num">{f.num(x.indicators)}</td>
      <td className="num nowrap small">
        <span className="ok" title={t("intel.added")}>+{f.num(x.added)}</span>{" / "}
        <span title={t("intel.updated")}>~{f.num(x.updated)}</span>{" / "}
        <span title={t("intel.removed")}>−{f.num(x.removed)}</span>{" / "}
        <span className={x.rejected ? "err" : ""} title={t("intel.rejected")}>✕{f.num(x.rejected)}</span>
      </td>
      <td className="small feed-error">{x.last_error ? <span className="err" role="note" data-testid="feed-error">{x.last_error}</span> : <span className="ok">{t("intel.ok")}</span>}</td>
      <td className="small nowrap" title={f.date(x.next_pull)}>{pulling ? <span className="muted">{t("intel.pulling")}</span> : x.next_pull ? f.short(x.next_pull) : "—"}</td>
      <td className="nowrap"><div className="row nowrap-row">
        {writable && (
          <button className="btn btn-sm" disabled={pulling} onClick={onPull} data-testid="feed-pull">
            <Download size={14} aria-hidden /> {pulling ? t("intel.pulling") : t("intel.pullNow")}
          </button>
        )}
        {admin && <button className="icon-btn" aria-label={`${t("common.delete")} ${x.name}`} title={t("common.delete")} onClick={onDelete} data-testid="feed-delete"><Trash2 size={14} aria-hidden /></button>}
      </div></td>
    </tr>
  );
}

function AddFeed({ say, onDone }: { say: Say; onDone: () => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const blank: { name: string; kind: FeedKind; url: string; format: string; minutes: string; auth: string } = { name: "", kind: "url", url: "", format: "", minutes: "60", auth: "" };
  const [form, setForm] = useState(blank);
  const [bad, setBad] = useState<string | null>(null);
  const m = useMutation({
    mutationFn: () =>
      api<Res<"/intel/feeds", "post">>("/intel/feeds", {
        body: {
          name: form.name.trim(), kind: form.kind, url: form.url.trim(), interval_secs: Math.round(Number(form.minutes) * 60),
          ...(form.format ? { format: form.format } : {}), ...(form.auth ? { auth: { header: { value: form.auth } } } : {}),
        } satisfies Req<"/intel/feeds">,
      }),
    onSuccess: (fs) => {
      say(t("intel.feedAdded", { name: fs?.name ?? form.name }));
      setForm(blank);
      setBad(null);
      void qc.invalidateQueries({ queryKey: ["intel"] });
      onDone();
    },
    onError: (e) => {
      setBad(e instanceof ApiError ? e.field ?? null : null);
      say((e as Error).message, "err");
    },
  });
  const inv = (k: string) => (bad === k || (k === "interval_secs" && bad === "interval") ? { "aria-invalid": true as const } : {});
  return (
    <form className="form-row add-feed" data-testid="feed-form" onSubmit={(e) => { e.preventDefault(); m.mutate(); }}>
      <label>{t("intel.feedName")}<input required value={form.name} {...inv("name")} onChange={(e) => setForm({ ...form, name: e.target.value })} placeholder="abuse-feodo" /></label>
      <label>{t("intel.kind")}
        <select value={form.kind} onChange={(e) => setForm({ ...form, kind: FEED_KINDS.find((k) => k === e.target.value) ?? form.kind })} {...inv("kind")}>
          {FEED_KINDS.map((k) => <option key={k} value={k}>{t(`intel.kinds.${k}`)}</option>)}
        </select>
      </label>
      <label className="wide">{t("intel.url")}<input required type="url" className="mono" value={form.url} {...inv("url")} onChange={(e) => setForm({ ...form, url: e.target.value })} placeholder="https://feodotracker.abuse.ch/downloads/ipblocklist.csv" /></label>
      <label>{t("intel.format")}
        <select value={form.format} onChange={(e) => setForm({ ...form, format: e.target.value })} {...inv("format")}>
          <option value="">{t("intel.formatAuto")}</option>
          {FORMATS.map((x) => <option key={x} value={x}>{t(`intel.formats.${x}`)}</option>)}
        </select>
      </label>
      <label>{t("intel.intervalMin")}<input required type="number" min={1} step={1} value={form.minutes} {...inv("interval_secs")} onChange={(e) => setForm({ ...form, minutes: e.target.value })} /></label>
      <label title={t("intel.authHint")}>{t("intel.auth")}<input type="password" autoComplete="off" value={form.auth} {...inv("auth")} onChange={(e) => setForm({ ...form, auth: e.target.value })} /></label>
      <button className="btn btn-primary" type="submit" disabled={m.isPending}><Plus size={16} aria-hidden /> {t("common.create")}</button>
    </form>
  );
}

function TopAndSources({ status, onPick }: { status?: Status; onPick: (k: "q" | "source", v: string) => void }) {
  const { t } = useTranslation();
  const f = useFormat();
  const top = useQuery({ queryKey: ["intel", "top"], queryFn: () => api<Res<"/intel/hits/top">>("/intel/hits/top", { query: { limit: 10 } }), retry: false });
  const sources = [...(status?.sources ?? [])].sort((a, b) => b.indicators - a.indicators);
  return (
    <div className="grid g-2">
      <Panel title={t("intel.topHits")}>
        {top.isLoading ? <Loading /> : top.error ? (
          missing(top.error) ? <Empty text={t("intel.topUnavailable")} /> : <ErrorBox error={top.error} onRetry={() => top.refetch()} />
        ) : !top.data?.items.length ? <Empty text={t("intel.noTopHits")} /> : (
          <table className="table compact" data-testid="top-hits">
            <thead><tr><th>{t("intel.value")}</th><th>{t("intel.type")}</th><th>{t("intel.source")}</th><th className="num">{t("intel.hits")}</th><th>{t("intel.lastHit")}</th></tr></thead>
            <tbody>
              {top.data.items.map((x) => (
                <tr key={`${x.source}\u0000${x.indicator}`}>
                  <td className="mono small ind-value"><button className="linklike" onClick={() => onPick("q", x.indicator)}>{x.indicator}</button></td>
                  <td className="small nowrap">{x.type ? typeLabel(t, x.type) : "—"}</td>
                  <td className="small">{x.source}</td>
                  <td className="num">{f.num(x.hits)}</td>
                  <td className="small nowrap muted">{f.date(x.last_hit)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      <Panel title={t("intel.sources")}>
        {!status ? <Loading /> : !sources.length ? <Empty text={t("intel.noSources")} /> : (
          <table className="table compact" data-testid="intel-sources">
            <thead><tr><th>{t("intel.source")}</th><th className="num">{t("intel.indicators")}</th><th>{t("intel.sourceUpdated")}</th><th>{t("intel.format")}</th></tr></thead>
            <tbody>
              {sources.map((s) => (
                <tr key={s.name}>
                  <td><button className="linklike" onClick={() => onPick("source", s.name)}>{s.name}</button></td>
                  <td className="num">{f.num(s.indicators)}</td>
                  <td className="small nowrap muted">{f.date(s.updated)}</td>
                  <td className="small">{s.format ? t(`intel.formats.${s.format}`, { defaultValue: s.format }) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
    </div>
  );
}
