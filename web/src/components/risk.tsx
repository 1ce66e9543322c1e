// Pieces the risk pages share (issue 15): a score's badge and its factors
// in words, a warning's 红/橙/黄/蓝 badge, a finding's badges, and the text of
// the server's two-language answers in the console's language.
import { useRef } from "react";
import { useTranslation } from "react-i18next";
import type { components } from "../api.gen";

export type RiskScore = components["schemas"]["RiskScore"];
export type BiText = components["schemas"]["BiText"];

/** The server's text in the console's language. */
export function useBi(): (t: BiText | null | undefined) => string {
  const { i18n } = useTranslation();
  const zh = i18n.language.startsWith("zh");
  return (t) => (t ? (zh ? t.zh : t.en) : "");
}

/** The score's band, in the alert levels' colours (one scale on every page). */
export function scoreBand(score: number): string {
  return score >= 75 ? "critical" : score >= 50 ? "high" : score >= 25 ? "medium" : score > 0 ? "low" : "informational";
}

export function ScoreBadge({ score }: { score: number }) {
  return <span className={`badge score level-${scoreBand(score)}`} data-testid="risk-score" data-score={score}>{score.toFixed(1)}</span>;
}

/** 红/橙/黄/蓝 (red highest). */
export const WARNING_LEVELS = ["red", "orange", "yellow", "blue"] as const;

export function WarningBadge({ level }: { level: string }) {
  const { t } = useTranslation();
  return <span className={`badge warn-${level}`} data-warning-level={level}>{t(`risk.wlevel.${level}`, { defaultValue: level })}</span>;
}

export function KevBadges({ kev, ransomware }: { kev: boolean; ransomware?: boolean }) {
  const { t } = useTranslation();
  return (
    <>
      {kev && <span className="badge kev" data-testid="kev-badge" title={t("risk.kevHint")}>KEV</span>}
      {ransomware && <span className="badge ransomware" data-testid="ransomware-badge" title={t("risk.ransomwareHint")}>{t("risk.ransomware")}</span>}
    </>
  );
}

/** A score's factors in words: each input, its weight and what it was made
 * of (the findings, the attacks), so an analyst can see why. */
export function Factors({ score, items = 5 }: { score: RiskScore; items?: number }) {
  const { t } = useTranslation();
  const bi = useBi();
  if (!score.factors.length) return <p className="muted small">{t("risk.noFactors")}</p>;
  return (
    <ul className="factors" data-testid="factors">
      {score.factors.map((f) => (
        <li key={f.key} data-factor={f.key}>
          <div>
            <span className="factor-name">{t(`risk.factor.${f.key}`, { defaultValue: f.key })}</span>{" "}
            <span className="muted small mono">
              {f.kind === "multiplier" ? `× ${f.weight.toFixed(2)}` : `${t("risk.weight")} ${f.weight.toFixed(2)}`} · {t("risk.input")} {f.input.toFixed(2)}
            </span>
          </div>
          <div className="small">{bi(f.text)}</div>
          {!!f.items?.length && (
            <ul className="factor-items small">
              {f.items.slice(0, items).map((i, n) => (
                <li key={`${i.id}-${n}`}>{bi(i.text)} <span className="muted mono">({i.input.toFixed(2)} × {i.weight.toFixed(2)} = {i.contribution.toFixed(2)})</span></li>
              ))}
              {f.items.length > items && <li className="muted">{t("risk.moreItems", { count: f.items.length - items })}</li>}
            </ul>
          )}
        </li>
      ))}
    </ul>
  );
}

/** The factors of a score in one line (the ranking's rows). */
export function factorLine(score: RiskScore, label: (key: string) => string): string {
  return score.factors
    .filter((f) => f.input > 0)
    .map((f) => `${label(f.key)} ${f.input.toFixed(2)}`)
    .join(" · ");
}

/** A filter box applied on Enter or on leaving it. */
export function TextFilter({ value, label, placeholder, onApply, testId, wide }: { value: string; label: string; placeholder?: string; onApply: (v: string) => void; testId?: string; wide?: boolean }) {
  return (
    <input type="search" style={wide ? { minWidth: 260 } : undefined} placeholder={placeholder ?? label} aria-label={label} defaultValue={value} data-testid={testId}
      onKeyDown={(e) => { if (e.key === "Enter") onApply(e.currentTarget.value.trim()); }} onBlur={(e) => onApply(e.target.value.trim())} />
  );
}

/** The file of an import dialog. */
export function FilePick({ file, onPick, testId }: { file: File | null; onPick: (f: File | null) => void; testId: string }) {
  const { t } = useTranslation();
  const ref = useRef<HTMLInputElement>(null);
  return (
    <div className="file-pick">
      <span className="label">{t("risk.file")}</span>
      <div className="row">
        <button type="button" className="btn" onClick={() => ref.current?.click()}>{t("risk.chooseFile")}</button>
        <span className={file ? "small mono ellipsis" : "small muted"}>{file ? file.name : t("risk.noFile")}</span>
      </div>
      <input ref={ref} type="file" hidden data-testid={testId} aria-label={t("risk.file")} onChange={(e) => onPick(e.target.files?.[0] ?? null)} />
    </div>
  );
}
