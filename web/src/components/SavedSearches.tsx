// Saved searches on the search page: save the current query and range
// under a name, open a saved one, and schedule one to alert (interval,
// threshold, level). The server keeps them per organisation.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, type Req, type Res } from "../api";
import { useAuth } from "../auth";
import { useFormat } from "../i18n";
import { Empty, ErrorBox, Loading, Panel, Toast } from "./common";

export type SavedSearch = Res<"/saved-searches">["items"][number];
type Spec = Req<"/saved-searches">;
const LEVELS = ["informational", "low", "medium", "high", "critical"] as const;

function specOf(s: SavedSearch): Spec {
  return { name: s.name, query: s.query, from: s.from, to: s.to, interval_secs: s.interval_secs, threshold: s.threshold, level: s.level, enabled: s.enabled };
}

/** "Save search": a name for the current query and range. */
export function SaveSearch({ query, from, to, onClose }: { query: string; from: string; to: string; onClose: () => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const save = useMutation({
    mutationFn: () => api<Res<"/saved-searches", "post">>("/saved-searches", { body: { name: name.trim(), query, from, to: to === "now" ? null : to } satisfies Spec }),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["saved-searches"] });
      onClose();
    },
  });
  return (
    <form className="save-search" data-testid="save-search-form" onSubmit={(e) => { e.preventDefault(); if (name.trim()) save.mutate(); }}>
      <label>
        {t("saved.name")}
        <input autoFocus data-testid="save-search-name" value={name} maxLength={100} onChange={(e) => setName(e.target.value)} />
      </label>
      <span className="mono small muted">{query}</span>
      <button className="btn btn-primary btn-sm" type="submit" disabled={!name.trim() || save.isPending} data-testid="save-search-submit">{t("common.save")}</button>
      <button className="btn btn-sm" type="button" onClick={onClose}>{t("common.cancel")}</button>
      {save.error && <ErrorBox error={save.error} />}
    </form>
  );
}

/** The list of saved searches: open one, schedule it, delete it. */
export function SavedSearches({ onOpen }: { onOpen: (s: SavedSearch) => void }) {
  const { t } = useTranslation();
  const f = useFormat();
  const { can } = useAuth();
  const qc = useQueryClient();
  const [editing, setEditing] = useState<string | null>(null);
  const [toast, setToast] = useState<string | null>(null);
  const list = useQuery({
    queryKey: ["saved-searches"],
    queryFn: ({ signal }) => api<Res<"/saved-searches">>("/saved-searches", { signal }),
  });
  const remove = useMutation({
    mutationFn: (id: string) => api<void>(`/saved-searches/${encodeURIComponent(id)}`, { method: "DELETE" }),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["saved-searches"] }),
  });
  const writable = can("searches:write");
  const items = list.data?.items ?? [];
  return (
    <Panel title={t("saved.title")} className="saved-searches">
      {list.isLoading && <Loading inline />}
      {list.error && <ErrorBox error={list.error} onRetry={() => list.refetch()} />}
      {list.data && !items.length && <Empty text={t("saved.none")} />}
      {items.length > 0 && (
        <table className="table" data-testid="saved-list">
          <thead>
            <tr><th>{t("common.name")}</th><th>{t("saved.query")}</th><th>{t("saved.schedule")}</th><th>{t("saved.lastRun")}</th><th>{t("common.actions")}</th></tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.id} data-testid="saved-row" data-name={s.name}>
                <td><button className="linklike" data-testid="saved-open" onClick={() => onOpen(s)}>{s.name}</button></td>
                <td className="mono small">{s.query}</td>
                <td className="small">
                  {s.interval_secs && s.enabled
                    ? t("saved.every", { minutes: Math.round(s.interval_secs / 60), threshold: s.threshold, level: t(`level.${s.level}`) })
                    : t("saved.notScheduled")}
                </td>
                <td className="small">{s.last_run ? `${f.date(s.last_run)} · ${s.last_result ?? ""}` : t("common.never")}</td>
                <td className="nowrap">
                  {writable && (
                    <>
                      <button className="btn btn-sm" data-testid="saved-schedule" onClick={() => setEditing(editing === s.id ? null : s.id)}>{t("saved.scheduleBtn")}</button>{" "}
                      <button className="btn btn-sm" onClick={() => { if (window.confirm(t("saved.confirmDelete", { name: s.name }))) remove.mutate(s.id); }}>{t("common.delete")}</button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && items.find((s) => s.id === editing) && (
        <ScheduleForm s={items.find((s) => s.id === editing)!} onDone={(msg) => { setEditing(null); if (msg) setToast(msg); }} />
      )}
      {remove.error && <ErrorBox error={remove.error} />}
      {toast && <Toast text={toast} onDone={() => setToast(null)} />}
    </Panel>
  );
}

/** Interval (minutes), threshold and level of a scheduled search. */
function ScheduleForm({ s, onDone }: { s: SavedSearch; onDone: (msg?: string) => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [minutes, setMinutes] = useState(String(Math.max(1, Math.round((s.interval_secs ?? 900) / 60))));
  const [threshold, setThreshold] = useState(String(s.threshold));
  const [level, setLevel] = useState(s.level);
  const [enabled, setEnabled] = useState(s.interval_secs ? s.enabled : true);
  const save = useMutation({
    mutationFn: () =>
      api<Res<"/saved-searches/{id}", "put">>(`/saved-searches/${encodeURIComponent(s.id)}`, {
        method: "PUT",
        body: { ...specOf(s), interval_secs: Math.round(Number(minutes) * 60), threshold: Number(threshold), level, enabled } satisfies Spec,
      }),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["saved-searches"] });
      onDone(t("common.saved"));
    },
  });
  return (
    <form className="schedule-form" data-testid="schedule-form" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
      <h3>{t("saved.scheduleTitle", { name: s.name })}</h3>
      <label>
        {t("saved.interval")}
        <input type="number" min={1} max={10080} data-testid="schedule-minutes" value={minutes} onChange={(e) => setMinutes(e.target.value)} />
      </label>
      <label>
        {t("saved.threshold")}
        <input type="number" min={0} data-testid="schedule-threshold" value={threshold} onChange={(e) => setThreshold(e.target.value)} />
      </label>
      <label>
        {t("alerts.level")}
        <select value={level} data-testid="schedule-level" onChange={(e) => setLevel(e.target.value)}>
          {LEVELS.map((l) => <option key={l} value={l}>{t(`level.${l}`)}</option>)}
        </select>
      </label>
      <label className="check">
        <input type="checkbox" checked={enabled} data-testid="schedule-enabled" onChange={(e) => setEnabled(e.target.checked)} /> {t("saved.enabled")}
      </label>
      <span className="muted small">{t("saved.scheduleHelp")}</span>
      <button className="btn btn-primary btn-sm" type="submit" disabled={save.isPending} data-testid="schedule-submit">{t("common.save")}</button>
      <button className="btn btn-sm" type="button" onClick={() => onDone()}>{t("common.cancel")}</button>
      {save.error && <ErrorBox error={save.error} />}
    </form>
  );
}
