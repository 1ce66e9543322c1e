// One asset (issue 15): the register's record with where each value came
// from (inventory file and line, scan, observation), its findings, the
// alerts and intel hits on it (linking to the alert pages), its risk score
// over time with the current score's factors in words, and its warnings.
import { useMemo, useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { ArrowLeft } from "lucide-react";
import { api, type Res } from "../api";
import { useAuth } from "../auth";
import { Empty, ErrorBox, LevelBadge, Loading, Panel } from "../components/common";
import { baseAxis, Chart, palette, type Option } from "../components/Chart";
import { Factors, ScoreBadge } from "../components/risk";
import { useFormat, type Fmt } from "../i18n";
import { ImportanceBadge } from "./Assets";
import { FindingsTable } from "./Vulns";
import { WarningCard } from "./Warnings";

type View = Res<"/assets/{id}">;
type Json = Record<string, unknown>;
type Prov = { kind: string; source: string; record?: number; at: string };
type Fact = { value: unknown; provenance: Prov[] };

const asFact = (v: unknown): Fact | null => (v && typeof v === "object" && "value" in v ? (v as Fact) : null);
const asFacts = (v: unknown): Fact[] => (Array.isArray(v) ? v.map(asFact).filter((x): x is Fact => !!x) : []);

/** Where a value came from: `inventory.csv line 2 · 2026-12-06 …`. */
function Provenance({ p, f }: { p: Prov[]; f: Fmt }) {
  const { t } = useTranslation();
  return (
    <div className="provenance small muted" data-testid="provenance">
      {p.slice(0, 4).map((x, i) => (
        <div key={i}>
          {t(`risk.source.${x.kind}`, { defaultValue: x.kind })}: <span className="mono">{x.source}</span>
          {x.record != null && ` ${t("risk.recordNo", { n: x.record })}`} · {f.date(x.at)}
        </div>
      ))}
      {p.length > 4 && <div>{t("risk.more", { count: p.length - 4 })}</div>}
    </div>
  );
}

/** A record value in words. */
function useShow() {
  const { t } = useTranslation();
  return (key: string, v: unknown): React.ReactNode => {
    if (v == null) return "—";
    if (key === "identities" && typeof v === "object") {
      const i = v as { kind: string; value: string };
      return <><span className="muted small">{t(`risk.idKind.${i.kind}`, { defaultValue: i.kind })}</span> <span className="mono">{i.value}</span></>;
    }
    if (key === "importance") return <ImportanceBadge value={String(v)} />;
    if (key === "cii") return v ? t("common.yes") : t("common.no");
    if (key === "dengbao") return t("risk.dengbaoLevel", { level: v });
    if (key === "data_level") return t(`risk.dataLevel.${String(v)}`, { defaultValue: String(v) });
    if (key === "services" && typeof v === "object") {
      const s = v as { transport: string; port: number; name?: string; external: boolean };
      return <><span className="mono">{s.transport}/{s.port}</span> {s.name && <span>{s.name}</span>} {s.external && <span className="badge exposed">{t("risk.exposedBadge")}</span>}</>;
    }
    if (key === "software" && typeof v === "object") {
      const s = v as { cpe?: unknown; purl?: unknown; name?: string; version?: string };
      const id = [s.cpe, s.purl].find((x) => typeof x === "string") as string | undefined;
      return <>{s.name && <span>{s.name} {s.version}</span>} {id && <span className="muted mono small">{id}</span>}</>;
    }
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  };
}

const SINGLE = ["name", "owner", "business_system", "importance", "cii", "sector", "dengbao", "data_level"];
const MANY = ["identities", "services", "software", "tags"];

function Record({ record, row }: { record: Json; row: View["asset"] }) {
  const { t } = useTranslation();
  const f = useFormat();
  const show = useShow();
  const rows: { key: string; fact: Fact }[] = [];
  for (const k of SINGLE) {
    const x = asFact(record[k]);
    if (x) rows.push({ key: k, fact: x });
  }
  for (const k of MANY) for (const x of asFacts(record[k])) rows.push({ key: k, fact: x });
  return (
    <table className="kv-table" data-testid="asset-record">
      <tbody>
        {rows.map((r, i) => (
          <tr key={i}>
            <td className="k">{t(`risk.field.${r.key}`, { defaultValue: r.key })}</td>
            <td>{show(r.key, r.fact.value)}</td>
            <td><Provenance p={r.fact.provenance} f={f} /></td>
          </tr>
        ))}
        <tr><td className="k">{t("risk.field.first_seen")}</td><td colSpan={2}>{f.date((record.first_seen as string | undefined) ?? row.first_seen ?? row.updated)}</td></tr>
        <tr><td className="k">{t("risk.field.last_seen")}</td><td colSpan={2}>{f.date((record.last_seen as string | undefined) ?? row.last_seen ?? row.updated)}</td></tr>
      </tbody>
    </table>
  );
}

function History({ history }: { history: View["history"] }) {
  const { t } = useTranslation();
  const f = useFormat();
  const option = useMemo<Option>(() => {
    const pts = [...history].reverse();
    return {
      grid: { left: 40, right: 16, top: 16, bottom: 28 },
      tooltip: { trigger: "axis", valueFormatter: (v: number) => v.toFixed(1) },
      xAxis: { type: "time", ...baseAxis(), axisLabel: { ...baseAxis().axisLabel, formatter: (v: number) => f.short(v) } },
      yAxis: { type: "value", min: 0, max: 100, ...baseAxis() },
      series: [{
        name: t("risk.col.score"), type: "line", step: "end", showSymbol: true, symbolSize: 6,
        data: pts.map((h) => [h.at, h.score]),
        lineStyle: { color: palette.level.high }, itemStyle: { color: palette.level.high },
        areaStyle: { color: "rgba(251,146,60,.12)" },
      }],
    };
  }, [history, f, t]);
  if (!history.length) return <Empty text={t("risk.asset.noHistory")} />;
  return <Chart option={option} height={220} label={t("risk.asset.history")} />;
}

export default function AssetPage() {
  const { id } = useParams();
  const { t } = useTranslation();
  const f = useFormat();
  const q = useQuery({ queryKey: ["risk", "asset", id], queryFn: () => api<View>(`/assets/${encodeURIComponent(id ?? "")}`) });
  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorBox error={q.error} onRetry={() => q.refetch()} />;
  const v = q.data!;
  const a = v.asset;
  const current = v.history[0];
  return (
    <div className="asset-page" data-testid="asset-page">
      <div className="page-head">
        <Link className="btn btn-ghost" to="/risk/assets"><ArrowLeft size={16} aria-hidden /> {t("risk.asset.back")}</Link>
        <h1>{a.name || `#${a.id}`}</h1>
        <ScoreBadge score={a.score} />
        {a.cii && <span className="badge cii">{t("risk.cii")}</span>}
        <span className="muted small mono">#{a.id} · {a.org}</span>
      </div>
      <div className="grid g-2">
        <Panel title={t("risk.asset.record")}>
          <Record record={v.record as Json} row={a} />
        </Panel>
        <Panel title={t("risk.asset.history")}>
          <History history={v.history} />
          {current && (
            <>
              <h3 className="small">{t("risk.asset.why", { score: current.score.toFixed(1), time: f.date(current.at) })}</h3>
              <Factors score={current.factors} />
            </>
          )}
        </Panel>
      </div>
      <Panel title={t("risk.asset.findings", { count: v.findings.length })}>
        {!v.findings.length ? <Empty text={t("risk.vulns.empty")} /> : <FindingsTable rows={v.findings} />}
      </Panel>
      {v.explanations.length > 0 && <NvdExplanations v={v} />}
      <MergeSplit v={v} />
      <div className="grid g-2">
        <Panel title={t("risk.asset.alerts", { count: v.alerts.length })}>
          {!v.alerts.length ? <Empty text={t("risk.asset.noAlerts")} /> : (
            <table className="table" data-testid="asset-alerts">
              <thead><tr><th>{t("risk.col.time")}</th><th>{t("risk.col.kind")}</th><th>{t("risk.col.severity")}</th><th>{t("risk.col.title")}</th></tr></thead>
              <tbody>
                {v.alerts.map((x) => (
                  <tr key={`${x.kind}-${x.alert_id}`}>
                    <td className="small">{f.date(x.at)}</td>
                    <td>{t(`risk.attackKind.${x.kind}`, { defaultValue: x.kind })}</td>
                    <td><LevelBadge level={x.severity} /></td>
                    <td><Link to={`/alerts/${encodeURIComponent(x.alert_id)}`}>{x.title}</Link></td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Panel>
        <Panel title={t("risk.asset.warnings", { count: v.warnings.length })}>
          {!v.warnings.length ? <Empty text={t("risk.warnings.empty")} /> : v.warnings.map((w) => <WarningCard key={w.id} w={w} compact />)}
        </Panel>
      </div>
    </div>
  );
}

/** Why the NVD says each `nvd` finding applies: the configuration, the
 * entries the asset's software met and the version comparisons. */
function NvdExplanations({ v }: { v: View }) {
  const { t, i18n } = useTranslation();
  const zh = i18n.language.startsWith("zh");
  return (
    <Panel title={t("risk.nvd.title", { count: v.explanations.length })}>
      <ul className="nvd-explanations" data-testid="nvd-explanations">
        {v.explanations.map((x) => (
          <li key={x.finding}>
            <strong className="mono">{x.nvd.cve}</strong> <span>{zh ? x.nvd.text.zh : x.nvd.text.en}</span>
            <ul className="small muted">
              {x.nvd.entries.map((e, i) => (
                <li key={i}>
                  <span className="mono">{e.criteria}</span> ← <span className="mono">{e.asset_cpe}</span> · {e.vulnerable ? t("risk.nvd.vulnerable") : t("risk.nvd.platform")} · {zh ? e.version.zh : e.version.en}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </Panel>
  );
}

/** Merges and splits by hand (who, when, why), and for `assets:write` the
 * forms: fold another asset into this one, or move identities to a new
 * asset (the two are then kept apart: never merged again by an import). */
function MergeSplit({ v }: { v: View }) {
  const { t } = useTranslation();
  const f = useFormat();
  const qc = useQueryClient();
  const { can } = useAuth();
  const id = v.asset.id;
  const [other, setOther] = useState("");
  const [reason, setReason] = useState("");
  const [why, setWhy] = useState("");
  const [moving, setMoving] = useState<Set<string>>(new Set());
  const identities = asFacts((v.record as Json).identities)
    .map((x) => x.value as { kind: string; value: string })
    .map((i) => `${i.kind === "hostname" ? "host" : i.kind}:${i.value}`);
  const done = () => {
    setOther("");
    setReason("");
    setWhy("");
    setMoving(new Set());
    void qc.invalidateQueries({ queryKey: ["risk"] });
  };
  const merge = useMutation({
    mutationFn: () => api(`/assets/${id}/merge`, { method: "POST", body: { other: Number(other), reason } }),
    onSuccess: done,
  });
  const split = useMutation({
    mutationFn: () => api<Res<"/assets/{id}/split", "post">>(`/assets/${id}/split`, { method: "POST", body: { identities: [...moving], reason: why } }),
    // The new asset is linked from the change list.
    onSuccess: done,
  });
  const submit = (e: FormEvent, m: typeof merge | typeof split) => {
    e.preventDefault();
    m.mutate();
  };
  const busy = merge.isPending || split.isPending;
  return (
    <Panel title={t("risk.manual.title")}>
      {v.changes.length > 0 ? (
        <table className="table" data-testid="asset-changes">
          <thead><tr><th>{t("risk.col.time")}</th><th>{t("risk.manual.change")}</th><th>{t("risk.manual.by")}</th><th>{t("risk.manual.reason")}</th></tr></thead>
          <tbody>
            {v.changes.map((c) => (
              <tr key={c.id}>
                <td className="small">{f.date(c.at)}</td>
                <td>{t(`risk.manual.did.${c.change}`, { defaultValue: c.change })} <Link to={`/risk/assets/${c.asset_id === id ? c.other_id : c.asset_id}`}>#{c.asset_id === id ? c.other_id : c.asset_id}</Link>{c.identities.length > 0 && <div className="mono small muted">{c.identities.join(", ")}</div>}</td>
                <td>{c.by}</td>
                <td>{c.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <div className="muted small">{t("risk.manual.none")}</div>}
      {can("assets:write") && (
        <div className="grid g-2">
          <form className="manual-form" onSubmit={(e) => submit(e, merge)} data-testid="merge-form">
            <h3 className="small">{t("risk.manual.mergeTitle")}</h3>
            <label>{t("risk.manual.other")} <input type="number" min={1} value={other} onChange={(e) => setOther(e.target.value)} data-testid="merge-other" /></label>
            <label>{t("risk.manual.reason")} <input value={reason} onChange={(e) => setReason(e.target.value)} data-testid="merge-reason" /></label>
            <button className="btn btn-sm" type="submit" disabled={busy || !other || !reason.trim()} data-testid="merge-submit">{t("risk.manual.merge")}</button>
            {merge.error && <ErrorBox error={merge.error} />}
          </form>
          <form className="manual-form" onSubmit={(e) => submit(e, split)} data-testid="split-form">
            <h3 className="small">{t("risk.manual.splitTitle")}</h3>
            {identities.map((i) => (
              <label key={i} className="mono small">
                <input type="checkbox" checked={moving.has(i)} onChange={(e) => setMoving((s) => { const n = new Set(s); if (e.target.checked) n.add(i); else n.delete(i); return n; })} /> {i}
              </label>
            ))}
            <label>{t("risk.manual.reason")} <input value={why} onChange={(e) => setWhy(e.target.value)} data-testid="split-reason" /></label>
            <button className="btn btn-sm" type="submit" disabled={busy || !moving.size || moving.size === identities.length || !why.trim()} data-testid="split-submit">{t("risk.manual.split")}</button>
            {split.error && <ErrorBox error={split.error} />}
          </form>
        </div>
      )}
    </Panel>
  );
}
