import { useQuery } from "@tanstack/react-query";
import { useNavigate, useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { ArrowLeft, ExternalLink } from "lucide-react";
import { api, type Res } from "../api";
import { ErrorBox, Loading, Panel } from "../components/common";

/** An ATT&CK technique explained from the server's local data, so ids on
 * alerts and the heatmap mean something on a network without internet. */
export default function AttackTechnique() {
  // `/attack/T1059/001` is sub-technique T1059.001 (see attackPath).
  const { id: tech = "", sub } = useParams();
  const id = sub ? `${tech}.${sub}` : tech;
  const { t, i18n } = useTranslation();
  const nav = useNavigate();
  const q = useQuery({
    queryKey: ["attack", id],
    queryFn: () => api<Res<"/attack/techniques/{id}">>(`/attack/techniques/${encodeURIComponent(id)}`),
    // Reference data: it changes only with a new server release.
    staleTime: Infinity,
  });
  const zh = i18n.language !== "en";
  return (
    <div className="attack-page" data-testid="attack-page">
      <button className="btn btn-ghost back" onClick={() => nav(-1)}><ArrowLeft size={14} aria-hidden /> {t("attack.back")}</button>
      {q.isLoading && <Loading />}
      {q.error && <ErrorBox error={q.error} />}
      {q.data && (
        <Panel title={<><span className="mono">{q.data.id}</span> {q.data.name}</>}>
          <dl className="facts">
            <dt>{t("attack.tactics")}</dt>
            <dd className="tags" data-testid="attack-tactics">
              {q.data.tactics.map((ta) => (
                <span key={ta.id} className="tag tactic" title={ta.id}>{zh ? ta.name_zh : ta.name}</span>
              ))}
            </dd>
            <dt>{t("attack.description")}</dt>
            <dd lang="en" data-testid="attack-description">{q.data.description}</dd>
            <dt>{t("attack.source")}</dt>
            <dd className="muted small">
              {t("attack.version", { version: q.data.version })}{" · "}
              <a href={q.data.url} target="_blank" rel="noreferrer">{t("attack.online")} <ExternalLink size={12} aria-hidden /></a>
            </dd>
          </dl>
        </Panel>
      )}
    </div>
  );
}
