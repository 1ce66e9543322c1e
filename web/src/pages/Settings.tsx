import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";
import { Copy, Plus, Send, Trash2 } from "lucide-react";
import { api, ApiError, LEVELS, str, type OutputDraft, type Role, type Req, type Res } from "../api";
import { useAuth } from "../auth";
import { Empty, ErrorBox, Loading, Panel, Toast } from "../components/common";
import { useFormat } from "../i18n";

/** The built-in roles (三权分立: system, security and audit administrators
 * apart), in the order the console offers them. */
const ROLES: Role[] = ["sysadmin", "secadmin", "auditor", "analyst", "responder", "viewer"];
const roleLabel = (t: (k: string) => string, r: string) => (ROLES.includes(r) ? t(`role.${r}`) : r);
const TABS = ["users", "tokens", "outputs", "password", "health"] as const;
type Tab = (typeof TABS)[number];

export default function Settings() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [params, setParams] = useSearchParams();
  const tabs = TABS.filter((x) => x !== "users" || can("users:read"));
  const tab = (tabs as readonly string[]).includes(params.get("tab") ?? "") ? (params.get("tab") as Tab) : tabs[0];
  const [toast, setToast] = useState<{ text: string; kind: "ok" | "err" } | null>(null);
  const say = (text: string, kind: "ok" | "err" = "ok") => setToast({ text, kind });
  const labels: Record<Tab, string> = {
    users: t("settings.users"), tokens: t("settings.tokens"), outputs: t("settings.outputs"), password: t("settings.password"), health: t("settings.health"),
  };
  return (
    <div className="settings-page">
      <div className="page-head"><h1>{t("settings.title")}</h1></div>
      <div className="tabs" role="tablist">
        {tabs.map((x) => (
          <button key={x} role="tab" aria-selected={tab === x} className={tab === x ? "tab on" : "tab"} onClick={() => setParams({ tab: x })}>{labels[x]}</button>
        ))}
      </div>
      <div role="tabpanel">
        {tab === "users" && <Users say={say} />}
        {tab === "tokens" && <Tokens say={say} />}
        {tab === "outputs" && <Outputs say={say} />}
        {tab === "password" && <Password say={say} />}
        {tab === "health" && <HealthTab />}
      </div>
      {toast && <Toast text={toast.text} kind={toast.kind} onDone={() => setToast(null)} />}
    </div>
  );
}

type Say = (text: string, kind?: "ok" | "err") => void;

