// One asset (issue 15): the register's record with where each value came
// from (inventory file and line, scan, observation), its findings, the
// alerts and intel hits on it (linking to the alert pages), its risk score
// over time with the current score's factors in words, and its warnings.
import { useMemo } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { ArrowLeft } from "lucide-react";
import { api, type Res } from "../api";
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
