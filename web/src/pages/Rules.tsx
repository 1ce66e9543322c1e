import { useRef, useState } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";
import { FilePlus2, FolderUp, RefreshCw, Upload } from "lucide-react";
import { api, attackTags, LEVELS, type Query, type Req, type Res, type RuleInfo } from "../api";
import { useAuth } from "../auth";
import { Empty, ErrorBox, RuleTitle, LevelBadge, Loading, Pager, Toast, useDebounced } from "../components/common";
import { useFormat } from "../i18n";

const LIMIT = 50;

async function readFiles(list: FileList): Promise<{ name: string; content: string }[]> {
  const files = [...list].filter((f) => /\.ya?ml$/i.test(f.name));
  return Promise.all(files.map(async (f) => ({ name: (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, content: await f.text() })));
}

export default function Rules() {
  const { t } = useTranslation();
  const f = useFormat();
  const qc = useQueryClient();
  const { can } = useAuth();
  const [params, setParams] = useSearchParams();
  const [text, setText] = useState(params.get("q") ?? "");
  const q = useDebounced(text, 250);
  const level = params.get("level") ?? "";
  const enabled = params.get("enabled") ?? "";
  const offset = Number(params.get("offset") ?? 0) || 0;
  const [toast, setToast] = useState<{ text: string; kind: "ok" | "err" } | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const dirRef = useRef<HTMLInputElement>(null);

  const set = (k: string, v: string) =>
    setParams((p) => {
      const n = new URLSearchParams(p);
      if (v) n.set(k, v);
      else n.delete(k);
      if (k !== "offset") n.delete("offset");
      return n;
    });

  const list = useQuery({
    queryKey: ["rules", q, level, enabled, offset],
    queryFn: ({ signal }) => api<Res<"/rules">>("/rules", { query: { q, level, enabled: enabled === "" ? undefined : enabled === "true", limit: LIMIT, offset } satisfies Query<"/rules">, signal }),
    placeholderData: keepPreviousData,
  });
  const toggle = useMutation({
    mutationFn: (r: RuleInfo) => api<Res<"/rules/{id}/enable", "post">>(`/rules/${encodeURIComponent(r.id)}/${r.enabled ? "disable" : "enable"}`, { method: "POST" }),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["rules"] }),
    onError: (e) => setToast({ text: String((e as Error).message), kind: "err" }),
  });
  const upload = useMutation({
    mutationFn: (files: { name: string; content: string }[]) => api<Res<"/rules", "post">>("/rules", { body: { files } satisfies Req<"/rules"> }),
    onSuccess: (r) => {
      const parts = [t("rules.loaded", { count: r.loaded.length })];
      if (r.rejected.length) parts.push(t("rules.rejected", { count: r.rejected.length }) + ": " + r.rejected.slice(0, 3).map((x) => x.name).join(", "));
      setToast({ text: parts.join(" · "), kind: r.rejected.length ? "err" : "ok" });
      void qc.invalidateQueries({ queryKey: ["rules"] });
    },
    onError: (e) => setToast({ text: String((e as Error).message), kind: "err" }),
  });
  const reload = useMutation({
    mutationFn: () => api<Res<"/rules/reload", "post">>("/rules/reload", { method: "POST" }),
    onSuccess: (r) => {
      setToast({ text: t("rules.loaded", { count: r.loaded }), kind: "ok" });
      void qc.invalidateQueries({ queryKey: ["rules"] });
    },
  });

  const onFiles = async (l: FileList | null) => {
    if (!l?.length) return;
    upload.mutate(await readFiles(l));
  };
  const writable = can("rules:write");

  return (
    <div className="rules-page">
      <div className="page-head">
        <h1>{t("rules.title")}</h1>
        <div className="grow" />
        {writable && (
          <>
            <Link className="btn btn-primary" to="/rules/new"><FilePlus2 size={16} aria-hidden /> {t("rules.newRule")}</Link>
            <button className="btn" onClick={() => fileRef.current?.click()}><Upload size={16} aria-hidden /> {t("rules.upload")}</button>
            <button className="btn" onClick={() => dirRef.current?.click()}><FolderUp size={16} aria-hidden /> {t("rules.uploadFolder")}</button>
            <button className="btn btn-ghost" onClick={() => reload.mutate()} title={t("rules.reload")} aria-label={t("rules.reload")}><RefreshCw size={16} aria-hidden /></button>
            <input ref={fileRef} type="file" accept=".yml,.yaml" multiple hidden data-testid="upload-files" onChange={(e) => { void onFiles(e.target.files); e.target.value = ""; }} />
            <input ref={dirRef} type="file" multiple hidden {...{ webkitdirectory: "", directory: "" }} onChange={(e) => { void onFiles(e.target.files); e.target.value = ""; }} />
          </>
        )}
      </div>
      <div className="toolbar">
        <input className="grow-input" placeholder={t("rules.searchPlaceholder")} aria-label={t("rules.searchPlaceholder")} value={text}
          onChange={(e) => { setText(e.target.value); set("offset", ""); }} data-testid="rule-search" />
        <select value={level} onChange={(e) => set("level", e.target.value)} aria-label={t("alerts.minLevel")}>
          <option value="">{t("alerts.minLevel")}: {t("common.all")}</option>
          {LEVELS.map((l) => <option key={l} value={l}>{t(`level.${l}`)}</option>)}
        </select>
        <select value={enabled} onChange={(e) => set("enabled", e.target.value)} aria-label={t("rules.state")}>
          <option value="">{t("rules.state")}: {t("common.all")}</option>
          <option value="true">{t("rules.onlyEnabled")}</option>
          <option value="false">{t("rules.onlyDisabled")}</option>
        </select>
      </div>
      {list.isLoading ? <Loading /> : list.error ? <ErrorBox error={list.error} onRetry={() => list.refetch()} /> : !list.data?.items.length ? <Empty text={t("rules.empty")} /> : (
        <>
          <table className="table" data-testid="rule-table">
            <thead>
              <tr>
                <th>{t("alerts.rule")}</th><th>{t("alerts.level")}</th><th>{t("alerts.attack")}</th><th>{t("rules.logsource")}</th>
                <th className="num">{t("rules.hits")}</th><th className="num">{t("rules.errors")}</th><th className="num">{t("rules.timeMs")}</th>
                <th>{t("rules.lastHit")}</th><th>{t("rules.state")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((r) => {
                const at = attackTags(r.tags);
                return (
                  <tr key={r.id} data-testid="rule-row" data-rule-id={r.id} className={r.enabled ? "" : "dim"}>
                    <td>
                      <Link to={`/rules/${encodeURIComponent(r.id)}`}><RuleTitle title={r.title} zh={r.title_zh} /></Link>
                      <div className="muted small">
                        {t(`rules.origin.${r.origin}`, { defaultValue: r.origin })} · {t(`rules.kindName.${r.kind}`, { defaultValue: r.kind })}
                      </div>
                    </td>
                    <td><LevelBadge level={r.level} /></td>
                    <td className="tags">
                      {at.tactics.slice(0, 2).map((x) => <span key={x} className="tag tactic small">{t(`tactic.${x}`, { defaultValue: x })}</span>)}
                      {at.techniques.slice(0, 3).map((x) => <span key={x} className="tag technique small mono">{x}</span>)}
                    </td>
                    <td className="muted small">{Object.values(r.logsource ?? {}).filter(Boolean).join(" / ")}</td>
                    <td className="num">{f.num(r.health.hits)}</td>
                    <td className={r.health.errors ? "num err" : "num"}>{f.num(r.health.errors)}</td>
                    <td className="num">{f.dec(r.health.time_ms)}</td>
                    <td className="small muted">{r.health.last_hit ? f.date(r.health.last_hit) : t("common.never")}</td>
                    <td>
                      <button
                        role="switch"
                        aria-checked={r.enabled}
                        aria-label={`${r.enabled ? t("rules.disable") : t("rules.enable")}: ${r.title}`}
                        className={r.enabled ? "switch on" : "switch"}
                        disabled={!writable || toggle.isPending}
                        data-testid="rule-toggle"
                        onClick={() => toggle.mutate(r)}
                      >
                        <span className="knob" aria-hidden />
                        <span className="switch-label">{r.enabled ? t("rules.enabled") : t("rules.disabled")}</span>
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <Pager total={list.data.total} limit={LIMIT} offset={offset} onChange={(o) => set("offset", String(o))} />
        </>
      )}
      {toast && <Toast text={toast.text} kind={toast.kind} onDone={() => setToast(null)} />}
    </div>
  );
}
