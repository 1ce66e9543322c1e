// 漏洞 / Vulnerabilities (issue 15): findings KEV first, then by priority,
// grouped by CVE (which assets carry it) or by asset (what each carries),
// with the KEV and ransomware badges, CVSS, EPSS, the priority and its SSVC
// decision, the remediation status and its change (accepted risk needs an
// approver and an expiry), overdue deadlines marked; the scan report and
// feed (KEV, EPSS) import.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { Upload, X } from "lucide-react";
import { api, type Query, type Req, type Res } from "../api";
import type { components } from "../api.gen";
import { useAuth } from "../auth";
import { Empty, ErrorBox, useParamState, LevelBadge, Loading, Pager, Panel } from "../components/common";
import { FilePick, KevBadges, TextFilter, useBi } from "../components/risk";
import { useFormat } from "../i18n";

type FindingRow = components["schemas"]["FindingRow"];
/** A list row carries the priority's inputs; an asset's page has the bare row. */
type Finding = FindingRow & Partial<Omit<components["schemas"]["FindingView"], keyof FindingRow>>;

export const REMEDIATION = ["open", "in_progress", "accepted", "fixed", "false_positive"] as const;
const UNRESOLVED = ["open", "in_progress", "accepted"];
const LIMIT = 100;

/** An RFC 3339 time with the browser's zone from a `datetime-local` value. */
function withZone(local: string): string {
  const d = new Date(local);
  const off = -d.getTimezoneOffset();
  const pad = (n: number) => String(Math.abs(n)).padStart(2, "0");
  return `${local.length === 16 ? `${local}:00` : local}${off < 0 ? "-" : "+"}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
}

/** The remediation status, changeable by `assets:write`: accepted risk asks
 * for the approver and the expiry first. */
function StatusCell({ row }: { row: Finding }) {
  const { t } = useTranslation();
  const f = useFormat();
  const { can } = useAuth();
  const qc = useQueryClient();
  const [accepting, setAccepting] = useState(false);
  const [approver, setApprover] = useState("");
  const [until, setUntil] = useState("");
  const m = useMutation({
    mutationFn: (body: Req<"/vulns/{id}/status">) => api<FindingRow>(`/vulns/${encodeURIComponent(row.id)}/status`, { body }),
    onSuccess: () => {
      setAccepting(false);
      void qc.invalidateQueries({ queryKey: ["risk"] });
    },
  });
  const label = <span className={`badge rstatus-${row.status}`} data-status={row.status}>{t(`risk.remediation.${row.status}`, { defaultValue: row.status })}</span>;
  const accepted = row.status === "accepted" && (
    <div className="muted small">{t("risk.vulns.acceptedBy", { approver: row.approver ?? "—", until: f.date(row.accepted_until) })}</div>
  );
  if (!can("assets:write")) return <>{label}{accepted}</>;
  return (
    <div className="status-cell">
      <select value={accepting ? "accepted" : row.status} aria-label={t("risk.col.status")} data-testid="finding-status" disabled={m.isPending}
        onChange={(e) => {
          const s = e.target.value;
          if (s === "accepted") setAccepting(true);
          else {
            setAccepting(false);
            m.mutate({ status: s });
          }
        }}>
        {REMEDIATION.map((s) => <option key={s} value={s}>{t(`risk.remediation.${s}`)}</option>)}
      </select>
      {accepted}
      {accepting && (
        <form className="accept-form" data-testid="accept-form" onSubmit={(e) => { e.preventDefault(); m.mutate({ status: "accepted", approver, until: withZone(until) }); }}>
          <input required placeholder={t("risk.vulns.approver")} aria-label={t("risk.vulns.approver")} value={approver} onChange={(e) => setApprover(e.target.value)} />
          <input required type="datetime-local" aria-label={t("risk.vulns.until")} title={t("risk.vulns.until")} value={until} onChange={(e) => setUntil(e.target.value)} />
          <button className="btn btn-sm btn-primary" type="submit">{t("risk.vulns.accept")}</button>
          <button className="btn btn-sm" type="button" onClick={() => setAccepting(false)}>{t("common.cancel")}</button>
        </form>
      )}
      {m.error && <ErrorBox error={m.error} />}
    </div>
  );
}

function Deadline({ row }: { row: Finding }) {
  const { t } = useTranslation();
  const f = useFormat();
  // When the page was drawn: a deadline passing while it is open shows on the next load.
  const [now] = useState(() => Date.now());
  if (!row.deadline) return <span className="muted">—</span>;
  const overdue = UNRESOLVED.includes(row.status) && new Date(row.deadline).getTime() < now;
  return (
    <span className={overdue ? "countdown overdue" : "small"} data-overdue={overdue || undefined}>
      {f.date(row.deadline)}{overdue && <> <span className="badge overdue" data-testid="overdue">{t("risk.vulns.overdue")}</span></>}
    </span>
  );
}

/** The columns of one finding after its group's key. */
function Cells({ row }: { row: Finding }) {
  const { t } = useTranslation();
  const bi = useBi();
  return (
    <>
      <td className="mono small">{row.location}</td>
      <td><LevelBadge level={row.severity === "info" ? "informational" : row.severity} /></td>
      <td className="num mono">{row.cvss != null ? row.cvss.toFixed(1) : "—"}</td>
      <td className="num mono">{row.epss != null ? `${(row.epss * 100).toFixed(1)}%` : "—"}</td>
      <td className="num mono" title={bi(row.summary)}><strong>{row.priority.toFixed(1)}</strong></td>
      <td><span className={`tag ssvc-${row.decision}`} title={bi(row.summary)}>{t(`risk.ssvc.${row.decision}`, { defaultValue: row.decision })}</span></td>
      <td><StatusCell row={row} /></td>
      <td><Deadline row={row} /></td>
      <td className="muted small">{row.scanners}</td>
    </>
  );
}

function Head({ first }: { first: string }) {
  const { t } = useTranslation();
  return (
    <thead>
      <tr>
        <th>{first}</th><th>{t("risk.col.location")}</th><th>{t("risk.col.severity")}</th><th className="num">CVSS</th><th className="num">EPSS</th>
        <th className="num">{t("risk.col.priority")}</th><th>SSVC</th><th>{t("risk.col.status")}</th><th>{t("risk.col.deadline")}</th><th>{t("risk.col.scanners")}</th>
      </tr>
    </thead>
  );
}

/** Findings of one asset (its page): one row each, KEV first as the server sends them. */
export function FindingsTable({ rows }: { rows: Finding[] }) {
  const { t } = useTranslation();
  return (
    <table className="table findings" data-testid="findings-table">
      <Head first={t("risk.col.vuln")} />
      <tbody>
        {rows.map((r) => (
          <tr key={r.id} data-testid="finding-row" className={r.kev ? "kev-row" : undefined}>
            <td><span className="mono">{r.vuln}</span> <KevBadges kev={r.kev} ransomware={r.ransomware} /></td>
            <Cells row={r} />
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Findings grouped by CVE or by asset, groups in the server's order (KEV first). */
/** The CNVD/CNNVD ids the scan reports gave, beside the CVE. */
function CnIds({ ids }: { ids?: string[] }) {
  return ids?.length ? <span className="mono muted small" data-testid="cn-ids">{ids.join(" · ")}</span> : null;
}

function Grouped({ rows, by }: { rows: Finding[]; by: "cve" | "asset" }) {
  const { t } = useTranslation();
  const groups = new Map<string, Finding[]>();
  for (const r of rows) {
    const k = by === "cve" ? r.vuln : String(r.asset_id);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const asset = (r: Finding) => <Link to={`/risk/assets/${r.asset_id}`}>{r.asset_name || `#${r.asset_id}`}</Link>;
  return (
    <table className="table findings" data-testid={`findings-by-${by}`}>
      <Head first={by === "cve" ? t("risk.col.asset") : t("risk.col.vuln")} />
      {[...groups].map(([k, rs]) => (
        <tbody key={k} data-testid="finding-group">
          <tr className="group-row">
            <td colSpan={10}>
              {by === "cve" ? (
                <><strong className="mono">{k}</strong> <CnIds ids={rs[0].cn_ids} /> <KevBadges kev={rs[0].kev} ransomware={rs[0].ransomware} /> <span className="muted small">{t("risk.vulns.onAssets", { count: rs.length })}</span></>
              ) : (
                <><strong>{asset(rs[0])}</strong> <span className="muted small">{t("risk.vulns.findingsCount", { count: rs.length })}</span></>
              )}
            </td>
          </tr>
          {rs.map((r) => (
            <tr key={r.id} data-testid="finding-row" className={r.kev ? "kev-row" : undefined}>
              <td>{by === "cve" ? asset(r) : <><span className="mono">{r.vuln}</span> <CnIds ids={r.cn_ids} /> <KevBadges kev={r.kev} ransomware={r.ransomware} /></>}</td>
              <Cells row={r} />
            </tr>
          ))}
        </tbody>
      ))}
    </table>
  );
}

