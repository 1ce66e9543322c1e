import { useEffect, useMemo, useRef, useState } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";
import { CheckCheck, X } from "lucide-react";
import { ALERT_STATUSES, api, LEVELS, type Query, type Req, type Res } from "../api";
import { useAuth } from "../auth";
import { Empty, ErrorBox, RuleTitle, LevelBadge, Loading, Pager, StatusBadge, useDebounced } from "../components/common";
import { TimeBasis, useAlertTime } from "../components/TimeBasis";
import { TimePicker } from "../components/TimePicker";
import { useFormat } from "../i18n";
import { CreateIncident } from "../components/CreateIncident";
import { useRange } from "../live";

const LIMIT = 50;
const FILTER_KEYS = ["status", "level", "kind", "rule_id", "host", "source_ip", "user", "ip", "q", "sort", "by"] as const;
/** What can raise an alert (the list's "type" filter). */
const KINDS = ["sigma", "correlation", "intel", "search", "anomaly", "pii"] as const;

export default function Alerts() {
  const { t } = useTranslation();
  const f = useFormat();
  const nav = useNavigate();
  const qc = useQueryClient();
  const { can } = useAuth();
  const [params, setParams] = useSearchParams();
  const [range, setRange] = useRange();
  const [time] = useAlertTime();
  const get = (k: string, d = "") => params.get(k) ?? d;
  const status = get("status", "open");
  const sort = get("sort", "-time");
  const by = get("by", "");
  const offset = Number(get("offset", "0")) || 0;
  const [text, setText] = useState(get("q"));
  const q = useDebounced(text, 300);
  const [cursor, setCursor] = useState(0);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const tableRef = useRef<HTMLTableElement>(null);

  const set = (k: string, v: string) =>
    setParams((p) => {
      const n = new URLSearchParams(p);
      if (v) n.set(k, v);
      else n.delete(k);
      if (k !== "offset") n.delete("offset");
      return n;
    });

  useEffect(() => {
    if (q !== get("q")) set("q", q);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q]);

  const filter = {
    status: status === "all" ? "" : status,
    level: get("level"),
    kind: (get("kind") || undefined) as Query<"/alerts">["kind"],
    rule_id: get("rule_id"),
    host: get("host"),
    source_ip: get("source_ip"),
    user: get("user"),
    ip: get("ip"),
    q: get("q"),
    from: range.from,
    to: range.to,
    time,
  };
  const list = useQuery({
    queryKey: ["alerts", "list", filter, sort, offset],
    // limit/offset are sent only when they differ from the defaults (50, 0):
    // the server cannot yet parse numbers in this query (see the report).
    queryFn: ({ signal }) => api<Res<"/alerts">>("/alerts", { query: { ...filter, sort, offset: offset || undefined } satisfies Query<"/alerts">, signal }),
    placeholderData: keepPreviousData,
    enabled: !by,
  });
  const groups = useQuery({
    queryKey: ["alerts", "groups", by, filter],
    queryFn: ({ signal }) => api<Res<"/alerts/groups">>("/alerts/groups", { query: { ...filter, by } satisfies Query<"/alerts/groups">, signal }),
    enabled: !!by,
    placeholderData: keepPreviousData,
  });

  const bulk = useMutation({
    mutationFn: async (action: "ack" | "tp" | "fp") => {
      for (const id of selected) {
        if (action === "ack") await api(`/alerts/${encodeURIComponent(id)}/ack`, { method: "POST" });
        else await api(`/alerts/${encodeURIComponent(id)}/close`, { body: { resolution: action === "tp" ? "true_positive" : "false_positive" } satisfies Req<"/alerts/{id}/close"> });
      }
    },
    onSettled: () => {
      setSelected(new Set());
      void qc.invalidateQueries({ queryKey: ["alerts"] });
      void qc.invalidateQueries({ queryKey: ["overview"] });
    },
  });
  const ack = useMutation({
    mutationFn: (id: string) => api(`/alerts/${encodeURIComponent(id)}/ack`, { method: "POST" }),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["alerts"] }),
  });

  // One array per answer, so the key handler below is not re-bound on every render.
  const items = useMemo(() => list.data?.items ?? [], [list.data]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const tag = (e.target as HTMLElement)?.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || by) return;
      if (e.key === "j") setCursor((c) => Math.min(items.length - 1, c + 1));
      else if (e.key === "k") setCursor((c) => Math.max(0, c - 1));
      else if (e.key === "Enter" && items[cursor] && tag !== "BUTTON" && tag !== "A") nav(`/alerts/${encodeURIComponent(items[cursor].id)}`);
      else if (e.key === "a" && items[cursor] && can("alerts:write")) ack.mutate(items[cursor].id);
      else return;
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [items, cursor, nav, by, can, ack]);
  useEffect(() => {
    tableRef.current?.querySelector(`tr[data-idx="${cursor}"]`)?.scrollIntoView({ block: "nearest" });
  }, [cursor]);

  const chips = (["rule_id", "host", "source_ip", "user", "ip"] as const).filter((k) => get(k));
  const chipLabel = { rule_id: t("alerts.rule"), host: t("alerts.host"), source_ip: t("alerts.source"), user: t("pivots.role.user"), ip: t("pivots.ip") };

  return (
    <div className="alerts-page">
      <div className="page-head">
        <h1>{t("alerts.title")}</h1>
        <div className="grow" />
        <TimePicker value={range} onChange={setRange} />
      </div>
      <div className="toolbar">
        <input className="grow-input" placeholder={t("alerts.textFilter")} aria-label={t("alerts.textFilter")} value={text} onChange={(e) => setText(e.target.value)} data-testid="alert-filter" />
        <label className="field-inline">
          {t("alerts.status")}
          <select value={status} onChange={(e) => set("status", e.target.value)} data-testid="status-filter">
            <option value="open">{t("status.new")} + {t("status.acknowledged")}</option>
            {ALERT_STATUSES.map((x) => <option key={x} value={x}>{t(`status.${x}`)}</option>)}
            <option value="all">{t("common.all")}</option>
          </select>
        </label>
        <label className="field-inline">
          {t("alerts.minLevel")}
          <select value={get("level")} onChange={(e) => set("level", e.target.value)}>
            <option value="">{t("common.all")}</option>
            {LEVELS.slice(1).map((l) => <option key={l} value={l}>{t(`level.${l}`)}</option>)}
          </select>
        </label>
        <label className="field-inline">
          {t("common.type")}
          <select value={get("kind")} data-testid="kind-filter" onChange={(e) => set("kind", e.target.value)}>
            <option value="">{t("common.all")}</option>
            {KINDS.map((k) => <option key={k} value={k}>{t(`alerts.kind.${k}`)}</option>)}
          </select>
        </label>
        <label className="field-inline">
          {t("alerts.groupBy")}
          <select value={by} onChange={(e) => set("by", e.target.value)} data-testid="group-by">
            <option value="">{t("alerts.group.none")}</option>
            <option value="rule">{t("alerts.group.rule")}</option>
            <option value="host">{t("alerts.group.host")}</option>
            <option value="source">{t("alerts.group.source")}</option>
          </select>
        </label>
        <TimeBasis />
        {!by && (
          <select value={sort} onChange={(e) => set("sort", e.target.value)} aria-label="sort">
            <option value="-time">{t("alerts.sortNewest")}</option>
            <option value="time">{t("alerts.sortOldest")}</option>
            <option value="-level">{t("alerts.sortLevel")}</option>
          </select>
        )}
      </div>
      {chips.length > 0 && (
        <div className="chips">
          {chips.map((k) => (
            <button key={k} className="chip" onClick={() => set(k, "")} aria-label={`${k} ×`}>
              {chipLabel[k]}: <b className="mono" data-testid={`chip-${k}`}>{get(k)}</b> <X size={12} aria-hidden />
            </button>
          ))}
        </div>
      )}
      {selected.size > 0 && can("alerts:write") && (
        <div className="bulkbar">
          <span>{t("common.total", { count: selected.size })}</span>
          <button className="btn btn-sm" onClick={() => bulk.mutate("ack")}><CheckCheck size={14} aria-hidden /> {t("alerts.ack")}</button>
          <button className="btn btn-sm btn-danger" onClick={() => bulk.mutate("tp")}>{t("alerts.closeTp")}</button>
          <button className="btn btn-sm" onClick={() => bulk.mutate("fp")}>{t("alerts.closeFp")}</button>
          <CreateIncident small alerts={[...selected]} label={t("incidents.createFrom", { count: selected.size })} />
        </div>
      )}

      {by ? (
        groups.isLoading ? <Loading /> : groups.error ? <ErrorBox error={groups.error} /> : !groups.data?.items.length ? <Empty text={t("alerts.empty")} /> : (
          <table className="table" data-testid="alert-groups">
            <thead><tr><th>{t(`alerts.group.${by}`)}</th><th>{t("alerts.level")}</th><th className="num">{t("alerts.count")}</th><th>{t("alerts.last")}</th></tr></thead>
            <tbody>
              {groups.data.items.map((g) => (
                <tr key={g.key} className="clickable" onClick={() => setParams((p) => {
                  const n = new URLSearchParams(p);
                  n.delete("by");
                  n.set(by === "rule" ? "rule_id" : by === "host" ? "host" : "source_ip", g.key);
                  return n;
                })}>
                  <td><button className="linklike">{g.label || g.key}</button></td>
                  <td><LevelBadge level={g.max_level} /></td>
                  <td className="num">{f.num(g.count)}</td>
                  <td className="muted">{f.date(g.last)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : list.isLoading ? <Loading /> : list.error ? <ErrorBox error={list.error} onRetry={() => list.refetch()} /> : !items.length ? <Empty text={t("alerts.empty")} /> : (
        <>
          <table className="table alerts-table" ref={tableRef} data-testid="alert-table">
            <thead>
              <tr>
                <th style={{ width: 30 }}>
                  <input type="checkbox" aria-label={t("common.all")} checked={items.length > 0 && items.every((a) => selected.has(a.id))}
                    onChange={(e) => setSelected(e.target.checked ? new Set(items.map((a) => a.id)) : new Set())} />
                </th>
                <th style={{ width: 84 }}>{t("alerts.level")}</th>
                <th>{t("alerts.rule")}</th>
                <th>{t("alerts.host")}</th>
                <th>{t("alerts.source")}</th>
                <th style={{ width: 170 }}>{time === "event" ? t("alerts.eventTime") : t("alerts.detectedTime")}</th>
                <th>{t("alerts.status")}</th>
                <th>{t("alerts.assignee")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a, i) => (
                <tr key={a.id} data-idx={i} data-testid="alert-row" className={`clickable ${i === cursor ? "cursor" : ""} lvl-row-${a.level}`}
                  onClick={() => nav(`/alerts/${encodeURIComponent(a.id)}`)}>
                  <td onClick={(e) => e.stopPropagation()}>
                    <input type="checkbox" aria-label={a.rule_title} checked={selected.has(a.id)} onChange={(e) => setSelected((s) => { const n = new Set(s); if (e.target.checked) n.add(a.id); else n.delete(a.id); return n; })} />
                  </td>
                  <td><LevelBadge level={a.level} /></td>
                  <td><Link to={`/alerts/${encodeURIComponent(a.id)}`} onClick={(e) => e.stopPropagation()} className="alert-title"><RuleTitle title={a.rule_title} zh={a.rule_title_zh} /></Link>
                    {a.retrospective && <span className="tag small">{t("alerts.retrospective")}</span>}</td>
                  <td className="mono small nowrap">{a.host ?? "—"}</td>
                  <td className="mono small">{a.source_ip ?? "—"}</td>
                  {/* The time the view selects by first; the other on hover. */}
                  <td className="small nowrap" data-testid="alert-time" title={`${time === "event" ? t("alerts.detectedTime") : t("alerts.eventTime")}: ${f.date(time === "event" ? a.created : a["@timestamp"])}`}>
                    {f.date(time === "event" ? a["@timestamp"] : a.created)}
                  </td>
                  <td><StatusBadge status={a.status} resolution={a.resolution} /></td>
                  <td className="small">{a.assignee ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="row">
            <span className="muted small">{t("alerts.keyboard")}</span>
            <div className="grow" />
            <Pager total={list.data?.total ?? 0} limit={LIMIT} offset={offset} onChange={(o) => set("offset", String(o))} />
          </div>
        </>
      )}
    </div>
  );
}

export { FILTER_KEYS };
