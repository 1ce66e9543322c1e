// 事件 / Incidents (issue 14): the queue, deadline first — the reporting
// deadline that comes next (counting down, red once overdue), then severity —
// with grade, status, owner and category, and filters.
import { useEffect, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { api, LEVELS, type Query, type Res } from "../api";
import { Empty, ErrorBox, LevelBadge, Loading, Pager, Panel, useParamState } from "../components/common";
import { useFormat } from "../i18n";

export type QueueItem = Res<"/incidents">["items"][number];
export type Due = NonNullable<QueueItem["next_due"]>;

/** The lifecycle in order (新建 → 研判 → 处置 (遏制/根除/恢复) → 总结 → 关闭). */
export const STATUSES = ["new", "triage", "containment", "eradication", "recovery", "summary", "closed"] as const;

/** Now, once a second: countdowns tick. */
export function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const h = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(h);
  }, []);
  return now;
}

/** `1 d 02:03:04`, `02:03:04`: the time left (or overdue) to a deadline. */
export function span(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60].map((x) => String(x).padStart(2, "0")).join(":");
  return d ? `${d} d ${hms}` : hms;
}

/** A deadline's countdown, red once it has passed. */
export function Countdown({ due, now }: { due: Due; now: number }) {
  const { t, i18n } = useTranslation();
  const f = useFormat();
  const left = new Date(due.deadline).getTime() - now;
  const what = t(`incidents.obligation.${due.obligation.kind}`, { defaultValue: due.obligation.kind, n: "n" in due.obligation ? due.obligation.n : "" });
  if (due.state.state === "met") return <span className="muted small">{what} · {t("incidents.met")}</span>;
  return (
    <span className={left < 0 ? "countdown overdue" : "countdown"} data-testid="countdown" title={`${f.date(due.deadline)} · ${i18n.language.startsWith("zh") ? due.recipient.zh : due.recipient.en}`}>
      <span className="small">{what}</span>{" "}
      <strong className="mono">{left < 0 ? t("incidents.overdueBy", { span: span(left) }) : t("incidents.left", { span: span(left) })}</strong>
    </span>
  );
}

export function GradeBadge({ grade }: { grade?: string | null }) {
  const { t } = useTranslation();
  if (!grade) return <span className="muted small">—</span>;
  return <span className={`badge grade-${grade}`} data-grade={grade}>{t(`incidents.grade.${grade}`, { defaultValue: grade })}</span>;
}

export function IncidentStatus({ status }: { status: string }) {
  const { t } = useTranslation();
  return <span className={`badge istatus-${status}`} data-status={status}>{t(`incidents.status.${status}`, { defaultValue: status })}</span>;
}

const LIMIT = 50;

export default function Incidents() {
  const { t } = useTranslation();
  const f = useFormat();
  const now = useNow();
  // The pager's offset survives its own change (it used to be dropped with every filter's).
  const { get, set, offset } = useParamState();
  const status = get("status", "open");
  const query = {
    status: status === "all" ? undefined : status,
    severity: get("severity") || undefined,
    owner: get("owner") || undefined,
    category: get("category") || undefined,
    // Deadline first across pages (the server's order): overdue, then the
    // soonest, then the most severe; the rest newest change first.
    sort: "deadline",
    limit: LIMIT,
    offset,
  } satisfies Query<"/incidents">;
  const q = useQuery({ queryKey: ["incidents", "list", query], queryFn: () => api<Res<"/incidents">>("/incidents", { query }) });

  const rows = q.data?.items ?? [];

  return (
    <div className="incidents" data-testid="incidents">
      <div className="page-head">
        <h1>{t("incidents.title")}</h1>
      </div>
      <p className="muted small">{t("incidents.intro")}</p>
      <div className="filters row">
        <label>{t("incidents.col.status")}{" "}
          <select value={status} onChange={(e) => set("status", e.target.value)} data-testid="incident-status-filter">
            <option value="open">{t("incidents.open")}</option>
            <option value="all">{t("common.all")}</option>
            {STATUSES.map((s) => <option key={s} value={s}>{t(`incidents.status.${s}`)}</option>)}
          </select>
        </label>
        <label>{t("incidents.col.severity")}{" "}
          <select value={get("severity")} onChange={(e) => set("severity", e.target.value)}>
            <option value="">{t("common.all")}</option>
            {LEVELS.map((l) => <option key={l} value={l}>{t(`level.${l}`)} +</option>)}
          </select>
        </label>
        <input type="search" placeholder={t("incidents.col.owner")} aria-label={t("incidents.col.owner")} defaultValue={get("owner")} onBlur={(e) => set("owner", e.target.value.trim())} />
        <input type="search" placeholder={t("incidents.col.category")} aria-label={t("incidents.col.category")} defaultValue={get("category")} onBlur={(e) => set("category", e.target.value.trim())} />
      </div>
      <Panel>
        {q.isLoading ? <Loading /> : q.error ? <ErrorBox error={q.error} onRetry={() => q.refetch()} /> : !rows.length ? <Empty text={t("incidents.empty")} /> : (
          <table className="table" data-testid="incident-queue">
            <thead>
              <tr>
                <th>{t("incidents.col.deadline")}</th><th>{t("incidents.col.title")}</th><th>{t("incidents.col.severity")}</th><th>{t("incidents.col.grade")}</th>
                <th>{t("incidents.col.status")}</th><th>{t("incidents.col.owner")}</th><th>{t("incidents.col.category")}</th><th className="num">{t("incidents.col.alerts")}</th><th>{t("incidents.col.discovered")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((i) => (
                <tr key={i.id} data-testid="incident-row">
                  <td>{i.next_due ? <Countdown due={i.next_due} now={now} /> : <span className="muted small">{t("incidents.noDeadline")}</span>}</td>
                  <td><Link to={`/incidents/${encodeURIComponent(i.id)}`}>{i.title || i.id}</Link><div className="muted small mono">{i.id}</div></td>
                  <td><LevelBadge level={i.severity} /></td>
                  <td><GradeBadge grade={i.grade} /></td>
                  <td><IncidentStatus status={i.status} /></td>
                  <td>{i.owner ?? "—"}</td>
                  <td className="mono">{i.category ?? "—"}</td>
                  <td className="num mono">{f.num(i.alerts)}</td>
                  <td className="small">{f.date(i.discovered)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {q.data && q.data.total > LIMIT && <Pager total={q.data.total} limit={LIMIT} offset={offset} onChange={(o) => set("offset", String(o))} />}
      </Panel>
    </div>
  );
}
