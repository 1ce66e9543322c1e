import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { ArrowLeft, Check, RotateCcw, Search as SearchIcon, ShieldAlert, UserPlus } from "lucide-react";
import { api, asObject, attackPath, attackTags, quoteValue, type Query, type Req, type Res } from "../api";
import { useAuth } from "../auth";
import { Empty, ErrorBox, RuleTitle, LevelBadge, Loading, Panel, StatusBadge, fmtValue } from "../components/common";
import { useFormat } from "../i18n";
import { CreateIncident } from "../components/CreateIncident";
import { EventRow } from "./Search";
import { AssignPicker, CloseFalsePositive, IntelPanel, PivotsPanel, ProcessTreePanel, searchAround } from "../components/AlertPivots";

/** One feature of an anomaly finding, as taishi-anomaly writes it into the alert's context. */
type Feature = { id: string; value: number; score: number; fired: boolean; text: { zh: string; en: string } };

/** An anomaly alert's "why": every feature with its value, its part of the score and whether it fired. */
function AnomalyWhy({ context }: { context: unknown }) {
  const { t, i18n } = useTranslation();
  const f = useFormat();
  const c = asObject(context);
  const features = (Array.isArray(c.features) ? c.features : []) as Feature[];
  const title = asObject(c.title) as { zh?: string; en?: string };
  const zh = i18n.language.startsWith("zh");
  const num = (v: number) => (Number.isInteger(v) ? f.num(v) : v.toFixed(3));
  return (
    <Panel title={t("alerts.anomaly.why")}>
      <div className="row" data-testid="anomaly-score">
        <strong>{zh ? title.zh : title.en}</strong>
        <span className="muted">{t("alerts.anomaly.entity")}: <span className="mono">{String(c.entity ?? "—")}</span></span>
        <span className="muted">{t("alerts.anomaly.score")}: <strong className="mono">{typeof c.score === "number" ? c.score.toFixed(3) : "—"}</strong></span>
      </div>
      <table className="table" data-testid="anomaly-features">
        <thead>
          <tr><th>{t("alerts.anomaly.feature")}</th><th>{t("alerts.anomaly.value")}</th><th>{t("alerts.anomaly.subScore")}</th><th>{t("alerts.anomaly.fired")}</th></tr>
        </thead>
        <tbody>
          {features.map((x) => (
            <tr key={x.id} className={x.fired ? "fired" : undefined}>
              <td title={x.id}>{zh ? x.text.zh : x.text.en}</td>
              <td className="mono">{num(x.value)}</td>
              <td className="mono">{x.score.toFixed(2)}</td>
              <td>{x.fired ? t("alerts.anomaly.yes") : t("alerts.anomaly.no")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Panel>
  );
}

export default function AlertPage() {
  const { id = "" } = useParams();
  const { t } = useTranslation();
  const f = useFormat();
  const qc = useQueryClient();
  const { user, can } = useAuth();
  const [comment, setComment] = useState("");
  const [closeNote, setCloseNote] = useState("");
  const [showYaml, setShowYaml] = useState(false);
  const [open, setOpen] = useState<Set<number>>(new Set());
  const enc = encodeURIComponent(id);

  const q = useQuery({ queryKey: ["alerts", "one", id], queryFn: () => api<Res<"/alerts/{id}">>(`/alerts/${enc}`) });
  // The incident this alert is in, if any (incidents:read only).
  const inc = useQuery({
    queryKey: ["incidents", "of-alert", id],
    enabled: can("incidents:read"),
    queryFn: () => api<Res<"/incidents">>("/incidents", { query: { alert: id, limit: 1 } satisfies Query<"/incidents"> }),
  });
  const rel = useQuery({
    queryKey: ["alerts", "related", id],
    queryFn: () => api<Res<"/alerts/{id}/related">>(`/alerts/${enc}/related`, { query: { before: 10, after: 10 } satisfies Query<"/alerts/{id}/related"> }),
  });

  const act = useMutation({
    mutationFn: (a: { path: string; body?: unknown }) => api(`/alerts/${enc}/${a.path}`, { method: "POST", body: a.body }),
    onSuccess: () => {
      setComment("");
      setCloseNote("");
      void qc.invalidateQueries({ queryKey: ["alerts"] });
      void qc.invalidateQueries({ queryKey: ["overview"] });
    },
  });

  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorBox error={q.error} onRetry={() => q.refetch()} />;
  const a = q.data!;
  const { tactics, techniques } = attackTags(a.tags?.length ? a.tags : a.rule?.tags ?? []);
  const writable = can("alerts:write");
  const toggle = (s: number) => setOpen((o) => { const n = new Set(o); if (n.has(s)) n.delete(s); else n.add(s); return n; });
  const ev = asObject(a.event);
  const pivot = a.host ? `host.name:${quoteValue(a.host)}` : a.source_ip ? `source.ip:${quoteValue(a.source_ip)}` : "";
  const searchLink = searchAround(pivot, new Date(a["@timestamp"]).getTime());
  const done = () => {
    setCloseNote("");
    void qc.invalidateQueries({ queryKey: ["alerts"] });
    void qc.invalidateQueries({ queryKey: ["overview"] });
    void qc.invalidateQueries({ queryKey: ["exceptions"] });
  };

  return (
    <div className="alert-page" data-testid="alert-page">
      <Link to="/alerts" className="back"><ArrowLeft size={14} aria-hidden /> {t("alerts.back")}</Link>
      <div className="alert-head">
        <LevelBadge level={a.level} />
        <h1 className="alert-h1"><RuleTitle title={a.rule_title} zh={a.rule_title_zh} /></h1>
        <StatusBadge status={a.status} resolution={a.resolution} />
        <div className="grow" />
        {inc.data?.items[0] ? (
          <Link className="btn" data-testid="alert-incident" to={`/incidents/${encodeURIComponent(inc.data.items[0].id)}`}>{t("incidents.inIncident")}: {inc.data.items[0].title || inc.data.items[0].id}</Link>
        ) : inc.isSuccess && <CreateIncident alerts={[id]} label={t("incidents.create")} />}
        {writable && (
          <div className="actions" role="group" aria-label={t("common.actions")}>
            {a.status === "new" && (
              <button className="btn btn-primary" data-testid="ack" onClick={() => act.mutate({ path: "ack" })} disabled={act.isPending}>
                <Check size={16} aria-hidden /> {t("alerts.ack")}
              </button>
            )}
            {a.assignee !== user?.username && a.status !== "closed" && (
              <button className="btn" data-testid="assign-me" onClick={() => act.mutate({ path: "assign", body: { assignee: user?.username } satisfies Req<"/alerts/{id}/assign"> })}>
                <UserPlus size={16} aria-hidden /> {t("alerts.assignMe")}
              </button>
            )}
            {a.status === "closed" && (
              <button className="btn" data-testid="reopen" onClick={() => act.mutate({ path: "reopen" })}>
                <RotateCcw size={16} aria-hidden /> {t("alerts.reopen")}
              </button>
            )}
          </div>
        )}
      </div>
      {act.error && <ErrorBox error={act.error} />}
      <dl className="facts">
        <div><dt>{t("alerts.eventTime")}</dt><dd data-testid="event-time">{f.date(a["@timestamp"])}</dd></div>
        <div><dt>{t("alerts.detectedTime")}</dt><dd data-testid="detected-time">{f.date(a.created)}</dd></div>
        <div><dt>{t("alerts.host")}</dt><dd className="mono">{a.host ?? "—"}</dd></div>
        <div><dt>{t("alerts.source")}</dt><dd className="mono">{a.source_ip ?? "—"}</dd></div>
        <div><dt>{t("alerts.destination")}</dt><dd className="mono">{a.destination_ip ?? "—"}</dd></div>
        <div><dt>{t("alerts.assignee")}</dt><dd data-testid="assignee">{a.assignee ?? "—"}</dd></div>
        <div><dt>{t("common.type")}</dt><dd>{t(`alerts.kind.${a.kind}`, { defaultValue: a.kind })}{a.retrospective ? ` · ${t("alerts.retrospective")}` : ""}</dd></div>
      </dl>

      {writable && a.status !== "closed" && <AssignPicker alert={a} onDone={done} />}

      <div className="alert-grid">
        <div className="col">
          {a.kind === "anomaly" && <AnomalyWhy context={a.context} />}
          <IntelPanel alert={a} />
          <PivotsPanel alert={a} />
          <ProcessTreePanel id={id} />
          {/* An anomaly stands for many events (its features say which); an empty "matching event" box only misled. */}
          {(a.kind !== "anomaly" || Object.keys(ev).length > 0) && <Panel title={t("alerts.matching")} actions={pivot && <Link className="btn btn-sm" to={searchLink}><SearchIcon size={14} aria-hidden /> {t("alerts.openInSearch")}</Link>}>
            {Object.keys(ev).length ? (
              <table className="kv-table" data-testid="matching-event">
                <tbody>
                  {Object.keys(ev).sort().map((k) => (
                    <tr key={k}><td className="mono k">{k}</td><td className="mono v">{fmtValue(ev[k])}</td></tr>
                  ))}
                </tbody>
              </table>
            ) : <Empty text={t("common.noData")} />}
            {(a.events?.length ?? 0) > 1 && <div className="muted small pad">{t("common.total", { count: a.events?.length })} · seq {a.events?.slice(0, 10).join(", ")}</div>}
          </Panel>}
          <Panel title={t("alerts.related")}>
            {rel.isLoading ? <Loading inline /> : rel.error ? <ErrorBox error={rel.error} /> : !rel.data || (!rel.data.before.length && !rel.data.after.length) ? <Empty text={t("alerts.noRelated")} /> : (
              <table className="table events" data-testid="related">
                <tbody>
                  {rel.data.before.length > 0 && <tr className="sep"><td colSpan={3}>{t("alerts.before")}</td></tr>}
                  {rel.data.before.map((h) => <EventRow key={`b${h.seq}`} event={h.event} time={h["@timestamp"]} open={open.has(h.seq)} toggle={() => toggle(h.seq)} />)}
                  <tr className="sep now"><td colSpan={3}><ShieldAlert size={14} aria-hidden /> {a.rule_title} · {f.date(a["@timestamp"])}</td></tr>
                  {rel.data.after.map((h) => <EventRow key={`a${h.seq}`} event={h.event} time={h["@timestamp"]} open={open.has(h.seq)} toggle={() => toggle(h.seq)} />)}
                  {rel.data.after.length > 0 && <tr className="sep"><td colSpan={3}>{t("alerts.after")}</td></tr>}
                </tbody>
              </table>
            )}
          </Panel>
        </div>
        <div className="col side">
          {writable && a.status !== "closed" && (
            <Panel title={t("common.close")}>
              <textarea rows={2} placeholder={t("alerts.closeComment")} aria-label={t("alerts.closeComment")} value={closeNote} onChange={(e) => setCloseNote(e.target.value)} />
              <div className="row">
                <button className="btn btn-danger" data-testid="close-tp" onClick={() => act.mutate({ path: "close", body: { resolution: "true_positive", comment: closeNote || undefined } satisfies Req<"/alerts/{id}/close"> })}>
                  <ShieldAlert size={16} aria-hidden /> {t("alerts.closeTp")}
                </button>
              </div>
              <CloseFalsePositive alert={a} note={closeNote} onDone={done} />
            </Panel>
          )}
          <Panel title={t("alerts.ruleInfo")}>
            {a.rule ? (
              <div className="rule-info">
                <div className="row"><LevelBadge level={a.rule.level} /> <Link to={`/rules/${encodeURIComponent(a.rule_id)}`}><RuleTitle title={a.rule.title} zh={a.rule.title_zh} /></Link></div>
                {a.rule.description && <p className="muted">{a.rule.description}</p>}
                <div className="muted small mono">{a.rule_id}</div>
              </div>
            ) : <div className="mono small">{a.rule_id}</div>}
            <h3>{t("alerts.attack")}</h3>
            <div className="tags" data-testid="attack-tags">
              {tactics.map((x) => <span key={x} className="tag tactic">{t(`tactic.${x}`, { defaultValue: x })}</span>)}
              {techniques.map((x) => (
                <Link key={x} className="tag technique mono" to={attackPath(x)} title={t("attack.explain")}>{x}</Link>
              ))}
              {!tactics.length && !techniques.length && <span className="muted small">{t("common.none")}</span>}
            </div>
            {a.rule?.yaml && (
              <>
                <button className="btn btn-sm" aria-expanded={showYaml} onClick={() => setShowYaml(!showYaml)}>{t("alerts.showYaml")}</button>
                {showYaml && <pre className="yaml">{a.rule.yaml}</pre>}
              </>
            )}
          </Panel>
          <Panel title={t("alerts.comments")}>
            {a.comments.length ? (
              <ul className="comments">
                {a.comments.map((c, i) => (
                  <li key={i}><div className="small"><b>{c.user}</b> <span className="muted">· {f.date(c.time)}</span></div><div>{c.text}</div></li>
                ))}
              </ul>
            ) : <div className="muted small">{t("alerts.noComments")}</div>}
            {writable && (
              <form className="comment-form" onSubmit={(e) => { e.preventDefault(); if (comment.trim()) act.mutate({ path: "comments", body: { text: comment } satisfies Req<"/alerts/{id}/comments"> }); }}>
                <textarea rows={3} placeholder={t("alerts.commentPlaceholder")} aria-label={t("alerts.addComment")} value={comment} onChange={(e) => setComment(e.target.value)} data-testid="comment" />
                <button className="btn btn-sm" type="submit" disabled={!comment.trim()}>{t("alerts.addComment")}</button>
              </form>
            )}
          </Panel>
        </div>
      </div>
    </div>
  );
}
