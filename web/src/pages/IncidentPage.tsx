// One incident (issue 14): status flow, owner, severity, TLP/PAP, ATT&CK
// techniques, the reporting clock and the report links, category
// suggestions to confirm (GB/T 20986), the grading inputs with the deciding
// threshold row, tasks from the playbook, observables with "seen in other
// incidents", response actions (block lists, webhooks), evidence files,
// alerts (split), merge, the timeline and comments.
import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { ArrowLeft, Download, Send, Upload } from "lucide-react";
import { api, attackPath, LEVELS, type Req, type Res } from "../api";
import { useAuth } from "../auth";
import { Empty, ErrorBox, LevelBadge, Loading, Panel } from "../components/common";
import { useFormat } from "../i18n";
import { Countdown, GradeBadge, IncidentStatus, useNow } from "./Incidents";

type View = Res<"/incidents/{id}">;
type Action = Req<"/incidents/{id}/actions">;

/** The allowed transitions, as the server's lifecycle has them. */
const NEXT: Record<string, string[]> = {
  new: ["triage"],
  triage: ["containment", "closed"],
  containment: ["eradication"],
  eradication: ["recovery", "containment"],
  recovery: ["summary", "containment"],
  summary: ["closed"],
  closed: ["triage"],
};
const TLP = ["clear", "green", "amber", "amber_strict", "red"];
const PAP = ["clear", "green", "amber", "red"];
const OBSERVABLE_KINDS = ["ip", "domain", "hash", "user", "host", "url"];
const BLOCKLISTS = ["nftables", "ipset", "iptables", "suricata", "plain"];
const SYSTEM_LOSS = ["none", "considerable", "severe", "especially_severe"];

/** What one timeline action says, in the console's language. */
function actionText(t: (k: string, o?: Record<string, unknown>) => string, a: Record<string, unknown>): string {
  const kind = String(a.action);
  return t(`incidents.act.${kind}`, { defaultValue: kind, ...a, to: a.to !== undefined ? t(`incidents.status.${String(a.to)}`, { defaultValue: String(a.to) }) : "" });
}

/** The grading inputs, filled first from what the asset register and the
 * attached leak alerts say (`grading_hints`); the analyst corrects them. */
function GradeForm({ onGrade, busy, hints }: { onGrade: (input: Record<string, unknown>) => void; busy: boolean; hints: View["grading_hints"] }) {
  const { t } = useTranslation();
  const h = hints.input;
  const str = (v: number | null | undefined) => (v === null || v === undefined ? "" : String(v));
  const [cii, setCii] = useState(h.system?.cii ?? false);
  const [level, setLevel] = useState(str(h.system?.dengbao_level));
  const [loss, setLoss] = useState("none");
  const [outage, setOutage] = useState("");
  const [people, setPeople] = useState("");
  const [pi, setPi] = useState(str(h.pi_people_leaked));
  const [yuan, setYuan] = useState("");
  const [core, setCore] = useState(h.data?.core ?? false);
  const [important, setImportant] = useState(h.data?.important ?? false);
  const n = (v: string) => (v.trim() === "" ? undefined : Number(v));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onGrade({
      system: { cii, dengbao_level: n(level) },
      system_loss: loss,
      cii_total_outage_minutes: cii ? n(outage) : undefined,
      people_affected: n(people),
      pi_people_leaked: n(pi),
      direct_loss_yuan: n(yuan),
      data: { core, important },
    });
  };
  return (
    <form className="grade-form" onSubmit={submit} data-testid="grade-form">
      {(hints.assets.length > 0 || h.pi_people_leaked != null) && (
        <div className="muted small" data-testid="grade-hints">
          {hints.assets.length > 0 && <div>{t("incidents.hints.assets", { names: hints.assets.map((a) => a.name).join(", ") })}</div>}
          {h.pi_people_leaked != null && <div>{t("incidents.hints.pi", { n: h.pi_people_leaked })}</div>}
        </div>
      )}
      <label><input type="checkbox" checked={cii} onChange={(e) => setCii(e.target.checked)} data-testid="grade-cii" /> {t("incidents.gradeIn.cii")}</label>
      <label>{t("incidents.gradeIn.level")} <input type="number" min={1} max={5} value={level} onChange={(e) => setLevel(e.target.value)} /></label>
      <label>{t("incidents.gradeIn.loss")}{" "}
        <select value={loss} onChange={(e) => setLoss(e.target.value)} data-testid="grade-loss">
          {SYSTEM_LOSS.map((l) => <option key={l} value={l}>{t(`incidents.loss.${l}`)}</option>)}
        </select>
      </label>
      <label>{t("incidents.gradeIn.outage")} <input type="number" min={0} value={outage} onChange={(e) => setOutage(e.target.value)} data-testid="grade-outage" /></label>
      <label>{t("incidents.gradeIn.people")} <input type="number" min={0} value={people} onChange={(e) => setPeople(e.target.value)} /></label>
      <label>{t("incidents.gradeIn.pi")} <input type="number" min={0} value={pi} onChange={(e) => setPi(e.target.value)} /></label>
      <label>{t("incidents.gradeIn.yuan")} <input type="number" min={0} value={yuan} onChange={(e) => setYuan(e.target.value)} /></label>
      <label><input type="checkbox" checked={core} onChange={(e) => setCore(e.target.checked)} /> {t("incidents.gradeIn.core")}</label>
      <label><input type="checkbox" checked={important} onChange={(e) => setImportant(e.target.checked)} /> {t("incidents.gradeIn.important")}</label>
      <button className="btn btn-sm btn-primary" type="submit" disabled={busy} data-testid="grade-submit">{t("incidents.gradeIt")}</button>
    </form>
  );
}

