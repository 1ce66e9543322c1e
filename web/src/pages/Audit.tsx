// 审计日志 for the auditor (`audit:read`): the tamper-evident trail's records,
// newest first, with filters; the chain's verification; exports. Every view,
// verification and export is itself recorded by the server.
import { Fragment, useState } from "react";
import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";
import { CheckCircle2, Download, ShieldAlert, ShieldCheck } from "lucide-react";
import { api, type Query, type Res } from "../api";
import { Empty, ErrorBox, Loading, Pager, Panel } from "../components/common";
import { TimePicker } from "../components/TimePicker";
import { useFormat, type Lang } from "../i18n";

type AuditRecord = Res<"/audit">["items"][number];
type Verify = Res<"/audit/verify">;
type Outcome = AuditRecord["outcome"];

const LIMIT = 50;
const OUTCOMES: readonly Outcome[] = ["success", "denied", "failed"];
// Action code families (the trail's catalogue, taishi-audit/data/actions.tsv).
const FAMILIES = ["auth", "users", "tokens", "outputs", "settings", "rules", "alerts", "intel", "audit"] as const;
const FORMATS = ["csv", "jsonl", "cef"] as const;

/** A time in the browser's zone with the zone's offset written out
 * (`2026/12/06 18:30:01 GMT+8`), so a reader never guesses the zone. */
function useZonedTime() {
  const f = useFormat();
  const zone = new Intl.DateTimeFormat(f.lang, { timeZoneName: "shortOffset" });
  return (v: string) => {
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) return v;
    const offset = zone.formatToParts(d).find((p) => p.type === "timeZoneName")?.value ?? "";
    return `${f.date(d)} ${offset}`.trim();
  };
}

export default function Audit() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const from = params.get("from") ?? "now-7d";
  const to = params.get("to") ?? "now";
  const actor = params.get("actor") ?? "";
  const action = params.get("action") ?? "";
  const outcome = params.get("outcome") ?? "";
  const offset = Number(params.get("offset") ?? 0) || 0;
  const [actorText, setActorText] = useState(actor);

  const set = (kv: Record<string, string>) =>
    setParams((p) => {
      const n = new URLSearchParams(p);
      for (const [k, v] of Object.entries(kv)) {
        if (v) n.set(k, v);
        else n.delete(k);
      }
      if (!("offset" in kv)) n.delete("offset");
      return n;
    });

  const filters = { from, to, actor, action, outcome } satisfies Query<"/audit">;
  const list = useQuery({
    queryKey: ["audit", filters, offset],
    queryFn: ({ signal }) =>
      api<Res<"/audit">>("/audit", { query: { ...filters, limit: LIMIT, offset: offset || undefined } satisfies Query<"/audit">, signal }),
    placeholderData: keepPreviousData,
  });

  return (
    <div className="audit-page">
      <div className="page-head">
        <h1>{t("audit.title")}</h1>
        <span className="muted small">{t("audit.subtitle")}</span>
        <div className="grow" />
        <Exports query={filters} />
      </div>
      <VerifyPanel />
      <div className="toolbar" data-testid="audit-filters">
        <TimePicker value={{ from, to }} onChange={(r) => set({ from: r.from, to: r.to })} />
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            set({ actor: actorText.trim() });
          }}
        >
          <input type="search" value={actorText} onChange={(e) => setActorText(e.target.value)} placeholder={t("audit.actorPlaceholder")}
            aria-label={t("audit.actor")} data-testid="audit-actor" maxLength={256} onBlur={() => actorText.trim() !== actor && set({ actor: actorText.trim() })} />
        </form>
        <select value={action} onChange={(e) => set({ action: e.target.value })} aria-label={t("audit.action")} data-testid="audit-action">
          <option value="">{t("audit.allActions")}</option>
          {FAMILIES.map((x) => <option key={x} value={`${x}.*`}>{t(`audit.family.${x}`)}</option>)}
        </select>
        <select value={outcome} onChange={(e) => set({ outcome: e.target.value })} aria-label={t("audit.outcome")} data-testid="audit-outcome">
          <option value="">{t("audit.allOutcomes")}</option>
          {OUTCOMES.map((x) => <option key={x} value={x}>{t(`audit.outcomes.${x}`)}</option>)}
        </select>
      </div>
      {list.isLoading ? <Loading /> : list.error ? <ErrorBox error={list.error} onRetry={() => list.refetch()} /> : !list.data?.items.length ? (
        <Empty text={t("audit.empty")} />
      ) : (
        <>
          {list.data.unreadable > 0 && (
            <div className="error-box" role="alert" data-testid="audit-unreadable">
              <ShieldAlert size={18} aria-hidden /> {t("audit.unreadable", { count: list.data.unreadable })}
            </div>
          )}
          <Records items={list.data.items} />
          <Pager total={list.data.total} limit={LIMIT} offset={offset} onChange={(o) => set({ offset: String(o) })} />
        </>
      )}
    </div>
  );
}

