// What an analyst does from one alert (issue 13, item 13): pivot on its
// hosts, users, addresses and hashes; read its process tree and its intel
// context; hand it to a colleague; close it as a false positive with a
// rule exception. The alert page places these panels.
import { useState, type ReactNode } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { Bell, CornerDownRight, Search as SearchIcon, ShieldCheck, Trash2 } from "lucide-react";
import { api, asObject, quoteValue, str, num, type Query, type Req, type Res } from "../api";
import { useAuth } from "../auth";
import { Empty, ErrorBox, Loading, Panel, fmtValue } from "./common";
import { useFormat } from "../i18n";

type Detail = Res<"/alerts/{id}">;
type Pivot = Detail["pivots"][number];
type Node = Res<"/alerts/{id}/process-tree">["ancestors"][number];
export type RuleException = Res<"/alerts/exceptions">["items"][number];

const HOUR = 3600_000;

/** The search page over `query`, an hour either side of `ts` (ms). */
export function searchAround(query: string, ts: number) {
  const iso = (n: number) => encodeURIComponent(new Date(n).toISOString());
  return `/search?q=${encodeURIComponent(query)}&from=${iso(ts - HOUR)}&to=${iso(ts + HOUR)}`;
}

/** The query a pivot searches: the field's value, or for Sysmon's
 * `Hashes` list (`SHA256=…,MD5=…`) the hash anywhere in it. */
function pivotQuery(p: Pivot) {
  return p.field === "Hashes" ? `Hashes:*${p.value.replace(/[*?"\\\s]/g, "")}*` : `${p.field}:${quoteValue(p.value)}`;
}

