// 风险排行 / Risk ranking (issue 15): organisation → business system →
// asset, each with its score and the factors it is made of; a row opens to
// show the next level, and its factors in words.
import { Fragment, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { ChevronDown, ChevronRight } from "lucide-react";
import { api, type Res } from "../api";
import { Empty, ErrorBox, Loading, Panel } from "../components/common";
import { factorLine, Factors, ScoreBadge, type RiskScore } from "../components/risk";
import { useFormat } from "../i18n";

type View = Res<"/risk">;

export default function RiskRanking() {
  const { t } = useTranslation();
  const f = useFormat();
  const q = useQuery({ queryKey: ["risk", "ranking"], queryFn: () => api<View>("/risk") });
  // Open: organisations and the first (highest) business system of each.
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const [why, setWhy] = useState<string | null>(null);
  const isOpen = (k: string, d: boolean) => open[k] ?? d;
  const toggle = (k: string, d: boolean) => setOpen((o) => ({ ...o, [k]: !(o[k] ?? d) }));
  const label = (k: string) => t(`risk.factor.${k}`, { defaultValue: k });

  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorBox error={q.error} onRetry={() => q.refetch()} />;
  const orgs = q.data!.orgs;

  const row = (key: string, depth: number, name: React.ReactNode, score: RiskScore, extra: React.ReactNode, expand?: { d: boolean }) => (
    <Fragment key={key}>
      <tr className={`rank-row depth-${depth}`} data-testid={`rank-${["org", "system", "asset"][depth]}`}>
        <td style={{ paddingLeft: 8 + depth * 22 }}>
          {expand ? (
            <button className="icon-btn" onClick={() => toggle(key, expand.d)} aria-expanded={isOpen(key, expand.d)} aria-label={t("risk.rank.expand")}>
              {isOpen(key, expand.d) ? <ChevronDown size={14} aria-hidden /> : <ChevronRight size={14} aria-hidden />}
            </button>
          ) : <span className="icon-pad" />}
          {name}
        </td>
        <td><ScoreBadge score={score.score} /></td>
        <td className="small">{extra}</td>
        <td className="small">
          <button className="link-btn" onClick={() => setWhy(why === key ? null : key)} aria-expanded={why === key}>
            {factorLine(score, label) || t("risk.rank.noFactor")}
          </button>
        </td>
      </tr>
      {why === key && (
        <tr className="why-row"><td colSpan={4} style={{ paddingLeft: 30 + depth * 22 }}><Factors score={score} /></td></tr>
      )}
    </Fragment>
  );

  return (
    <div className="risk-ranking" data-testid="risk-ranking">
      <div className="page-head"><h1>{t("risk.rank.title")}</h1></div>
      <p className="muted small">{t("risk.rank.intro")}</p>
      <Panel>
        {!orgs.length ? <Empty text={t("risk.assets.empty")} /> : (
          <table className="table rank-table" data-testid="rank-table">
            <thead><tr><th>{t("risk.rank.name")}</th><th>{t("risk.col.score")}</th><th>{t("risk.rank.members")}</th><th>{t("risk.rank.factors")}</th></tr></thead>
            <tbody>
              {orgs.flatMap((o) => {
                const ok = `o:${o.org}`;
                const out = [row(ok, 0, <strong className="mono">{o.org}</strong>, o.score, t("risk.rank.systems", { count: o.systems.length }), { d: true })];
                if (!isOpen(ok, true)) return out;
                o.systems.forEach((s, i) => {
                  const sk = `${ok}/s:${s.name}`;
                  out.push(row(sk, 1, s.name || <span className="muted">{t("risk.rank.noSystem")}</span>, s.score,
                    t("risk.rank.assets", { count: s.assets_total, shown: f.num(s.assets.length) }), { d: i === 0 }));
                  if (isOpen(sk, i === 0)) {
                    for (const a of s.assets) {
                      out.push(row(`${sk}/a:${a.id}`, 2, <Link to={`/risk/assets/${a.id}`}>{a.name || `#${a.id}`}</Link>, a.score, <span className="mono muted">#{a.id}</span>));
                    }
                  }
                });
                return out;
              })}
            </tbody>
          </table>
        )}
      </Panel>
    </div>
  );
}
