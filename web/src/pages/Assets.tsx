// 资产 / Assets (issue 15): the register, highest risk score first, with
// what an analyst sorts by (importance, CII, 等保 level, data level,
// exposure, open findings), a filter by identity or business system, and
// the inventory import (CSV, JSON, Nmap XML) with what it did.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { Upload, X } from "lucide-react";
import { api, type Query, type Res } from "../api";
import { useAuth } from "../auth";
import { Empty, ErrorBox, useParamState, Loading, Pager, Panel } from "../components/common";
import { FilePick, ScoreBadge, TextFilter, useBi } from "../components/risk";
import { useFormat } from "../i18n";

type ImportAnswer = Res<"/assets", "post">;
const LIMIT = 50;
const FORMATS = ["csv", "json", "nmap"] as const;

/** An identity (`ip:10.0.0.5`) as people read it: the value, its kind in the title. */
export function IdentityTag({ id }: { id: string }) {
  const { t } = useTranslation();
  const [kind, ...rest] = id.split(":");
  return <span className="tag mono" title={t(`risk.idKind.${kind}`, { defaultValue: kind })}>{rest.join(":")}</span>;
}

export function ImportanceBadge({ value }: { value?: string | null }) {
  const { t } = useTranslation();
  if (!value) return <span className="muted">—</span>;
  return <span className={`tag importance-${value}`}>{t(`risk.importance.${value}`, { defaultValue: value })}</span>;
}

function ImportDialog({ onClose }: { onClose: () => void }) {
  const { t } = useTranslation();
  const bi = useBi();
  const qc = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [format, setFormat] = useState("");
  const m = useMutation({
    mutationFn: () =>
      api<ImportAnswer>("/assets", {
        query: { format: format || undefined, name: file!.name } satisfies Query<"/assets", "post">,
        raw: file!,
        contentType: "application/octet-stream",
      }),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["risk"] }),
  });
  const r = m.data;
  return (
    <Panel title={t("risk.assets.importTitle")} className="risk-import" actions={<button className="icon-btn" onClick={onClose} aria-label={t("common.close")}><X size={16} aria-hidden /></button>}>
      <form className="form-row" data-testid="asset-import-form" onSubmit={(e) => { e.preventDefault(); if (file) m.mutate(); }}>
        <FilePick file={file} onPick={setFile} testId="asset-import-file" />
        <label>{t("risk.format")}
          <select value={format} onChange={(e) => setFormat(e.target.value)} data-testid="asset-import-format">
            <option value="">{t("risk.formatAuto")}</option>
            {FORMATS.map((x) => <option key={x} value={x}>{t(`risk.assets.formats.${x}`)}</option>)}
          </select>
        </label>
        <button className="btn btn-primary" type="submit" disabled={!file || m.isPending} data-testid="asset-import-submit">
          <Upload size={16} aria-hidden /> {m.isPending ? t("risk.importing") : t("risk.import")}
        </button>
      </form>
      <p className="muted small">{t("risk.assets.importHint")}</p>
      {m.error && <ErrorBox error={m.error} />}
      {r && (
        <div data-testid="asset-import-result">
          <p>
            {t("risk.assets.result", { records: r.records, created: r.created, updated: r.updated, merged: r.merged, rejected: r.rejects.length })}
          </p>
          {!!r.unmapped_columns.length && <p className="muted small">{t("risk.assets.unmapped", { columns: r.unmapped_columns.join(", ") })}</p>}
          {!!r.rejects.length && (
            <ul className="rejects small err" data-testid="asset-import-rejects">
              {r.rejects.slice(0, 20).map((x, i) => <li key={i}>{bi(x)}</li>)}
              {r.rejects.length > 20 && <li className="muted">{t("risk.more", { count: r.rejects.length - 20 })}</li>}
            </ul>
          )}
        </div>
      )}
    </Panel>
  );
}