export default function IncidentPage() {
  const { id = "" } = useParams();
  const { t, i18n } = useTranslation();
  const zh = i18n.language.startsWith("zh");
  const f = useFormat();
  const now = useNow();
  const nav = useNavigate();
  const qc = useQueryClient();
  const { user, can } = useAuth();
  const enc = encodeURIComponent(id);
  const [comment, setComment] = useState("");
  const [obs, setObs] = useState({ kind: "ip", value: "" });
  const [other, setOther] = useState("");
  const [split, setSplit] = useState<Set<string>>(new Set());
  const [file, setFile] = useState<File | null>(null);
  const [posted, setPosted] = useState("");

  const q = useQuery({ queryKey: ["incidents", "one", id], queryFn: () => api<View>(`/incidents/${enc}`) });
  const refresh = (v?: View) => {
    if (v && v.incident.id === id) qc.setQueryData(["incidents", "one", id], v);
    void qc.invalidateQueries({ queryKey: ["incidents"] });
  };
  const act = useMutation({
    mutationFn: (a: Action) => api<View>(`/incidents/${enc}/actions`, { method: "POST", body: { ...a, version: q.data?.version } }),
    onSuccess: (v) => { setComment(""); refresh(v); },
  });
  const merge = useMutation({
    mutationFn: () => api<View>(`/incidents/${enc}/merge`, { method: "POST", body: { other: other.trim() } satisfies Req<"/incidents/{id}/merge"> }),
    onSuccess: (v) => { setOther(""); refresh(v); },
  });
  const doSplit = useMutation({
    mutationFn: () => api<View>(`/incidents/${enc}/split`, { method: "POST", body: { alerts: [...split] } satisfies Req<"/incidents/{id}/split"> }),
    onSuccess: (v) => { setSplit(new Set()); refresh(); void nav(`/incidents/${encodeURIComponent(v.incident.id)}`); },
  });
  const hook = useMutation({
    mutationFn: (target: string) => api<Res<"/incidents/{id}/webhook", "post">>(`/incidents/${enc}/webhook`, { method: "POST", body: { target } satisfies Req<"/incidents/{id}/webhook"> }),
    onSuccess: (r) => { setPosted(r.target); refresh(); },
  });
  const upload = useMutation({
    mutationFn: (fl: File) => api<View>(`/incidents/${enc}/evidence`, { query: { name: fl.name }, raw: fl, contentType: "application/octet-stream" }),
    onSuccess: (v) => { setFile(null); refresh(v); },
  });

  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorBox error={q.error} onRetry={() => q.refetch()} />;
  const v = q.data!;
  const i = v.incident;
  const w = can("incidents:write") && i.status !== "closed";
  const busy = act.isPending;
  const report = (kind: string, format?: string) =>
    `/api/v1/incidents/${enc}/report?kind=${kind}&lang=${zh ? "zh" : "en"}${format ? `&format=${format}` : ""}`;
  const comments = i.timeline.filter((e) => e.action.action === "comment");
  const activeAlerts = i.alerts.filter((a) => a.active);

  return (
    <div className="incident-page" data-testid="incident-page">
      <Link to="/incidents" className="back"><ArrowLeft size={14} aria-hidden /> {t("incidents.back")}</Link>
      <div className="alert-head">
        <LevelBadge level={i.severity} />
        <h1 className="alert-h1" data-testid="incident-title">{i.title || i.id}</h1>
        <IncidentStatus status={i.status} />
        <GradeBadge grade={i.grade?.grade} />
        <div className="grow" />
        {can("incidents:write") && (
          <div className="actions" role="group" aria-label={t("incidents.flow")} data-testid="status-flow">
            {(NEXT[i.status] ?? []).map((to) => (
              <button key={to} className="btn btn-sm" disabled={busy} data-testid={`to-${to}`} onClick={() => act.mutate({ action: "transition", to })}>
                → {t(`incidents.status.${to}`)}
              </button>
            ))}
          </div>
        )}
      </div>
      {[act, merge, doSplit, hook, upload].map((m, k) => m.error ? <ErrorBox key={k} error={m.error} /> : null)}
      <ol className="flow" aria-label={t("incidents.flow")}>
        {["new", "triage", "response", "summary", "closed"].map((p) => {
          const phase = ["containment", "eradication", "recovery"].includes(i.status) ? "response" : i.status;
          return <li key={p} className={p === phase ? "current" : undefined}>{t(`incidents.phase.${p}`)}</li>;
        })}
      </ol>
      <dl className="facts">
        <div><dt>{t("incidents.col.discovered")}</dt><dd>{f.date(i.discovered_at)}</dd></div>
        <div><dt>{t("incidents.col.owner")}</dt><dd data-testid="owner">{i.owner ?? "—"}{w && i.owner !== user?.username && <button className="btn btn-sm" onClick={() => act.mutate({ action: "assign", owner: user?.username ?? null })} data-testid="assign-me">{t("alerts.assignMe")}</button>}</dd></div>
        <div><dt>{t("incidents.col.severity")}</dt><dd>
          <select value={i.severity} disabled={!w} aria-label={t("incidents.col.severity")} onChange={(e) => act.mutate({ action: "severity", severity: e.target.value })}>
            {LEVELS.map((l) => <option key={l} value={l}>{t(`level.${l}`)}</option>)}
          </select></dd></div>
        <div><dt>TLP</dt><dd>
          <select value={i.tlp} disabled={!w} aria-label="TLP" onChange={(e) => act.mutate({ action: "tlp", tlp: e.target.value })}>
            {TLP.map((x) => <option key={x} value={x}>TLP:{x.toUpperCase().replace("_", "+")}</option>)}
          </select></dd></div>
        <div><dt>PAP</dt><dd>
          <select value={i.pap} disabled={!w} aria-label="PAP" onChange={(e) => act.mutate({ action: "tlp", pap: e.target.value })}>
            {PAP.map((x) => <option key={x} value={x}>PAP:{x.toUpperCase()}</option>)}
          </select></dd></div>
        <div><dt>{t("incidents.groupKey")}</dt><dd className="mono">{v.group_key ?? "—"}</dd></div>
        <div><dt>{t("incidents.techniques")}</dt><dd className="tags">
          {i.techniques.length ? i.techniques.map((x) => <Link key={x} className="tag technique mono" to={attackPath(x)}>{x}</Link>) : "—"}
        </dd></div>
      </dl>

      <div className="alert-grid">
        <div className="col">
          <Panel title={t("incidents.clock")}>
            <div className="muted small">{t(`incidents.reporter.${v.reporter_type}`, { defaultValue: v.reporter_type })}</div>
            {v.clock.due.length ? (
              <ul className="dues" data-testid="clock">
                {v.clock.due.map((d, k) => (
                  <li key={k}><Countdown due={d} now={now} /> <span className="muted small">· {f.date(d.deadline)} · {zh ? d.recipient.zh : d.recipient.en}</span></li>
                ))}
              </ul>
            ) : <div className="muted small" data-testid="clock">{t("incidents.noClock")}</div>}
            <div className="row" data-testid="report-links">
              <span className="small">{t("incidents.report")}:</span>
              <a className="btn btn-sm" href={report("first")} target="_blank" rel="noreferrer">JSON</a>
              <a className="btn btn-sm" href={report("first", "docx")} download>DOCX</a>
              <a className="btn btn-sm" href={report("first", "pdf")} download>PDF</a>
              <a className="btn btn-sm" href={report("supplementary")} target="_blank" rel="noreferrer">{t("incidents.supplementary")}</a>
            </div>
          </Panel>

          <Panel title={t("incidents.category")}>
            {i.category ? (
              <div data-testid="category-confirmed">{t("incidents.confirmed")}: <span className="mono">{i.category.subcategory}</span> <span className="muted small">({i.category.by.who.name} · {f.date(i.category.by.when)})</span></div>
            ) : <div className="muted small">{t("incidents.notConfirmed")}</div>}
            {v.category_suggestions.length ? (
              <ul className="suggestions" data-testid="category-suggestions">
                {v.category_suggestions.slice(0, 5).map((s) => (
                  <li key={s.subcategory}>
                    <span className="mono">{s.subcategory}</span> <span className="muted small">({t("incidents.score")} {s.score})</span>{" "}
                    {w && i.category?.subcategory !== s.subcategory && <button className="btn btn-sm" data-testid="confirm-category" onClick={() => act.mutate({ action: "confirm_category", code: s.subcategory })}>{t("common.confirm")}</button>}
                    <div className="muted small">{s.reasons.map((r) => `${r.tag}: ${zh ? r.reason.zh : r.reason.en}`).join("；")}</div>
                  </li>
                ))}
              </ul>
            ) : <Empty text={t("incidents.noSuggestion")} />}
          </Panel>

          <Panel title={t("incidents.grading")}>
            {v.grade_explained ? (
              <div data-testid="grade-explained">
                <div><GradeBadge grade={v.grade_explained.grade} /> {zh ? v.grade_explained.zh : v.grade_explained.en}</div>
                {v.grade_explained.decided_by && (
                  <table className="kv-table" data-testid="deciding-row">
                    <tbody>
                      <tr><td>{t("incidents.row")}</td><td className="mono">{v.grade_explained.decided_by.id}</td></tr>
                      <tr><td>{t("incidents.threshold")}</td><td className="mono">{f.num(v.grade_explained.decided_by.threshold)} ({t("incidents.inclusive")})</td></tr>
                      <tr><td>{t("incidents.value")}</td><td className="mono">{f.num(v.grade_explained.decided_by.value)}</td></tr>
                      <tr><td>{t("incidents.source")}</td><td>{t(`incidents.src.${v.grade_explained.decided_by.source}`, { defaultValue: v.grade_explained.decided_by.source })}</td></tr>
                    </tbody>
                  </table>
                )}
                {v.grade_explained.warnings.map((x, k) => <div key={k} className="warn small">{zh ? x.zh : x.en}</div>)}
              </div>
            ) : <div className="muted small">{t("incidents.notGraded")}</div>}
            {w && <GradeForm busy={busy} hints={v.grading_hints} onGrade={(input) => act.mutate({ action: "grade", input })} />}
          </Panel>

          <Panel title={t("incidents.tasks")} actions={w && i.category && <button className="btn btn-sm" data-testid="playbook" onClick={() => act.mutate({ action: "playbook" })}>{t("incidents.playbook")}</button>}>
            {i.tasks.length ? (
              <ul className="tasks" data-testid="tasks">
                {i.tasks.map((x) => (
                  <li key={x.id} className={`task-${x.status}`}>
                    <span className="tag">{t(`incidents.status.${x.phase}`)}</span> {zh ? x.title.zh : x.title.en} <span className="muted small">· {t(`incidents.task.${x.status}`)}</span>
                    {w && x.status === "open" && <>
                      {" "}<button className="btn btn-sm" onClick={() => act.mutate({ action: "task", task: x.id, status: "done" })}>{t("incidents.task.done")}</button>
                      {" "}<button className="btn btn-sm" onClick={() => act.mutate({ action: "task", task: x.id, status: "cancelled" })}>{t("incidents.task.cancelled")}</button>
                    </>}
                  </li>
                ))}
              </ul>
            ) : <div className="muted small">{i.category ? t("incidents.noTasks") : t("incidents.tasksNeedCategory")}</div>}
          </Panel>

          <Panel title={t("incidents.observables")}>
            {i.observables.length ? (
              <table className="table" data-testid="observables">
                <thead><tr><th>{t("common.type")}</th><th>{t("incidents.value")}</th><th className="num">{t("incidents.seen")}</th><th>{t("incidents.seenIn")}</th></tr></thead>
                <tbody>
                  {i.observables.map((o) => {
                    const others = v.seen_in.find((s) => s.kind === o.kind && s.value === o.value)?.incidents ?? [];
                    return (
                      <tr key={`${o.kind}:${o.value}`}>
                        <td>{t(`incidents.kind.${o.kind}`)}</td>
                        <td className="mono">{o.value}</td>
                        <td className="num mono">{f.num(o.seen)}</td>
                        <td data-testid="seen-in">{others.length ? others.map((x) => <Link key={x} className="mono small" to={`/incidents/${encodeURIComponent(x)}`}>{x} </Link>) : <span className="muted small">—</span>}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            ) : <Empty text={t("incidents.noObservables")} />}
            {w && (
              <form className="row" onSubmit={(e) => { e.preventDefault(); if (obs.value.trim()) act.mutate({ action: "add_observable", kind: obs.kind, value: obs.value.trim() }); }}>
                <select value={obs.kind} aria-label={t("common.type")} onChange={(e) => setObs({ ...obs, kind: e.target.value })}>
                  {OBSERVABLE_KINDS.map((k) => <option key={k} value={k}>{t(`incidents.kind.${k}`)}</option>)}
                </select>
                <input value={obs.value} aria-label={t("incidents.value")} placeholder={t("incidents.value")} onChange={(e) => setObs({ ...obs, value: e.target.value })} data-testid="observable-value" />
                <button className="btn btn-sm" type="submit">{t("incidents.addObservable")}</button>
              </form>
            )}
          </Panel>

          <Panel title={t("incidents.timeline")}>
            <ol className="timeline" data-testid="timeline">
              {v.timeline.map((x, k) => (
                <li key={k} className={`tl-${x.item}`}>
                  <span className="muted small">{f.date(x.at)}</span>{" "}
                  {x.item === "alert" ? (
                    <><LevelBadge level={x.level} /> <Link to={`/alerts/${encodeURIComponent(x.alert_id)}`}>{x.rule_title}</Link>{!x.active && <span className="muted small"> ({t("incidents.removed")})</span>}</>
                  ) : (
                    <><b>{x.entry.by.who.name}</b> {actionText(t, x.entry.action as Record<string, unknown>)}{x.entry.by.why && <span className="muted small"> — {x.entry.by.why}</span>}</>
                  )}
                </li>
              ))}
            </ol>
          </Panel>
        </div>

        <div className="col side">
          <Panel title={t("incidents.response")}>
            <div className="small">{t("incidents.blocklists")}</div>
            <div className="row" data-testid="blocklists">
              {BLOCKLISTS.map((b) => <a key={b} className="btn btn-sm" href={`/api/v1/incidents/${enc}/iocs?format=${b}`} download><Download size={14} aria-hidden /> {b}</a>)}
            </div>
            {can("incidents:write") && v.webhooks.length > 0 && (
              <div className="row" data-testid="webhooks">
                {v.webhooks.map((h) => <button key={h} className="btn btn-sm" disabled={hook.isPending} onClick={() => hook.mutate(h)}><Send size={14} aria-hidden /> {t("incidents.postTo", { target: h })}</button>)}
              </div>
            )}
            {posted && <div className="ok small">{t("incidents.posted", { target: posted })}</div>}
          </Panel>

          <Panel title={t("incidents.evidence")}>
            {i.evidence?.length ? (
              <ul className="evidence" data-testid="evidence">
                {i.evidence.map((e) => (
                  <li key={e.id}>
                    <a href={`/api/v1/incidents/${enc}/evidence/${e.id}`} download>{e.name}</a> <span className="muted small">{f.bytes(e.size)} · {e.added.who.name} · {f.date(e.added.when)}</span>
                    <div className="mono small" title="SHA-256">{e.sha256}</div>
                  </li>
                ))}
              </ul>
            ) : <div className="muted small">{t("incidents.noEvidence")}</div>}
            {w && (
              <form className="row" onSubmit={(e) => { e.preventDefault(); if (file) upload.mutate(file); }}>
                <input type="file" aria-label={t("incidents.evidence")} onChange={(e) => setFile(e.target.files?.[0] ?? null)} data-testid="evidence-file" />
                <button className="btn btn-sm" type="submit" disabled={!file || upload.isPending}><Upload size={14} aria-hidden /> {t("incidents.upload")}</button>
              </form>
            )}
          </Panel>

          <Panel title={t("incidents.alerts", { count: activeAlerts.length })}>
            <ul className="incident-alerts" data-testid="incident-alerts">
              {activeAlerts.map((a) => (
                <li key={a.alert_id}>
                  {w && activeAlerts.length > 1 && <input type="checkbox" aria-label={t("incidents.splitPick")} checked={split.has(a.alert_id)} onChange={() => setSplit((s) => { const n = new Set(s); if (n.has(a.alert_id)) n.delete(a.alert_id); else n.add(a.alert_id); return n; })} />}
                  <LevelBadge level={a.level} /> <Link to={`/alerts/${encodeURIComponent(a.alert_id)}`}>{a.rule_title}</Link> <span className="muted small">{f.date(a.timestamp)}</span>
                </li>
              ))}
            </ul>
            {w && split.size > 0 && split.size < activeAlerts.length && <button className="btn btn-sm" onClick={() => doSplit.mutate()}>{t("incidents.split", { count: split.size })}</button>}
            {w && (
              <form className="row" onSubmit={(e) => { e.preventDefault(); if (other.trim()) merge.mutate(); }}>
                <input value={other} placeholder={t("incidents.mergeId")} aria-label={t("incidents.mergeId")} onChange={(e) => setOther(e.target.value)} />
                <button className="btn btn-sm" type="submit">{t("incidents.merge")}</button>
              </form>
            )}
          </Panel>

          <Panel title={t("alerts.comments")}>
            {comments.length ? (
              <ul className="comments" data-testid="incident-comments">
                {comments.map((c, k) => (
                  <li key={k}><div className="small"><b>{c.by.who.name}</b> <span className="muted">· {f.date(c.by.when)}</span></div><div>{"text" in c.action ? String(c.action.text) : ""}</div></li>
                ))}
              </ul>
            ) : <div className="muted small">{t("alerts.noComments")}</div>}
            {can("incidents:write") && (
              <form className="comment-form" onSubmit={(e) => { e.preventDefault(); if (comment.trim()) act.mutate({ action: "comment", text: comment }); }}>
                <textarea rows={3} aria-label={t("alerts.addComment")} value={comment} onChange={(e) => setComment(e.target.value)} data-testid="incident-comment" />
                <button className="btn btn-sm" type="submit" disabled={!comment.trim()}>{t("alerts.addComment")}</button>
              </form>
            )}
          </Panel>
        </div>
      </div>
    </div>
  );
}
