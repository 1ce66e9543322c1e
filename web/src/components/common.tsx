import { useEffect, useState, type ReactNode } from "react";
import { useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";
import { Inbox, AlertTriangle, Loader2 } from "lucide-react";
import { ApiError, errorMessage, type Alert, type Level } from "../api";

export function LevelBadge({ level }: { level: Level | string }) {
  const { t } = useTranslation();
  return <span className={`badge level-${level}`} data-level={level}>{t(`level.${level}`, { defaultValue: level })}</span>;
}

export function StatusBadge({ status, resolution }: { status: Alert["status"]; resolution?: Alert["resolution"] }) {
  const { t } = useTranslation();
  return (
    <span className={`badge status-${status}`} data-status={status}>
      {t(`status.${status}`, { defaultValue: status })}
      {resolution ? ` · ${t(`resolution.${resolution}`)}` : ""}
    </span>
  );
}

export function Empty({ text, children }: { text?: string; children?: ReactNode }) {
  const { t } = useTranslation();
  return (
    <div className="empty" data-empty>
      <Inbox size={28} aria-hidden />
      <div>{text ?? t("empty.title")}</div>
      {children}
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  // Translated when drawn, so a language switch re-says a kept error.
  const msg = error instanceof ApiError ? errorMessage(error.status, error.code, error.params) : error instanceof Error ? error.message : String(error);
  // The server's own words (English, with detail) stay beneath the
  // translated message, for a bug report or an administrator.
  const detail = error instanceof ApiError && error.detail !== msg ? error.detail : null;
  return (
    <div className="error-box" role="alert" data-code={error instanceof ApiError ? error.code : undefined}>
      <AlertTriangle size={18} aria-hidden />
      <span className="error-text">
        <span>{t("common.error")}: {msg}</span>
        {detail && <small className="error-detail" title={t("apiError.detail")}>{detail}</small>}
      </span>
      {onRetry && <button className="btn btn-sm" onClick={onRetry}>{t("common.retry")}</button>}
    </div>
  );
}

/** A rule's title in the console's language: in zh-CN the Chinese title
 * where the server has one, with the English (the rule author's) beside it,
 * small and muted, so an analyst can still search for it; English shows
 * only the English. */
export function RuleTitle({ title, zh }: { title: string; zh?: string | null }) {
  const { i18n } = useTranslation();
  if (i18n.language !== "zh-CN" || !zh) return <>{title}</>;
  return (
    <span className="rule-title">
      <span className="rule-title-zh">{zh}</span> <small className="rule-title-en muted" lang="en">{title}</small>
    </span>
  );
}

/** The plain-text form of [`RuleTitle`], for labels and charts. */
export function ruleTitleText(lang: string, title: string, zh?: string | null): string {
  return lang === "zh-CN" && zh ? zh : title;
}

export function Loading({ inline }: { inline?: boolean }) {
  const { t } = useTranslation();
  return (
    <div className={inline ? "loading inline" : "loading"} aria-busy="true">
      <Loader2 className="spin" size={18} aria-hidden /> {t("common.loading")}
    </div>
  );
}

export function Panel({ title, actions, children, className, id }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; id?: string }) {
  return (
    <section className={`panel ${className ?? ""}`} id={id} aria-label={typeof title === "string" ? title : undefined}>
      {(title || actions) && (
        <header className="panel-head">
          <h2>{title}</h2>
          <div className="panel-actions">{actions}</div>
        </header>
      )}
      <div className="panel-body">{children}</div>
    </section>
  );
}

export function Pager({ total, limit, offset, onChange }: { total: number; limit: number; offset: number; onChange: (o: number) => void }) {
  const { t } = useTranslation();
  const pages = Math.max(1, Math.ceil(total / limit));
  const page = Math.floor(offset / limit) + 1;
  return (
    <div className="pager">
      <span className="muted">{t("common.total", { count: total })}</span>
      <button className="btn btn-sm" disabled={page <= 1} onClick={() => onChange(Math.max(0, offset - limit))}>{t("common.prev")}</button>
      <span>{t("common.page", { page, pages })}</span>
      <button className="btn btn-sm" disabled={page >= pages} onClick={() => onChange(offset + limit)}>{t("common.next")}</button>
    </div>
  );
}

/** A value that follows `value` after `ms` without changes (typing). */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const h = setTimeout(() => setV(value), ms);
    return () => clearTimeout(h);
  }, [value, ms]);
  return v;
}

export function Toast({ text, kind = "ok", onDone }: { text: string; kind?: "ok" | "err"; onDone: () => void }) {
  useEffect(() => {
    const h = setTimeout(onDone, 3500);
    return () => clearTimeout(h);
  }, [onDone]);
  return <div className={`toast toast-${kind}`} role="status">{text}</div>;
}

export function download(name: string, mime: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: mime }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function fmtValue(v: unknown): string {
  if (v == null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/** A list page's filters in the URL (a link or reload keeps them): `get`,
 * `set` (a filter change goes back to the first page) and the offset. */
export function useParamState() {
  const [params, setParams] = useSearchParams();
  const get = (k: string, d = "") => params.get(k) ?? d;
  const set = (k: string, v: string) => {
    const p = new URLSearchParams(params);
    if (v) p.set(k, v);
    else p.delete(k);
    if (k !== "offset") p.delete("offset");
    setParams(p, { replace: true });
  };
  return { get, set, offset: Number(params.get("offset")) || 0 };
}