export default function Assets() {
  const { t } = useTranslation();
  const f = useFormat();
  const { can } = useAuth();
  const { get, set, offset } = useParamState();
  const [importing, setImporting] = useState(false);
  const query = {
    identity: get("identity") || undefined,
    business_system: get("system") || undefined,
    limit: LIMIT,
    offset,
  } satisfies Query<"/assets">;
  const q = useQuery({ queryKey: ["risk", "assets", query], queryFn: () => api<Res<"/assets">>("/assets", { query }) });

  return (
    <div className="assets" data-testid="assets">
      <div className="page-head">
        <h1>{t("risk.assets.title")}</h1>
        <div className="grow" />
        {can("assets:write") && (
          <button className="btn" onClick={() => setImporting((x) => !x)} data-testid="asset-import-open"><Upload size={16} aria-hidden /> {t("risk.assets.importBtn")}</button>
        )}
      </div>
      <p className="muted small">{t("risk.assets.intro")}</p>
      {importing && <ImportDialog onClose={() => setImporting(false)} />}
      <div className="filters row">
        <TextFilter wide value={get("identity")} label={t("risk.assets.filter")} onApply={(v) => set("identity", v)} testId="asset-filter" />
        <TextFilter value={get("system")} label={t("risk.col.system")} onApply={(v) => set("system", v)} />
      </div>
      <Panel>
        {q.isLoading ? <Loading /> : q.error ? <ErrorBox error={q.error} onRetry={() => q.refetch()} /> : !q.data?.items.length ? <Empty text={t("risk.assets.empty")} /> : (
          <table className="table" data-testid="asset-table">
            <thead>
              <tr>
                <th>{t("risk.col.score")}</th><th>{t("risk.col.asset")}</th><th>{t("risk.col.identities")}</th><th>{t("risk.col.system")}</th>
                <th>{t("risk.col.importance")}</th><th>{t("risk.col.cii")}</th><th>{t("risk.col.dengbao")}</th><th>{t("risk.col.dataLevel")}</th>
                <th className="num">{t("risk.col.exposed")}</th><th className="num">{t("risk.col.openFindings")}</th><th>{t("risk.col.lastSeen")}</th>
              </tr>
            </thead>
            <tbody>
              {q.data.items.map((a) => (
                <tr key={a.id} data-testid="asset-row">
                  <td><ScoreBadge score={a.score} /></td>
                  <td><Link to={`/risk/assets/${a.id}`}>{a.name || `#${a.id}`}</Link><div className="muted small mono">#{a.id} · {a.org}</div></td>
                  <td><div className="tags">{a.identities.map((i) => <IdentityTag key={i} id={i} />)}</div></td>
                  <td>{a.business_system || <span className="muted">—</span>}</td>
                  <td><ImportanceBadge value={a.importance} /></td>
                  <td>{a.cii ? <span className="badge cii" title={t("risk.ciiHint")}>{t("risk.cii")}</span> : <span className="muted">—</span>}</td>
                  <td>{a.dengbao ? t("risk.dengbaoLevel", { level: a.dengbao }) : <span className="muted">—</span>}</td>
                  <td>{a.data_level ? <span className={`tag level-${a.data_level}`}>{t(`risk.dataLevel.${a.data_level}`, { defaultValue: a.data_level })}</span> : <span className="muted">—</span>}</td>
                  <td className="num mono">{a.exposed_ports ? <span className="warn">{f.num(a.exposed_ports)}</span> : "0"}</td>
                  <td className="num mono">{a.open_findings ? <Link to={`/risk/vulns?asset=${a.id}&view=asset`}>{f.num(a.open_findings)}</Link> : "0"}</td>
                  <td className="small">{f.date(a.last_seen ?? a.updated)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {q.data && q.data.total > LIMIT && <Pager total={q.data.total} limit={LIMIT} offset={offset} onChange={(o) => set("offset", String(o))} />}
      </Panel>
      <UnknownAssets />
    </div>
  );
}

/** Hosts seen in the received events that the register does not know
 * (shadow IT), most recently seen first. */
function UnknownAssets() {
  const { t, i18n } = useTranslation();
  const f = useFormat();
  const zh = i18n.language.startsWith("zh");
  const q = useQuery({ queryKey: ["risk", "unknown"], queryFn: () => api<Res<"/assets/unknown">>("/assets/unknown", { query: { limit: 200 } }) });
  return (
    <Panel title={t("risk.unknown.title", { count: q.data?.total ?? 0 })}>
      <p className="muted small">{t("risk.unknown.intro")}</p>
      {q.isLoading ? <Loading /> : q.error ? <ErrorBox error={q.error} onRetry={() => q.refetch()} /> : !q.data?.items.length ? <Empty text={t("risk.unknown.empty")} /> : (
        <table className="table" data-testid="unknown-assets">
          <thead>
            <tr><th>{t("risk.unknown.host")}</th><th>{t("risk.unknown.sources")}</th><th className="num">{t("risk.unknown.sightings")}</th><th>{t("risk.unknown.firstSeen")}</th><th>{t("risk.col.lastSeen")}</th><th>{t("risk.unknown.why")}</th></tr>
          </thead>
          <tbody>
            {q.data.items.map((u) => (
              <tr key={`${u.org}-${u.ip ?? ""}-${u.hostnames.join(",")}`} data-testid="unknown-row">
                <td><span className="mono">{u.ip ?? "—"}</span>{u.hostnames.length > 0 && <div className="muted small">{u.hostnames.join(", ")}</div>}</td>
                <td className="small">{u.sources.join(", ")}</td>
                <td className="num mono">{f.num(u.sightings)}</td>
                <td className="small">{f.date(u.first_seen)}</td>
                <td className="small">{f.date(u.last_seen)}</td>
                <td className="small">{zh ? u.reason_zh : u.reason_en}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {q.data && q.data.evicted > 0 && <div className="muted small">{t("risk.unknown.evicted", { count: q.data.evicted })}</div>}
    </Panel>
  );
}