const IMPORTS = ["scan", "kev", "epss"] as const;

function ImportDialog({ onClose }: { onClose: () => void }) {
  const { t } = useTranslation();
  const bi = useBi();
  const qc = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [kind, setKind] = useState<(typeof IMPORTS)[number]>("scan");
  const [external, setExternal] = useState(false);
  const m = useMutation({
    mutationFn: async () => {
      const opts = { raw: file!, contentType: "application/octet-stream" };
      if (kind === "scan") {
        const r = await api<Res<"/vulns/import", "post">>("/vulns/import", { ...opts, query: { name: file!.name, external: external || undefined } satisfies Query<"/vulns/import", "post"> });
        return t("risk.vulns.scanResult", { scanner: r.scanner, items: r.items, findings: r.findings, new: r.new, fixed: r.fixed, unmatched: r.unmatched, rejected: r.rejects.length })
          + (r.rejects.length ? `\n${r.rejects.slice(0, 20).map(bi).join("\n")}` : "");
      }
      const r = await api<Res<"/vulns/feeds/{kind}", "post">>(`/vulns/feeds/${kind}`, { ...opts, query: { name: file!.name } });
      return t("risk.vulns.feedResult", { entries: r.entries, added: r.added, changed: r.changed, findings: r.findings, warnings: r.warnings.length });
    },
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["risk"] }),
  });
  return (
    <Panel title={t("risk.vulns.importTitle")} className="risk-import" actions={<button className="icon-btn" onClick={onClose} aria-label={t("common.close")}><X size={16} aria-hidden /></button>}>
      <form className="form-row" data-testid="scan-import-form" onSubmit={(e) => { e.preventDefault(); if (file) m.mutate(); }}>
        <label>{t("risk.vulns.importKind")}
          <select value={kind} onChange={(e) => setKind(e.target.value as typeof kind)} data-testid="scan-import-kind">
            {IMPORTS.map((x) => <option key={x} value={x}>{t(`risk.vulns.kinds.${x}`)}</option>)}
          </select>
        </label>
        <FilePick file={file} onPick={setFile} testId="scan-import-file" />
        {kind === "scan" && <label className="check"><input type="checkbox" checked={external} onChange={(e) => setExternal(e.target.checked)} /> {t("risk.vulns.external")}</label>}
        <button className="btn btn-primary" type="submit" disabled={!file || m.isPending} data-testid="scan-import-submit">
          <Upload size={16} aria-hidden /> {m.isPending ? t("risk.importing") : t("risk.import")}
        </button>
      </form>
      <p className="muted small">{t(`risk.vulns.hint.${kind}`)}</p>
      {m.error && <ErrorBox error={m.error} />}
      {m.data && <pre className="import-result small" data-testid="scan-import-result">{m.data}</pre>}
    </Panel>
  );
}

