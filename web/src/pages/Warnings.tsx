// 预警 / Warnings (issue 15): early warnings 红/橙/黄/蓝, highest level first,
// each with what happened and why this level, the recommended action, the
// asset and the CVE; filtered by level and above.
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { api, type Query, type Res } from "../api";
import { Empty, ErrorBox, useParamState, Loading, Pager, Panel } from "../components/common";
import { useBi, WARNING_LEVELS, WarningBadge } from "../components/risk";
import { useFormat } from "../i18n";

type WarningView = Res<"/risk/warnings">["items"][number];
const LIMIT = 50;

export function WarningCard({ w, compact }: { w: WarningView; compact?: boolean }) {
  const { t } = useTranslation();
  const f = useFormat();
  const bi = useBi();
  const x = w.warning;
  return (
    <article className={`warning-card warn-${x.level}`} data-testid="warning-card" data-level={x.level}>
      <header className="row">
        <WarningBadge level={x.level} />
        <strong>{bi(x.title)}</strong>
        <div className="grow" />
        <span className="muted small">{f.date(w.created)}</span>
      </header>
      <div className="warning-meta small muted">
        {t(`risk.wkind.${x.kind}`, { defaultValue: x.kind })}
        {!compact && <> · {t("risk.col.asset")} <Link to={`/risk/assets/${encodeURIComponent(x.asset_id)}`}>#{x.asset_id}</Link></>}
        {x.cve && <> · <Link className="mono" to={`/risk/vulns?cve=${encodeURIComponent(x.cve)}&status=all`}>{x.cve}</Link></>}
        {" · "}{t(`risk.wstatus.${w.status}`, { defaultValue: w.status })}
      </div>
      <p className="warning-text"><span className="muted">{t("risk.warnings.what")}</span> {bi(x.text)}</p>
      <p className="warning-action"><span className="muted">{t("risk.warnings.action")}</span> {bi(x.action)}</p>
    </article>
  );
}

export default function Warnings() {
  const { t } = useTranslation();
  const { get, set, offset } = useParamState();
  const level = get("level");
  const query = { level: level || undefined, limit: LIMIT, offset } satisfies Query<"/risk/warnings">;
  const q = useQuery({ queryKey: ["risk", "warnings", query], queryFn: () => api<Res<"/risk/warnings">>("/risk/warnings", { query }) });
  return (
    <div className="warnings" data-testid="warnings">
      <div className="page-head">
        <h1>{t("risk.warnings.title")}</h1>
      </div>
      <p className="muted small">{t("risk.warnings.intro")}</p>
      <div className="filters row">
        <label>{t("risk.warnings.level")}{" "}
          <select value={level} onChange={(e) => set("level", e.target.value)} data-testid="warning-level-filter">
            <option value="">{t("common.all")}</option>
            {WARNING_LEVELS.map((l) => <option key={l} value={l}>{t("risk.warnings.atLeast", { level: t(`risk.wlevel.${l}`) })}</option>)}
          </select>
        </label>
        <div className="legend small">
          {WARNING_LEVELS.map((l) => <span key={l}><WarningBadge level={l} /> {t(`risk.wlevelMeaning.${l}`)}</span>)}
        </div>
      </div>
      <Panel>
        {q.isLoading ? <Loading /> : q.error ? <ErrorBox error={q.error} onRetry={() => q.refetch()} /> : !q.data?.items.length ? <Empty text={t("risk.warnings.empty")} /> : (
          <div className="warning-list" data-testid="warning-list">
            {q.data.items.map((w) => <WarningCard key={w.id} w={w} />)}
          </div>
        )}
        {q.data && q.data.total > LIMIT && <Pager total={q.data.total} limit={LIMIT} offset={offset} onChange={(o) => set("offset", String(o))} />}
      </Panel>
    </div>
  );
}