function Records({ items }: { items: AuditRecord[] }) {
  const { t, i18n } = useTranslation();
  const time = useZonedTime();
  const lang = i18n.language as Lang;
  const [open, setOpen] = useState<number | null>(null);
  return (
    <div className="table-wrap">
      <table className="table audit-table" data-testid="audit-table" aria-label={t("audit.title")}>
        <thead>
          <tr>
            <th>{t("audit.time")}</th><th>{t("audit.actor")}</th><th className="col-opt">{t("audit.org")}</th><th>{t("common.role")}</th>
            <th className="col-opt">{t("audit.source")}</th><th>{t("audit.action")}</th><th>{t("audit.target")}</th><th>{t("audit.outcome")}</th>
            <th>{t("audit.reason")}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((r) => {
            const on = open === r.seq;
            return (
              <Fragment key={r.seq}>
                <tr tabIndex={0} className={on ? "clickable cursor" : "clickable"} aria-expanded={on} data-testid="audit-row" data-action={r.action}
                  onClick={() => setOpen(on ? null : r.seq)} onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), setOpen(on ? null : r.seq))}>
                  <td className="nowrap small mono" title={r.time}>{time(r.time)}</td>
                  <td className="nowrap" title={r.actor.id !== r.actor.name ? r.actor.id : undefined}>{r.actor.name || r.actor.id || "—"}</td>
                  <td className="small col-opt">{r.org}</td>
                  <td className="small nowrap">{r.roles.length ? r.roles.map((x) => t(`role.${x}`, { defaultValue: x })).join(", ") : "—"}</td>
                  <td className="small mono nowrap col-opt">{r.source ?? "—"}</td>
                  <td className="nowrap" title={r.action}>{r.action_label[lang] ?? r.action}</td>
                  <td className="small mono audit-target" title={r.target ?? undefined}>{r.target ?? "—"}</td>
                  <td><OutcomeBadge outcome={r.outcome} /></td>
                  <td className="small audit-reason" title={r.reason ?? undefined}>{r.reason ?? ""}</td>
                </tr>
                {on && (
                  <tr className="audit-detail" data-testid="audit-detail">
                    <td colSpan={9}>
                      <Detail r={r} />
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function OutcomeBadge({ outcome }: { outcome: Outcome }) {
  const { t } = useTranslation();
  return <span className={`badge outcome-${outcome}`} data-outcome={outcome}>{t(`audit.outcomes.${outcome}`)}</span>;
}

function Detail({ r }: { r: AuditRecord }) {
  const { t } = useTranslation();
  const json = (v: unknown) => (v == null ? "—" : JSON.stringify(v, null, 2));
  return (
    <div className="audit-detail-body">
      <table className="kv-table">
        <tbody>
          <tr><td className="k">{t("audit.seq")}</td><td className="v mono">{r.seq}</td></tr>
          <tr><td className="k">{t("audit.code")}</td><td className="v mono">{r.action}</td></tr>
          <tr><td className="k">{t("audit.hash")}</td><td className="v mono">{r.hash}</td></tr>
          <tr><td className="k">{t("audit.prevHash")}</td><td className="v mono">{r.prev_hash}</td></tr>
        </tbody>
      </table>
      {(r.before != null || r.after != null) && (
        <div className="audit-diff">
          <div><h3>{t("audit.before")}</h3><pre data-testid="audit-before">{json(r.before)}</pre></div>
          <div><h3>{t("audit.after")}</h3><pre data-testid="audit-after">{json(r.after)}</pre></div>
        </div>
      )}
    </div>
  );
}

function VerifyPanel() {
  const { t, i18n } = useTranslation();
  const f = useFormat();
  const lang = i18n.language as Lang;
  const run = useMutation({ mutationFn: () => api<Verify>("/audit/verify") });
  const v = run.data;
  return (
    <Panel
      title={t("audit.verifyTitle")}
      actions={
        <button className="btn btn-primary" onClick={() => run.mutate()} disabled={run.isPending} data-testid="audit-verify">
          <ShieldCheck size={16} aria-hidden /> {run.isPending ? t("audit.verifying") : t("audit.verify")}
        </button>
      }
    >
      {run.error ? <ErrorBox error={run.error} /> : !v ? (
        <p className="muted small">{t("audit.verifyHint")}</p>
      ) : (
        <div className={v.ok ? "audit-verdict ok" : "audit-verdict err"} role="status" data-testid="audit-verdict" data-ok={v.ok}>
          {v.ok ? <CheckCircle2 size={18} aria-hidden /> : <ShieldAlert size={18} aria-hidden />}
          <div>
            {/* The server's verdict names the records, the checkpoints and, when broken, the first break. */}
            {!v.ok && <b>{t("audit.broken")} · </b>}
            {sentence(v.message[lang] ?? v.message.en)}
            {v.broken && <div className="muted small">{t("audit.brokenAt", { seq: f.num(v.broken.seq), code: v.broken.code })}</div>}
          </div>
        </div>
      )}
    </Panel>
  );
}

/** The server's verdict starts in lower case (the CLI puts INTACT: before it). */
const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Downloads go straight to the server (the session cookie is sent, the
 * answer is streamed to a file): the browser never holds the whole trail. */
function Exports({ query }: { query: Query<"/audit"> }) {
  const { t, i18n } = useTranslation();
  const href = (format: string) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...query, format, lang: i18n.language })) if (v) p.set(k, String(v));
    return `/api/v1/audit/export?${p}`;
  };
  return (
    <div className="row" role="group" aria-label={t("common.export")}>
      {FORMATS.map((x) => (
        <a key={x} className="btn" href={href(x)} download data-testid={`audit-export-${x}`} title={t(`audit.exportHint.${x}`)}>
          <Download size={16} aria-hidden /> {t(`audit.export.${x}`)}
        </a>
      ))}
    </div>
  );
}