function Users({ say }: { say: Say }) {
  const { t } = useTranslation();
  const f = useFormat();
  const qc = useQueryClient();
  const { user: me } = useAuth();
  const users = useQuery({ queryKey: ["users"], queryFn: () => api<Res<"/users">>("/users") });
  const orgs = useQuery({ queryKey: ["orgs"], queryFn: () => api<Res<"/orgs">>("/orgs") });
  const [form, setForm] = useState({ username: "", password: "", role: "analyst" as Role, org: "" });
  const done = () => void qc.invalidateQueries({ queryKey: ["users"] });
  const err = (e: Error) => say(e.message, "err");
  const create = useMutation({
    mutationFn: () => api<Res<"/users", "post">>("/users", { body: { username: form.username, password: form.password, roles: [form.role], org: form.org || null } satisfies Req<"/users"> }),
    onSuccess: () => { setForm({ username: "", password: "", role: "analyst", org: "" }); say(t("common.saved")); done(); },
    onError: err,
  });
  const patch = useMutation({ mutationFn: (p: { u: string; body: Req<"/users/{username}", "patch"> }) => api(`/users/${encodeURIComponent(p.u)}`, { method: "PATCH", body: p.body }), onSuccess: done, onError: err });
  const del = useMutation({ mutationFn: (u: string) => api(`/users/${encodeURIComponent(u)}`, { method: "DELETE" }), onSuccess: done, onError: err });
  if (users.isLoading) return <Loading />;
  if (users.error) return <ErrorBox error={users.error} />;
  return (
    <div className="grid g-2-1">
      <Panel title={t("settings.users")}>
        <table className="table">
          <thead><tr><th>{t("login.username")}</th><th>{t("common.role")}</th><th>{t("settings.org")}</th><th>{t("common.created")}</th><th>{t("settings.lastLogin")}</th><th>{t("common.actions")}</th></tr></thead>
          <tbody>
            {users.data!.items.map((u) => (
              <tr key={u.username} className={u.disabled ? "dim" : ""}>
                <td>{u.username} {u.disabled && <span className="tag small">{t("settings.disabledUser")}</span>}</td>
                <td>
                  {u.roles.length === 1 && ROLES.includes(u.roles[0]) ? (
                    <select value={u.roles[0]} aria-label={`${t("common.role")}: ${u.username}`} disabled={u.username === me?.username} onChange={(e) => patch.mutate({ u: u.username, body: { roles: [e.target.value] } })}>
                      {ROLES.map((r) => <option key={r} value={r}>{t(`role.${r}`)}</option>)}
                    </select>
                  ) : (
                    <span>{u.roles.map((r) => roleLabel(t, r)).join(" · ")}</span>
                  )}
                </td>
                <td className="small">{u.org}</td>
                <td className="small muted">{f.date(u.created)}</td>
                <td className="small muted">{u.last_login ? f.date(u.last_login) : t("common.never")}</td>
                <td className="row">
                  {u.username !== me?.username && (
                    <>
                      <button className="btn btn-sm" onClick={() => patch.mutate({ u: u.username, body: { disabled: !u.disabled } })}>{u.disabled ? t("settings.enable") : t("settings.disable")}</button>
                      <button className="icon-btn" aria-label={`${t("common.delete")} ${u.username}`} onClick={() => confirm(`${t("common.delete")} ${u.username}?`) && del.mutate(u.username)}><Trash2 size={14} aria-hidden /></button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>
      <Panel title={t("settings.newUser")}>
        <form className="form" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
          <label>{t("login.username")}<input required value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} /></label>
          <label>{t("login.password")}<input required type="password" autoComplete="new-password" minLength={12} value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} /></label>
          <label>{t("common.role")}
            <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>{ROLES.map((r) => <option key={r} value={r}>{t(`role.${r}`)}</option>)}</select>
          </label>
          <label>{t("settings.org")}
            <select value={form.org} onChange={(e) => setForm({ ...form, org: e.target.value })}>
              <option value="">{me?.org ?? ""}</option>
              {(orgs.data?.items ?? []).filter((o) => o.id !== me?.org).map((o) => <option key={o.id} value={o.id}>{o.name} ({o.id})</option>)}
            </select>
          </label>
          <button className="btn btn-primary" type="submit"><Plus size={16} aria-hidden /> {t("common.create")}</button>
        </form>
      </Panel>
    </div>
  );
}

function Tokens({ say }: { say: Say }) {
  const { t } = useTranslation();
  const f = useFormat();
  const qc = useQueryClient();
  const { user } = useAuth();
  const tokens = useQuery({ queryKey: ["tokens"], queryFn: () => api<Res<"/tokens">>("/tokens") });
  const [name, setName] = useState("");
  // Empty: the token holds the owner's own roles.
  const [role, setRole] = useState<Role>("");
  const [secret, setSecret] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: () => api<Res<"/tokens", "post">>("/tokens", { body: { name, roles: role ? [role] : null } satisfies Req<"/tokens"> }),
    onSuccess: (tk) => { setSecret(tk.secret ?? null); setName(""); void qc.invalidateQueries({ queryKey: ["tokens"] }); },
    onError: (e) => say((e as Error).message, "err"),
  });
  const del = useMutation({ mutationFn: (id: string) => api(`/tokens/${encodeURIComponent(id)}`, { method: "DELETE" }), onSuccess: () => void qc.invalidateQueries({ queryKey: ["tokens"] }) });
  return (
    <div className="grid g-2-1">
      <Panel title={t("settings.tokens")}>
        {tokens.isLoading ? <Loading /> : tokens.error ? <ErrorBox error={tokens.error} /> : !tokens.data!.items.length ? <Empty text={t("settings.noTokens")} /> : (
          <table className="table">
            <thead><tr><th>{t("common.name")}</th><th>{t("common.role")}</th><th>{t("settings.owner")}</th><th>{t("common.created")}</th><th>{t("common.lastUsed")}</th><th /></tr></thead>
            <tbody>
              {tokens.data!.items.map((tk) => (
                <tr key={tk.id}>
                  <td>{tk.name} <span className="muted small mono">{tk.id}</span></td>
                  <td>{tk.roles.map((r) => roleLabel(t, r)).join(" · ")}</td>
                  <td>{tk.owner}</td>
                  <td className="small muted">{f.date(tk.created)}</td>
                  <td className="small muted">{tk.last_used ? f.date(tk.last_used) : t("common.never")}</td>
                  <td><button className="icon-btn" aria-label={`${t("common.delete")} ${tk.name}`} onClick={() => confirm(`${t("common.delete")} ${tk.name}?`) && del.mutate(tk.id)}><Trash2 size={14} aria-hidden /></button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      <Panel title={t("settings.newToken")}>
        <form className="form" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
          <label>{t("common.name")}<input required value={name} onChange={(e) => setName(e.target.value)} placeholder="vector-dc01" /></label>
          <label>{t("common.role")}
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              <option value="">{t("settings.ownRoles")}</option>
              {ROLES.filter((r) => user?.roles.includes(r)).map((r) => <option key={r} value={r}>{t(`role.${r}`)}</option>)}
            </select>
          </label>
          <button className="btn btn-primary" type="submit"><Plus size={16} aria-hidden /> {t("common.create")}</button>
        </form>
        {secret && (
          <div className="secret-box" role="status">
            <div className="small">{t("settings.tokenSecret")}</div>
            <code className="mono">{secret}</code>
            <button className="btn btn-sm" onClick={() => { void navigator.clipboard?.writeText(secret); say(t("common.copied")); }}><Copy size={14} aria-hidden /> {t("common.copy")}</button>
          </div>
        )}
      </Panel>
    </div>
  );
}

const OUTPUT_TYPES = ["webhook", "dingtalk", "wecom", "feishu", "smtp", "syslog"];

function Outputs({ say }: { say: Say }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const { can } = useAuth();
  const outputs = useQuery({ queryKey: ["outputs"], queryFn: () => api<Res<"/settings/outputs">>("/settings/outputs"), retry: false });
  const [draft, setDraft] = useState<OutputDraft[] | null>(null);
  const items: OutputDraft[] = draft ?? outputs.data?.items ?? [];
  const save = useMutation({
    mutationFn: () => api("/settings/outputs", { method: "PUT", body: { items: items.map((o) => ({ ...o, to: o.to?.map((x) => x.trim()).filter(Boolean) })) } satisfies Req<"/settings/outputs", "put"> }),
    onSuccess: () => { setDraft(null); say(t("common.saved")); void qc.invalidateQueries({ queryKey: ["outputs"] }); },
    onError: (e) => say((e as Error).message, "err"),
  });
  const test = useMutation({
    mutationFn: (n: string) => api(`/settings/outputs/${encodeURIComponent(n)}/test`, { method: "POST" }),
    onSuccess: () => say(t("settings.testSent")),
    onError: (e) => say((e as Error).message, "err"),
  });
  if (outputs.isLoading) return <Loading />;
  if (outputs.error) {
    if (outputs.error instanceof ApiError && (outputs.error.status === 404 || outputs.error.status === 405)) return <Empty text={t("settings.outputsUnavailable")} />;
    return <ErrorBox error={outputs.error} />;
  }
  const edit = (i: number, patch: Partial<OutputDraft>) => setDraft(items.map((o, j) => (j === i ? { ...o, ...patch } : o)));
  const admin = can("outputs:write");
  return (
    <Panel title={t("settings.outputs")} actions={admin && (
      <>
        <button className="btn btn-sm" onClick={() => setDraft([...items, { name: `output-${items.length + 1}`, type: "webhook", url: "", min_level: "high" }])}><Plus size={14} aria-hidden /> {t("settings.addOutput")}</button>
        {draft && <button className="btn btn-sm btn-primary" onClick={() => save.mutate()}>{t("common.save")}</button>}
      </>
    )}>
      {!items.length ? <Empty text={t("settings.noOutputs")} /> : (
        <table className="table">
          <thead><tr><th>{t("common.name")}</th><th>{t("common.type")}</th><th>{t("settings.url")}</th><th>{t("settings.minLevel")}</th><th /></tr></thead>
          <tbody>
            {items.map((o, i) => (
              <tr key={i}>
                <td><input value={str(o.name) ?? ""} disabled={!admin} aria-label={t("common.name")} onChange={(e) => edit(i, { name: e.target.value })} /></td>
                <td>
                  <select value={str(o.type) ?? ""} disabled={!admin} aria-label={t("common.type")} onChange={(e) => edit(i, { type: e.target.value as OutputDraft["type"] })}>
                    {OUTPUT_TYPES.map((x) => <option key={x} value={x}>{t(`settings.outputTypes.${x}`)}</option>)}
                  </select>
                </td>
                <td>
                  {str(o.type) === "smtp" ? (
                    <input value={(o.to ?? []).join(", ")} disabled={!admin} aria-label={t("settings.to")} placeholder="soc@example.cn" onChange={(e) => edit(i, { to: e.target.value.split(",").map((x) => x.trimStart()) })} />
                  ) : (
                    <input className="mono" value={str(o.url) ?? ""} disabled={!admin} aria-label={t("settings.url")} placeholder="https://oapi.dingtalk.com/robot/send?access_token=…" onChange={(e) => edit(i, { url: e.target.value })} />
                  )}
                </td>
                <td>
                  <select value={str(o.min_level) ?? "high"} disabled={!admin} aria-label={t("settings.minLevel")} onChange={(e) => edit(i, { min_level: e.target.value as OutputDraft["min_level"] })}>
                    {LEVELS.map((l) => <option key={l} value={l}>{t(`level.${l}`)}</option>)}
                  </select>
                </td>
                <td className="row">
                  <button className="btn btn-sm" disabled={!!draft} onClick={() => test.mutate(str(o.name) ?? "")}><Send size={14} aria-hidden /> {t("settings.test")}</button>
                  {admin && <button className="icon-btn" aria-label={t("common.delete")} onClick={() => setDraft(items.filter((_, j) => j !== i))}><Trash2 size={14} aria-hidden /></button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

function Password({ say }: { say: Say }) {
  const { t } = useTranslation();
  const [oldPw, setOld] = useState("");
  const [newPw, setNew] = useState("");
  const m = useMutation({
    mutationFn: () => api("/auth/password", { body: { old: oldPw, new: newPw } satisfies Req<"/auth/password"> }),
    onSuccess: () => { setOld(""); setNew(""); say(t("settings.changed")); },
    onError: (e) => say((e as Error).message, "err"),
  });
  return (
    <Panel title={t("settings.password")}>
      <form className="form narrow" onSubmit={(e) => { e.preventDefault(); m.mutate(); }}>
        <label>{t("settings.oldPassword")}<input type="password" autoComplete="current-password" required value={oldPw} onChange={(e) => setOld(e.target.value)} /></label>
        <label>{t("settings.newPassword")}<input type="password" autoComplete="new-password" required minLength={12} value={newPw} onChange={(e) => setNew(e.target.value)} /></label>
        <button className="btn btn-primary" type="submit">{t("common.save")}</button>
      </form>
    </Panel>
  );
}

function HealthTab() {
  const { t } = useTranslation();
  const f = useFormat();
  const h = useQuery({ queryKey: ["health"], queryFn: () => api<Res<"/health">>("/health"), refetchInterval: 10_000 });
  if (h.isLoading) return <Loading />;
  if (h.error) return <ErrorBox error={h.error} />;
  const d = h.data!;
  return (
    <Panel title={t("settings.health")}>
      <dl className="facts">
        <div><dt>{t("alerts.status")}</dt><dd className={d.status === "ok" ? "ok" : "err"}>{d.status}</dd></div>
        <div><dt>{t("settings.version")}</dt><dd>{d.version}</dd></div>
        <div><dt>{t("settings.uptime")}</dt><dd>{f.duration(d.uptime_s)}</dd></div>
        <div><dt>{t("settings.storeEvents")}</dt><dd>{f.num(d.store.events)}</dd></div>
        <div><dt>{t("settings.storeBytes")}</dt><dd>{f.bytes(d.store.bytes)}</dd></div>
        <div><dt>{t("settings.rulesLoaded")}</dt><dd>{f.num(d.rules.loaded)} ({t("rules.disabled")} {f.num(d.rules.disabled)})</dd></div>
      </dl>
    </Panel>
  );
}