export default function Vulns() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const { get, set, offset } = useParamState();
  const [importing, setImporting] = useState(false);
  const view = get("view", "cve") === "asset" ? "asset" : "cve";
  const status = get("status", "unresolved");
  const query = {
    cve: get("cve") || undefined,
    asset: get("asset") ? Number(get("asset")) : undefined,
    status: status === "all" ? undefined : status,
    kev: get("kev") === "1" || undefined,
    limit: LIMIT,
    offset,
  } satisfies Query<"/vulns">;
  const q = useQuery({ queryKey: ["risk", "vulns", query], queryFn: () => api<Res<"/vulns">>("/vulns", { query }) });

  return (
    <div className="vulns" data-testid="vulns">
      <div className="page-head">
        <h1>{t("risk.vulns.title")}</h1>
        <div className="view-toggle" role="group" aria-label={t("risk.vulns.view")}>
          {(["cve", "asset"] as const).map((v) => (
            <button key={v} className={view === v ? "btn btn-sm active" : "btn btn-sm"} aria-pressed={view === v} data-testid={`view-${v}`} onClick={() => set("view", v === "cve" ? "" : v)}>
              {t(`risk.vulns.by.${v}`)}
            </button>
          ))}
        </div>
        <div className="grow" />
        {can("assets:write") && (
          <button className="btn" onClick={() => setImporting((x) => !x)} data-testid="scan-import-open"><Upload size={16} aria-hidden /> {t("risk.vulns.importBtn")}</button>
        )}
      </div>
      <p className="muted small">{t("risk.vulns.intro")}</p>
      {importing && <ImportDialog onClose={() => setImporting(false)} />}
      <div className="filters row">
        <TextFilter value={get("cve")} label="CVE" placeholder="CVE-2024-3094" onApply={(v) => set("cve", v)} testId="vuln-cve-filter" />
        <label>{t("risk.col.status")}{" "}
          <select value={status} onChange={(e) => set("status", e.target.value)} data-testid="vuln-status-filter">
            <option value="unresolved">{t("risk.vulns.unresolved")}</option>
            <option value="all">{t("common.all")}</option>
            {REMEDIATION.map((s) => <option key={s} value={s}>{t(`risk.remediation.${s}`)}</option>)}
          </select>
        </label>
        <label className="check"><input type="checkbox" checked={get("kev") === "1"} onChange={(e) => set("kev", e.target.checked ? "1" : "")} data-testid="vuln-kev-filter" /> {t("risk.vulns.kevOnly")}</label>
        {get("asset") && <span className="tag">{t("risk.col.asset")} #{get("asset")} <button className="icon-btn" onClick={() => set("asset", "")} aria-label={t("common.close")}><X size={12} aria-hidden /></button></span>}
      </div>
      <Panel>
        {q.isLoading ? <Loading /> : q.error ? <ErrorBox error={q.error} onRetry={() => q.refetch()} /> : !q.data?.items.length ? <Empty text={t("risk.vulns.empty")} /> : <Grouped rows={q.data.items} by={view} />}
        {q.data && q.data.total > LIMIT && <Pager total={q.data.total} limit={LIMIT} offset={offset} onChange={(o) => set("offset", String(o))} />}
      </Panel>
    </div>
  );
}