export function PivotsPanel({ alert }: { alert: Detail }) {
  const { t } = useTranslation();
  const ts = new Date(alert["@timestamp"]).getTime();
  if (!alert.pivots.length) return null;
  return (
    <Panel title={t("pivots.title")}>
      <table className="kv-table pivots" data-testid="pivots">
        <tbody>
          {alert.pivots.map((p) => (
            <tr key={`${p.role}:${p.field}:${p.value}`} data-testid={`pivot-${p.role}`}>
              <td className="k">{t(`pivots.role.${p.role}`)}<div className="muted small mono">{p.field}</div></td>
              <td className="mono v">{p.value}</td>
              <td className="pivot-links">
                <Link className="btn btn-sm" to={searchAround(pivotQuery(p), ts)} data-testid="pivot-search">
                  <SearchIcon size={14} aria-hidden /> {t("pivots.searchEvents")}
                </Link>
                {p.alert_filter && (
                  <Link className="btn btn-sm" to={`/alerts?status=all&${p.alert_filter}=${encodeURIComponent(p.value)}`} data-testid="pivot-alerts">
                    <Bell size={14} aria-hidden /> {t(`pivots.otherAlerts.${p.role}`)}
                  </Link>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}

function ProcessRow({ n, depth, mark, missing }: { n: Node; depth: number; mark?: boolean; missing?: boolean }) {
  const { t } = useTranslation();
  const f = useFormat();
  const [open, setOpen] = useState(false);
  const image = n.image ?? "?";
  const name = image.split(/[\\/]/).pop() ?? image;
  const cmd = n.command_line ?? "";
  const long = cmd.length > 90;
  return (
    <li className={`proc${mark ? " proc-alert" : ""}${missing ? " proc-missing" : ""}`} style={{ paddingLeft: `${depth * 1.25}rem` }} data-testid={mark ? "proc-alert" : "proc"}>
      {depth > 0 && <CornerDownRight size={12} aria-hidden className="muted" />}
      <b className="mono" title={image}>{name}</b>
      {n.pid && <span className="muted small mono"> pid {n.pid}</span>}
      {n.time && <span className="muted small"> · {f.date(n.time)}</span>}
      {missing && <span className="muted small"> · {t("pivots.parentMissing")}</span>}
      {cmd && (
        <div className="mono small proc-cmd" title={cmd}>
          {long && !open ? `${cmd.slice(0, 90)}…` : cmd}
          {long && <button className="btn-link small" aria-expanded={open} onClick={() => setOpen(!open)}>{open ? t("pivots.less") : t("pivots.more")}</button>}
        </div>
      )}
    </li>
  );
}

export function ProcessTreePanel({ id }: { id: string }) {
  const { t } = useTranslation();
  const q = useQuery({
    queryKey: ["alerts", "process-tree", id],
    queryFn: () => api<Res<"/alerts/{id}/process-tree">>(`/alerts/${encodeURIComponent(id)}/process-tree`),
  });
  if (q.isLoading) return <Panel title={t("pivots.tree")}><Loading inline /></Panel>;
  if (q.error) return <Panel title={t("pivots.tree")}><ErrorBox error={q.error} /></Panel>;
  const tr = q.data;
  if (!tr?.source || !tr.process) return null;
  // Oldest ancestor first, then down to the alert's process and its children.
  const chain = [...tr.ancestors].reverse();
  const top = tr.missing_parent ? 1 : 0;
  return (
    <Panel title={`${t("pivots.tree")} · ${t(`pivots.source.${tr.source}`)}`}>
      <ul className="proc-tree" data-testid="process-tree">
        {tr.missing_parent && <ProcessRow n={tr.missing_parent} depth={0} missing />}
        {chain.map((n, i) => <ProcessRow key={`a${n.seq ?? i}`} n={n} depth={top + i} />)}
        <ProcessRow n={tr.process} depth={top + chain.length} mark />
        {tr.children.map((n, i) => <ProcessRow key={`c${n.seq ?? i}`} n={n} depth={top + chain.length + 1} />)}
      </ul>
      {tr.more_children && <div className="muted small pad">{t("pivots.moreChildren")}</div>}
    </Panel>
  );
}

/** An intel alert's indicator and its context, from the event's
 * `threat.indicator` (what the matcher found) and the alert's summary. */
export function IntelPanel({ alert }: { alert: Detail }) {
  const { t } = useTranslation();
  const f = useFormat();
  const ti = asObject(asObject(alert.event)["threat.indicator"]);
  const sum = asObject(alert.summary);
  const indicator = str(ti.indicator) ?? str(sum.indicator);
  if (alert.kind !== "intel" || !indicator) return null;
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  const type = str(ti.type) ?? str(sum["indicator.type"]) ?? "";
  const source = str(ti.source) ?? str(sum["intel.source"]);
  const confidence = num(ti.confidence) ?? num(sum.confidence);
  const tags = [...list(ti.labels), ...list(ti.malware)];
  const when = (v: unknown) => (str(v) ? f.date(str(v)!) : "—");
  const rows: [string, ReactNode][] = [
    [t("pivots.intel.indicator"), <span className="mono">{indicator}</span>],
    [t("intel.type"), t(`intel.types.${type}`, { defaultValue: type })],
    [t("intel.source"), source ?? "—"],
    [t("intel.name"), str(ti.name) ?? "—"],
    [t("intel.confidence"), confidence == null ? "—" : `${confidence}`],
    [t("intel.tlp"), str(ti.tlp) ?? "—"],
    [t("intel.labels"), tags.length ? <span className="tags">{tags.map((x) => <span key={x} className="tag">{x}</span>)}</span> : "—"],
    [t("intel.firstSeen"), when(ti.first_seen)],
    [t("intel.lastSeen"), when(ti.last_seen)],
    [t("intel.validUntil"), when(ti.valid_until)],
    [t("pivots.intel.field"), <span className="mono">{str(ti.field) ?? str(sum.field) ?? "—"} = {str(ti.matched) ?? str(sum.matched) ?? ""}</span>],
  ];
  return (
    <Panel title={t("pivots.intel.title")} actions={<Link className="btn btn-sm" to={`/intel?q=${encodeURIComponent(indicator)}`}>{t("pivots.intel.open")}</Link>}>
      <table className="kv-table" data-testid="intel-panel">
        <tbody>
          {rows.map(([k, v]) => <tr key={k}><td className="k">{k}</td><td className="v">{v}</td></tr>)}
        </tbody>
      </table>
      {str(ti.description) && <p className="pad">{str(ti.description)}</p>}
    </Panel>
  );
}

/** "Assign to": the users who can work this alert, and unassign. */
export function AssignPicker({ alert, onDone }: { alert: Detail; onDone: () => void }) {
  const { t } = useTranslation();
  const enc = encodeURIComponent(alert.id);
  const who = useQuery({
    queryKey: ["alerts", "assignees", alert.id],
    queryFn: () => api<Res<"/alerts/assignees">>("/alerts/assignees", { query: { alert_id: alert.id } satisfies Query<"/alerts/assignees"> }),
  });
  const assign = useMutation({
    mutationFn: (assignee: string | null) => api(`/alerts/${enc}/assign`, { method: "POST", body: { assignee } satisfies Req<"/alerts/{id}/assign"> }),
    onSuccess: onDone,
  });
  return (
    <div className="assign-picker row">
      <label className="small" htmlFor="assign-to">{t("pivots.assignTo")}</label>
      <select id="assign-to" data-testid="assign-to" value={alert.assignee ?? ""} disabled={assign.isPending || who.isLoading}
        onChange={(e) => assign.mutate(e.target.value || null)}>
        <option value="">{t("pivots.nobody")}</option>
        {alert.assignee && !who.data?.items.some((u) => u.username === alert.assignee) && <option value={alert.assignee}>{alert.assignee}</option>}
        {who.data?.items.map((u) => <option key={u.username} value={u.username}>{u.username}{u.org !== "root" ? ` (${u.org})` : ""}</option>)}
      </select>
      {alert.assignee && (
        <button className="btn btn-sm" data-testid="unassign" onClick={() => assign.mutate(null)} disabled={assign.isPending}>{t("alerts.unassign")}</button>
      )}
      {(assign.error || who.error) && <ErrorBox error={assign.error ?? who.error} />}
    </div>
  );
}

const MAX_FIELDS = 10;
/** RFC 3339 of `days` from now (called when the form is sent). */
const inDays = (days: number) => new Date(Date.now() + days * 86400_000).toISOString();

/** The false-positive close with an optional rule exception, prefilled
 * with the alert's entity fields. */
export function CloseFalsePositive({ alert, note, onDone }: { alert: Detail; note: string; onDone: () => void }) {
  const { t } = useTranslation();
  const ev = asObject(alert.event);
  // Scalar fields only: an exception compares whole values.
  const fields = Object.keys(ev).filter((k) => k !== "@timestamp" && ["string", "number", "boolean"].includes(typeof ev[k])).sort();
  const entity = new Set(alert.pivots.filter((p) => p.role !== "hash" && fields.includes(p.field)).map((p) => p.field));
  const [on, setOn] = useState(false);
  const [picked, setPicked] = useState<Set<string>>(entity);
  const [days, setDays] = useState(90);
  const [scope, setScope] = useState<"org" | "subtree">("org");
  const close = useMutation({
    mutationFn: () => {
      const exception = on
        ? {
            fields: [...picked].map((field) => ({ field, value: fmtValue(ev[field]) })),
            scope,
            ...(days > 0 ? { expires: inDays(days) } : { no_expiry: true }),
          }
        : undefined;
      return api(`/alerts/${encodeURIComponent(alert.id)}/close`, {
        method: "POST",
        body: { resolution: "false_positive", comment: note || undefined, exception } satisfies Req<"/alerts/{id}/close">,
      });
    },
    onSuccess: onDone,
  });
  const toggle = (k: string) => setPicked((s) => { const n = new Set(s); if (n.has(k)) n.delete(k); else n.add(k); return n; });
  return (
    <div className="close-fp">
      <label className="row small">
        <input type="checkbox" checked={on} onChange={(e) => setOn(e.target.checked)} data-testid="add-exception" /> {t("pivots.addException")}
      </label>
      {on && (
        <fieldset className="exception-form" data-testid="exception-form">
          <legend className="small">{t("pivots.exceptionFields", { max: MAX_FIELDS })}</legend>
          <ul className="exception-fields">
            {fields.map((k) => (
              <li key={k}>
                <label className="small">
                  <input type="checkbox" checked={picked.has(k)} onChange={() => toggle(k)} disabled={!picked.has(k) && picked.size >= MAX_FIELDS} data-testid={`exc-field-${k}`} />{" "}
                  <span className="mono">{k}</span> = <span className="mono muted">{fmtValue(ev[k]).slice(0, 80)}</span>
                </label>
              </li>
            ))}
          </ul>
          <div className="row small">
            <label>{t("pivots.expiry")}{" "}
              <select value={days} onChange={(e) => setDays(Number(e.target.value))} data-testid="exc-expiry">
                {[7, 30, 90, 365, 0].map((d) => <option key={d} value={d}>{d ? t("pivots.days", { count: d }) : t("pivots.never")}</option>)}
              </select>
            </label>
            <label>{t("pivots.scope")}{" "}
              <select value={scope} onChange={(e) => setScope(e.target.value as "org" | "subtree")} data-testid="exc-scope">
                <option value="org">{t("pivots.scopeOrg")}</option>
                <option value="subtree">{t("pivots.scopeSubtree")}</option>
              </select>
            </label>
          </div>
        </fieldset>
      )}
      <button className="btn" data-testid="close-fp" disabled={close.isPending || (on && picked.size === 0)} onClick={() => close.mutate()}>
        <ShieldCheck size={16} aria-hidden /> {on ? t("pivots.closeFpWithException") : t("alerts.closeFp")}
      </button>
      {close.error && <ErrorBox error={close.error} />}
    </div>
  );
}

/** A rule's exceptions, with delete (the rule page). */
export function RuleExceptions({ ruleId }: { ruleId: string }) {
  const { t } = useTranslation();
  const f = useFormat();
  const qc = useQueryClient();
  const { can } = useAuth();
  const q = useQuery({
    queryKey: ["exceptions", ruleId],
    queryFn: () => api<Res<"/alerts/exceptions">>("/alerts/exceptions", { query: { rule_id: ruleId } satisfies Query<"/alerts/exceptions"> }),
    enabled: can("alerts:read"),
  });
  const del = useMutation({
    mutationFn: (id: string) => api(`/alerts/exceptions/${encodeURIComponent(id)}`, { method: "DELETE" }),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["exceptions"] }),
  });
  if (!can("alerts:read")) return null;
  return (
    <Panel title={t("pivots.exceptions")}>
      {q.isLoading ? <Loading inline /> : q.error ? <ErrorBox error={q.error} /> : !q.data?.items.length ? <Empty text={t("pivots.noExceptions")} /> : (
        <table className="table" data-testid="rule-exceptions">
          <thead>
            <tr><th>{t("pivots.conditions")}</th><th>{t("pivots.scope")}</th><th>{t("pivots.expiry")}</th><th>{t("pivots.author")}</th><th>{t("rules.hits")}</th><th /></tr>
          </thead>
          <tbody>
            {q.data.items.map((x) => (
              <tr key={x.id} className={x.expired ? "muted" : ""}>
                <td className="mono small">{x.conditions.map((c) => `${c.field} = ${c.value}`).join(" ∧ ")}{x.comment && <div className="muted">{x.comment}</div>}</td>
                <td>{x.scope === "subtree" ? t("pivots.scopeSubtree") : t("pivots.scopeOrg")} <span className="muted small">{x.org}</span></td>
                <td>{x.expires ? f.date(x.expires) : t("pivots.never")}{x.expired && <span className="tag"> {t("pivots.expired")}</span>}</td>
                <td>{x.author}<div className="muted small">{f.date(x.created)}</div>{x.alert_id && <Link className="small" to={`/alerts/${encodeURIComponent(x.alert_id)}`}>{t("pivots.fromAlert")}</Link>}</td>
                <td>{f.num(x.hits)}{x.last_hit && <div className="muted small">{f.date(x.last_hit)}</div>}</td>
                <td>{can("alerts:write") && (
                  <button className="btn btn-sm" aria-label={t("pivots.deleteException")} title={t("pivots.deleteException")} onClick={() => { if (confirm(t("pivots.deleteConfirm"))) del.mutate(x.id); }}>
                    <Trash2 size={14} aria-hidden />
                  </button>
                )}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {del.error && <ErrorBox error={del.error} />}
    </Panel>
  );
}
