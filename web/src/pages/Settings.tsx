import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";
import { Copy, Plus, Send, Trash2 } from "lucide-react";
import { api, ApiError, LEVELS, str, type Org, type OutputDraft, type Permission, type PermissionInfo, type Req, type Res, type RoleInfo } from "../api";
import { useAuth } from "../auth";
import { Empty, ErrorBox, Loading, Panel, Toast } from "../components/common";
import { useFormat } from "../i18n";
import { indented, orgTree } from "../orgs";

const TABS = ["users", "roles", "orgs", "tokens", "outputs", "password", "health"] as const;
type Tab = (typeof TABS)[number];

export default function Settings() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const [params, setParams] = useSearchParams();
  // Users and roles need `users:read`, organisations `orgs:read`.
  const tabs = TABS.filter((x) => ((x !== "users" && x !== "roles") || can("users:read")) && (x !== "orgs" || can("orgs:read")));
  const tab = (tabs as readonly string[]).includes(params.get("tab") ?? "") ? (params.get("tab") as Tab) : tabs[0];
  const [toast, setToast] = useState<{ text: string; kind: "ok" | "err" } | null>(null);
  const say = (text: string, kind: "ok" | "err" = "ok") => setToast({ text, kind });
  const labels: Record<Tab, string> = {
    users: t("settings.users"), roles: t("roles.title"), orgs: t("orgs.title"), tokens: t("settings.tokens"), outputs: t("settings.outputs"),
    password: t("settings.password"), health: t("settings.health"),
  };
  return (
    <div className="settings-page">
      <div className="page-head"><h1>{t("settings.title")}</h1></div>
      <div className="tabs" role="tablist">
        {tabs.map((x) => (
          <button key={x} role="tab" data-tab={x} aria-selected={tab === x} className={tab === x ? "tab on" : "tab"} onClick={() => setParams({ tab: x })}>{labels[x]}</button>
        ))}
      </div>
      <div role="tabpanel">
        {tab === "users" && <Users say={say} />}
        {tab === "roles" && <Roles say={say} />}
        {tab === "orgs" && <Orgs say={say} />}
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

/** Every role (built-in and custom) and permission, with labels in the
 * console's language: built-in roles by their zh/en names, custom ones by
 * the name they were given. */
function useRoles() {
  const { i18n } = useTranslation();
  const { can } = useAuth();
  const q = useQuery({ queryKey: ["roles"], queryFn: () => api<Res<"/roles">>("/roles"), enabled: can("users:read"), staleTime: 60_000 });
  const zh = i18n.language !== "en";
  const items = q.data?.items ?? [];
  const label = (id: string) => {
    const r = items.find((x) => x.id === id);
    return r ? (zh ? r.name_zh : r.name) : id;
  };
  const permLabel = (p: PermissionInfo) => (zh ? p.label_zh : p.label);
  return { q, items, permissions: q.data?.permissions ?? [], label, permLabel };
}

/** Roles as checkboxes: an account may hold several. */
function RolePicker({ roles, value, onChange, label, testid }: { roles: RoleInfo[]; value: string[]; onChange: (v: string[]) => void; label: (id: string) => string; testid: string }) {
  const toggle = (id: string, on: boolean) => onChange(on ? [...value, id] : value.filter((x) => x !== id));
  return (
    <div className="check-list" data-testid={testid}>
      {roles.map((r) => (
        <label key={r.id} title={r.id}>
          <input type="checkbox" value={r.id} checked={value.includes(r.id)} onChange={(e) => toggle(r.id, e.target.checked)} />
          {label(r.id)}
        </label>
      ))}
    </div>
  );
}

/** The caller's organisations as a `<select>` tree. */
function OrgSelect({ value, onChange, testid, label }: { value: string; onChange: (v: string) => void; testid: string; label: string }) {
  const { orgs } = useAuth();
  return (
    <select value={value} data-testid={testid} aria-label={label} onChange={(e) => onChange(e.target.value)}>
      {orgTree(orgs).map((n) => <option key={n.org.id} value={n.org.id}>{indented(n, `${n.org.name} (${n.org.id})`)}</option>)}
    </select>
  );
}

/** What the server refused, in its words (zh-CN and English), under a
 * form; with `hint`, the rule it enforces is said before anyone trips it. */
function Refusal({ error, testid, hint }: { error: string | null; testid: string; hint?: string }) {
  return (
    <>
      {hint && <div className="muted small">{hint}</div>}
      {error && <div className="form-error" role="alert" data-testid={testid}>{error}</div>}
    </>
  );
}

const orgName = (orgs: readonly Org[], id: string) => orgs.find((o) => o.id === id)?.name ?? id;

function Users({ say }: { say: Say }) {
  const { t } = useTranslation();
  const f = useFormat();
  const qc = useQueryClient();
  const { user: me, org: scope, orgs, can } = useAuth();
  const roles = useRoles();
  const users = useQuery({ queryKey: ["users"], queryFn: () => api<Res<"/users">>("/users") });
  // A new account goes to the organisation on screen unless told otherwise.
  // An administrator sets a first password; by default its holder must
  // choose its own at the first sign-in (等保: no one knows another's).
  const blank = () => ({ username: "", password: "", roles: ["analyst"], org: scope ?? me?.org ?? "", mustChange: true });
  const [form, setForm] = useState(blank);
  const [editing, setEditing] = useState<{ username: string; roles: string[]; org: string } | null>(null);
  // The server's message (separation of duties, password policy) as it comes.
  const [error, setError] = useState<string | null>(null);
  const done = () => void qc.invalidateQueries({ queryKey: ["users"] });
  // Shown in the form, by what it refused (no toast on top of it).
  const err = (e: Error) => setError(e.message);
  // Unscoped: the form names its organisation, any of the caller's, whatever the switcher shows.
  const create = useMutation({
    mutationFn: () => api<Res<"/users", "post">>("/users", { unscoped: true, body: { username: form.username, password: form.password, roles: form.roles, org: form.org || null, must_change_password: form.mustChange } satisfies Req<"/users"> }),
    onSuccess: () => { setForm(blank()); setError(null); say(t("common.saved")); done(); },
    onError: err,
  });
  const patch = useMutation({
    mutationFn: (p: { u: string; body: Req<"/users/{username}", "patch"> }) => api(`/users/${encodeURIComponent(p.u)}`, { method: "PATCH", body: p.body }),
    onSuccess: () => { setEditing(null); setError(null); done(); },
    onError: err,
  });
  const del = useMutation({ mutationFn: (u: string) => api(`/users/${encodeURIComponent(u)}`, { method: "DELETE" }), onSuccess: done, onError: err });
  if (users.isLoading) return <Loading />;
  if (users.error) return <ErrorBox error={users.error} />;
  const write = can("users:write");
  return (
    <div className="grid g-2-1">
      <Panel title={t("settings.users")}>
        <table className="table" data-testid="user-table">
          <thead><tr><th>{t("login.username")}</th><th>{t("roles.roles")}</th><th>{t("settings.org")}</th><th>{t("common.created")}</th><th>{t("settings.lastLogin")}</th><th>{t("common.actions")}</th></tr></thead>
          <tbody>
            {users.data!.items.map((u) => (
              <tr key={u.username} className={u.disabled ? "dim" : ""} data-testid="user-row" data-user={u.username}>
                <td>{u.username} {u.disabled && <span className="tag small">{t("settings.disabledUser")}</span>}</td>
                <td>
                  {editing?.username === u.username ? (
                    <RolePicker roles={roles.items} value={editing.roles} onChange={(v) => setEditing({ ...editing, roles: v })} label={roles.label} testid="edit-roles" />
                  ) : (
                    <span className="tags">{u.roles.map((r) => <span key={r} className="tag" data-role={r}>{roles.label(r)}</span>)}</span>
                  )}
                </td>
                <td className="small">
                  {editing?.username === u.username ? (
                    <OrgSelect value={editing.org} onChange={(v) => setEditing({ ...editing, org: v })} testid="edit-org" label={t("settings.org")} />
                  ) : (
                    <span title={u.org}>{orgName(orgs, u.org)} <span className="muted mono">{u.org}</span></span>
                  )}
                </td>
                <td className="small muted nowrap">{f.iso(u.created)}</td>
                <td className="small muted nowrap">{u.last_login ? f.iso(u.last_login) : t("common.never")}</td>
                <td className="row-actions">
                  {write && u.username !== me?.username && (editing?.username === u.username ? (
                    <>
                      <button className="btn btn-sm btn-primary" onClick={() => patch.mutate({ u: u.username, body: { roles: editing.roles, org: editing.org } })}>{t("common.save")}</button>
                      <button className="btn btn-sm" onClick={() => setEditing(null)}>{t("common.cancel")}</button>
                    </>
                  ) : (
                    <>
                      <button className="btn btn-sm" onClick={() => setEditing({ username: u.username, roles: u.roles, org: u.org })}>{t("common.edit")}</button>
                      <button className="btn btn-sm" onClick={() => patch.mutate({ u: u.username, body: { disabled: !u.disabled } })}>{u.disabled ? t("settings.enable") : t("settings.disable")}</button>
                      <button className="icon-btn" aria-label={`${t("common.delete")} ${u.username}`} onClick={() => confirm(`${t("common.delete")} ${u.username}?`) && del.mutate(u.username)}><Trash2 size={14} aria-hidden /></button>
                    </>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>
      {write && (
        <Panel title={t("settings.newUser")}>
          <form className="form" data-testid="new-user" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
            <label>{t("login.username")}<input name="username" required maxLength={64} value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} /></label>
            <label>{t("login.password")}<input name="password" required type="password" autoComplete="new-password" maxLength={256} value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} /></label>
            <label className="check"><input type="checkbox" name="must-change" checked={form.mustChange} onChange={(e) => setForm({ ...form, mustChange: e.target.checked })} /> {t("password.mustChange")}</label>
            <div className="field-label">{t("roles.roles")}</div>
            <RolePicker roles={roles.items} value={form.roles} onChange={(v) => setForm({ ...form, roles: v })} label={roles.label} testid="new-user-roles" />
            <label>{t("settings.org")}<OrgSelect value={form.org} onChange={(v) => setForm({ ...form, org: v })} testid="new-user-org" label={t("settings.org")} /></label>
            <Refusal error={error} testid="user-error" hint={t("roles.separationHint")} />
            <button className="btn btn-primary" type="submit" disabled={!form.roles.length}><Plus size={16} aria-hidden /> {t("common.create")}</button>
          </form>
        </Panel>
      )}
    </div>
  );
}

/** Settings → 角色: the built-in roles with what they grant (fixed), and
 * custom roles made of permissions; the server refuses one that breaks the
 * separation of duties, and its message is shown as it comes. */
function Roles({ say }: { say: Say }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const { can } = useAuth();
  const roles = useRoles();
  const blank = { id: "", name: "", permissions: [] as Permission[], existing: false };
  const [form, setForm] = useState(blank);
  const [error, setError] = useState<string | null>(null);
  const done = () => { void qc.invalidateQueries({ queryKey: ["roles"] }); void qc.invalidateQueries({ queryKey: ["users"] }); };
  const save = useMutation({
    mutationFn: () => api<Res<"/roles/{id}", "put">>(`/roles/${encodeURIComponent(form.id.trim())}`, { method: "PUT", body: { name: form.name, permissions: form.permissions } satisfies Req<"/roles/{id}", "put"> }),
    onSuccess: () => { setForm(blank); setError(null); say(t("common.saved")); done(); },
    onError: (e) => setError((e as Error).message),
  });
  const del = useMutation({
    mutationFn: (id: string) => api(`/roles/${encodeURIComponent(id)}`, { method: "DELETE" }),
    onSuccess: done,
    onError: (e) => say((e as Error).message, "err"),
  });
  if (roles.q.isLoading) return <Loading />;
  if (roles.q.error) return <ErrorBox error={roles.q.error} />;
  const write = can("users:write");
  const toggle = (p: Permission, on: boolean) => setForm({ ...form, permissions: on ? [...form.permissions, p] : form.permissions.filter((x) => x !== p) });
  return (
    <div className="grid g-2-1">
      <Panel title={t("roles.title")}>
        <table className="table" data-testid="role-table">
          <thead><tr><th>{t("common.name")}</th><th>{t("roles.permissions")}</th><th>{t("common.actions")}</th></tr></thead>
          <tbody>
            {roles.items.map((r) => (
              <tr key={r.id} data-testid="role-row" data-role={r.id}>
                <td className="nowrap">
                  {roles.label(r.id)} <span className="muted mono small">{r.id}</span>
                  <div><span className="tag small">{r.builtin ? t("roles.builtin") : t("roles.custom")}</span></div>
                </td>
                <td><span className="tags">{r.permissions.map((p) => <span key={p.id} className="tag small" title={p.id}>{roles.permLabel(p)}</span>)}</span></td>
                <td className="row-actions">
                  {write && !r.builtin && (
                    <>
                      <button className="btn btn-sm" onClick={() => { setError(null); setForm({ id: r.id, name: r.name, permissions: r.permissions.map((p) => p.id), existing: true }); }}>{t("common.edit")}</button>
                      <button className="icon-btn" aria-label={`${t("common.delete")} ${r.name}`} onClick={() => confirm(`${t("common.delete")} ${r.name}?`) && del.mutate(r.id)}><Trash2 size={14} aria-hidden /></button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>
      {write && (
        <Panel title={form.existing ? `${t("roles.edit")}: ${form.name}` : t("roles.new")}>
          <form className="form" data-testid="role-form" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
            <label>{t("roles.id")}<input name="role-id" required pattern="[a-z0-9_\-]{2,32}" maxLength={32} disabled={form.existing} value={form.id} onChange={(e) => setForm({ ...form, id: e.target.value })} placeholder="shift-lead" /></label>
            <div className="muted small">{t("roles.idHint")}</div>
            <label>{t("common.name")}<input name="role-name" required maxLength={64} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} /></label>
            <div className="field-label">{t("roles.permissions")}</div>
            <div className="check-list perms" data-testid="role-permissions">
              {roles.permissions.map((p) => (
                <label key={p.id} title={p.id}>
                  <input type="checkbox" value={p.id} checked={form.permissions.includes(p.id)} onChange={(e) => toggle(p.id, e.target.checked)} />
                  {roles.permLabel(p)}
                </label>
              ))}
            </div>
            <Refusal error={error} testid="role-error" hint={t("roles.separationHint")} />
            <div className="row">
              <button className="btn btn-primary" type="submit"><Plus size={16} aria-hidden /> {form.existing ? t("common.save") : t("common.create")}</button>
              {form.existing && <button className="btn" type="button" onClick={() => { setForm(blank); setError(null); }}>{t("common.cancel")}</button>}
            </div>
          </form>
        </Panel>
      )}
    </div>
  );
}

/** Settings → 组织: the caller's part of the tree, with the id each
 * organisation's events carry and how data is bound to it. */
function Orgs({ say }: { say: Say }) {
  const { t } = useTranslation();
  const f = useFormat();
  const qc = useQueryClient();
  const { can, user } = useAuth();
  // Unscoped: the tab manages the caller's whole tree whatever the switcher shows.
  const list = useQuery({ queryKey: ["orgs"], queryFn: () => api<Res<"/orgs">>("/orgs", { unscoped: true }) });
  const [form, setForm] = useState({ id: "", name: "", parent: "" });
  const [renaming, setRenaming] = useState<{ id: string; name: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The switcher offers what /auth/me lists: refresh it with the list.
  const done = () => { setError(null); void qc.invalidateQueries({ queryKey: ["orgs"] }); void qc.invalidateQueries({ queryKey: ["me"] }); };
  const fail = (e: Error) => setError(e.message);
  const create = useMutation({
    mutationFn: () => api<Res<"/orgs", "post">>("/orgs", { unscoped: true, body: { id: form.id.trim(), name: form.name.trim(), parent: form.parent || null } satisfies Req<"/orgs"> }),
    onSuccess: () => { setForm({ id: "", name: "", parent: form.parent }); say(t("common.saved")); done(); },
    onError: fail,
  });
  const rename = useMutation({
    mutationFn: (r: { id: string; name: string }) => api(`/orgs/${encodeURIComponent(r.id)}`, { unscoped: true, method: "PATCH", body: { name: r.name.trim() } satisfies Req<"/orgs/{id}", "patch"> }),
    onSuccess: () => { setRenaming(null); done(); },
    onError: fail,
  });
  const del = useMutation({ mutationFn: (id: string) => api(`/orgs/${encodeURIComponent(id)}`, { unscoped: true, method: "DELETE" }), onSuccess: done, onError: fail });
  if (list.isLoading) return <Loading />;
  if (list.error) return <ErrorBox error={list.error} />;
  const items = list.data!.items;
  const write = can("orgs:write");
  return (
    <div className="grid g-2-1">
      <Panel title={t("orgs.title")}>
        <table className="table org-tree" data-testid="org-table">
          <thead><tr><th>{t("common.name")}</th><th>{t("orgs.id")}</th><th>{t("common.created")}</th><th>{t("common.actions")}</th></tr></thead>
          <tbody>
            {orgTree(items).map((n) => (
              <tr key={n.org.id} data-testid="org-row" data-org={n.org.id}>
                <td style={{ paddingLeft: 10 + 20 * n.depth }}>
                  {renaming?.id === n.org.id ? (
                    <form className="row" onSubmit={(e) => { e.preventDefault(); rename.mutate(renaming); }}>
                      <input aria-label={t("common.name")} required maxLength={64} value={renaming.name} onChange={(e) => setRenaming({ ...renaming, name: e.target.value })} />
                      <button className="btn btn-sm btn-primary" type="submit">{t("common.save")}</button>
                      <button className="btn btn-sm" type="button" onClick={() => setRenaming(null)}>{t("common.cancel")}</button>
                    </form>
                  ) : (
                    <>{n.depth > 0 && <span className="muted">└ </span>}{n.org.name}{n.org.id === user?.org && <span className="tag small">{t("orgs.own")}</span>}</>
                  )}
                </td>
                <td className="mono small">{n.org.id}</td>
                <td className="small muted nowrap">{f.iso(n.org.created)}</td>
                <td className="row-actions">
                  {write && renaming?.id !== n.org.id && (
                    <>
                      <button className="btn btn-sm" onClick={() => setRenaming({ id: n.org.id, name: n.org.name })}>{t("orgs.rename")}</button>
                      {n.org.id !== user?.org && <button className="icon-btn" aria-label={`${t("common.delete")} ${n.org.name}`} onClick={() => confirm(t("orgs.deleteConfirm", { name: n.org.name })) && del.mutate(n.org.id)}><Trash2 size={14} aria-hidden /></button>}
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="org-note" data-testid="org-note">
          <p>{t("orgs.noteEvents")}</p>
          <ul>
            <li>{t("orgs.noteListener")} <code>org = "east-grid"</code>, <code>org_by_source = {"{"} "10.1.0.0/16" = "east-grid" {"}"}</code> (<code>taishi.toml</code>)</li>
            <li>{t("orgs.noteToken")}</li>
          </ul>
        </div>
      </Panel>
      {write && (
        <Panel title={t("orgs.new")}>
          <form className="form" data-testid="new-org" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
            <label>{t("orgs.id")}<input name="org-id" required pattern="[a-z0-9\-]{2,32}" maxLength={32} value={form.id} onChange={(e) => setForm({ ...form, id: e.target.value })} placeholder="east-grid" /></label>
            <div className="muted small">{t("orgs.idHint")}</div>
            <label>{t("common.name")}<input name="org-name" required maxLength={64} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} /></label>
            <label>{t("orgs.parent")}
              <select name="org-parent" value={form.parent} onChange={(e) => setForm({ ...form, parent: e.target.value })}>
                <option value="">{t("orgs.ownParent")}</option>
                {orgTree(items).map((n) => <option key={n.org.id} value={n.org.id}>{indented(n, `${n.org.name} (${n.org.id})`)}</option>)}
              </select>
            </label>
            <Refusal error={error} testid="org-error" />
            <button className="btn btn-primary" type="submit"><Plus size={16} aria-hidden /> {t("common.create")}</button>
          </form>
        </Panel>
      )}
    </div>
  );
}

function Tokens({ say }: { say: Say }) {
  const { t } = useTranslation();
  const f = useFormat();
  const qc = useQueryClient();
  const { user, org: scope, orgs, can } = useAuth();
  const roles = useRoles();
  const tokens = useQuery({ queryKey: ["tokens"], queryFn: () => api<Res<"/tokens">>("/tokens") });
  const [name, setName] = useState("");
  // None ticked: the token holds the owner's own roles.
  const [picked, setPicked] = useState<string[]>([]);
  const [org, setOrg] = useState(scope ?? user?.org ?? "");
  const [secret, setSecret] = useState<string | null>(null);
  // Unscoped, as for a new user: the form names the organisation.
  const create = useMutation({
    mutationFn: () => api<Res<"/tokens", "post">>("/tokens", { unscoped: true, body: { name, roles: picked.length ? picked : null, org: org || null } satisfies Req<"/tokens"> }),
    onSuccess: (tk) => { setSecret(tk.secret ?? null); setName(""); setPicked([]); void qc.invalidateQueries({ queryKey: ["tokens"] }); },
    onError: (e) => say((e as Error).message, "err"),
  });
  const del = useMutation({ mutationFn: (id: string) => api(`/tokens/${encodeURIComponent(id)}`, { method: "DELETE" }), onSuccess: () => void qc.invalidateQueries({ queryKey: ["tokens"] }) });
  // A token grants no more than its owner: offer the roles within the owner's permissions.
  const offered = roles.items.filter((r) => r.permissions.every((p) => can(p.id)));
  return (
    <div className="grid g-2-1">
      <Panel title={t("settings.tokens")}>
        {tokens.isLoading ? <Loading /> : tokens.error ? <ErrorBox error={tokens.error} /> : !tokens.data!.items.length ? <Empty text={t("settings.noTokens")} /> : (
          <table className="table">
            <thead><tr><th>{t("common.name")}</th><th>{t("roles.roles")}</th><th>{t("settings.org")}</th><th>{t("settings.owner")}</th><th>{t("common.created")}</th><th>{t("common.lastUsed")}</th><th /></tr></thead>
            <tbody>
              {tokens.data!.items.map((tk) => (
                <tr key={tk.id}>
                  <td>{tk.name} <span className="muted small mono">{tk.id}</span></td>
                  <td>{tk.roles.map((r) => roles.label(r)).join(" · ")}</td>
                  <td className="small">{orgName(orgs, tk.org)} <span className="muted mono">{tk.org}</span></td>
                  <td>{tk.owner}</td>
                  <td className="small muted nowrap">{f.iso(tk.created)}</td>
                  <td className="small muted nowrap">{tk.last_used ? f.iso(tk.last_used) : t("common.never")}</td>
                  <td><button className="icon-btn" aria-label={`${t("common.delete")} ${tk.name}`} onClick={() => confirm(`${t("common.delete")} ${tk.name}?`) && del.mutate(tk.id)}><Trash2 size={14} aria-hidden /></button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      <Panel title={t("settings.newToken")}>
        <form className="form" onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
          <label>{t("common.name")}<input required maxLength={64} value={name} onChange={(e) => setName(e.target.value)} placeholder="vector-dc01" /></label>
          <div className="field-label">{t("roles.roles")}</div>
          {offered.length > 0 && <RolePicker roles={offered} value={picked} onChange={setPicked} label={roles.label} testid="token-roles" />}
          <div className="muted small">{t("settings.ownRolesHint")}</div>
          <label>{t("settings.org")}<OrgSelect value={org} onChange={setOrg} testid="token-org" label={t("settings.org")} /></label>
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
/** What the server shows for a saved secret; sent back, it keeps the secret. */
const MASK = "********";
const FACILITIES = ["local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7", "user", "auth", "authpriv", "daemon", "security"];

/** Where an output sends, in one line for the list. */
function outputTarget(o: OutputDraft): string {
  if (o.type === "smtp") {
    const tls = o.tls ?? "starttls";
    const port = o.port ?? (tls === "none" ? 25 : tls === "tls" ? 465 : 587);
    return `${o.host ?? ""}:${port} → ${(o.to ?? []).filter(Boolean).join(", ")}`;
  }
  if (o.type === "syslog") {
    const proto = o.protocol ?? "udp";
    return `${proto}://${o.host ?? ""}:${o.port ?? (proto === "tls" ? 6514 : 514)} (${o.format ?? "cef"})`;
  }
  return o.url ?? "";
}

/** The settings of the mail and syslog outputs, under the output's row. */
function OutputDetails({ o, admin, saved, edit }: { o: OutputDraft; admin: boolean; saved: boolean; edit: (patch: Partial<OutputDraft>) => void }) {
  const { t } = useTranslation();
  const portInput = (fallback: number) => (
    <label>{t("outputForm.port")}
      <input type="number" min={1} max={65535} value={o.port ?? ""} placeholder={String(fallback)} disabled={!admin}
        onChange={(e) => edit({ port: e.target.value === "" ? null : Number(e.target.value) })} />
    </label>
  );
  const host = (
    <label className="wide">{t("outputForm.host")}
      <input className="mono" value={o.host ?? ""} disabled={!admin} placeholder={o.type === "smtp" ? "smtp.example.cn" : "siem.example.cn"} onChange={(e) => edit({ host: e.target.value })} />
    </label>
  );
  if (o.type === "smtp") {
    const tls = o.tls ?? "starttls";
    return (
      <div className="form-row">
        {host}
        {portInput(tls === "none" ? 25 : tls === "tls" ? 465 : 587)}
        <label>{t("outputForm.smtpTls")}
          <select value={tls} disabled={!admin} onChange={(e) => edit({ tls: e.target.value as OutputDraft["tls"] })}>
            {(["starttls", "tls", "none"] as const).map((x) => <option key={x} value={x}>{t(`outputForm.smtpTlsModes.${x}`)}</option>)}
          </select>
        </label>
        <label>{t("outputForm.username")}
          <input value={o.username ?? ""} disabled={!admin} autoComplete="off" onChange={(e) => edit({ username: e.target.value || null })} />
        </label>
        <label>{t("outputForm.password")}
          {/* Write-only: the server never sends it back; empty keeps the saved one. */}
          <input type="password" autoComplete="new-password" disabled={!admin}
            value={o.password === MASK ? "" : (o.password ?? "")}
            placeholder={o.password === MASK ? t("outputForm.passwordKept") : ""}
            onChange={(e) => edit({ password: e.target.value || (saved && o.password === MASK ? MASK : null) })} />
        </label>
        <label className="wide">{t("outputForm.from")}
          <input value={o.from ?? ""} disabled={!admin} placeholder="Taishi <taishi@example.cn>" onChange={(e) => edit({ from: e.target.value })} />
        </label>
        <label className="wide">{t("outputForm.to")}
          <input value={(o.to ?? []).join(", ")} disabled={!admin} placeholder="soc@example.cn, oncall@example.cn" onChange={(e) => edit({ to: e.target.value.split(",").map((x) => x.trimStart()) })} />
        </label>
      </div>
    );
  }
  if (o.type === "syslog") {
    const proto = o.protocol ?? "udp";
    return (
      <div className="form-row">
        {host}
        {portInput(proto === "tls" ? 6514 : 514)}
        <label>{t("outputForm.protocol")}
          <select value={proto} disabled={!admin} onChange={(e) => {
            const p = e.target.value as NonNullable<OutputDraft["protocol"]>;
            // Framing applies to TCP and TLS only; the server refuses it on UDP.
            edit({ protocol: p, ...(p === "udp" ? { framing: null } : {}) });
          }}>
            {(["udp", "tcp", "tls"] as const).map((x) => <option key={x} value={x}>{t(`outputForm.protocols.${x}`)}</option>)}
          </select>
        </label>
        {proto !== "udp" && (
          <label>{t("outputForm.framing")}
            <select value={o.framing ?? (proto === "tls" ? "octet" : "newline")} disabled={!admin} onChange={(e) => edit({ framing: e.target.value as OutputDraft["framing"] })}>
              {(["newline", "octet"] as const).map((x) => <option key={x} value={x}>{t(`outputForm.framings.${x}`)}</option>)}
            </select>
          </label>
        )}
        <label>{t("outputForm.facility")}
          <select value={o.facility ?? "local0"} disabled={!admin} onChange={(e) => edit({ facility: e.target.value })}>
            {FACILITIES.map((x) => <option key={x} value={x}>{x}</option>)}
          </select>
        </label>
        <label>{t("outputForm.format")}
          <select value={o.format ?? "cef"} disabled={!admin} onChange={(e) => edit({ format: e.target.value as OutputDraft["format"] })}>
            {(["cef", "rfc5424"] as const).map((x) => <option key={x} value={x}>{t(`outputForm.formats.${x}`)}</option>)}
          </select>
        </label>
      </div>
    );
  }
  return null;
}

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
  // A type's settings do not apply to another (the server names such a key
  // as a mistake): a new type starts from the settings every output has.
  const retype = (i: number, type: OutputDraft["type"]) => setDraft(items.map((o, j) => (j === i
    ? { name: o.name, type, enabled: o.enabled, min_level: o.min_level, language: o.language, ...(type === "smtp" || type === "syslog" ? {} : { url: "" }) }
    : o)));
  const savedNames = new Set((outputs.data?.items ?? []).map((o) => o.name));
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
          <thead><tr><th>{t("common.name")}</th><th>{t("common.type")}</th><th>{t("outputForm.target")}</th><th>{t("settings.minLevel")}</th><th /></tr></thead>
          <tbody>
            {items.map((o, i) => {
              const kind = str(o.type);
              const detailed = kind === "smtp" || kind === "syslog";
              return [
                <tr key={i} data-output={str(o.name) ?? ""}>
                  <td><input value={str(o.name) ?? ""} disabled={!admin} aria-label={t("common.name")} onChange={(e) => edit(i, { name: e.target.value })} /></td>
                  <td>
                    <select value={kind ?? ""} disabled={!admin} aria-label={t("common.type")} onChange={(e) => retype(i, e.target.value as OutputDraft["type"])}>
                      {OUTPUT_TYPES.map((x) => <option key={x} value={x}>{t(`settings.outputTypes.${x}`)}</option>)}
                    </select>
                  </td>
                  <td>
                    {detailed ? (
                      <span className="mono" data-testid="output-target">{outputTarget(o)}</span>
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
                </tr>,
                detailed && (
                  <tr key={`${i}-details`} data-output-details={str(o.name) ?? ""}>
                    <td colSpan={5}><OutputDetails o={o} admin={admin} saved={savedNames.has(o.name)} edit={(p) => edit(i, p)} /></td>
                  </tr>
                ),
              ];
            })}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

function Password({ say }: { say: Say }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [oldPw, setOld] = useState("");
  const [newPw, setNew] = useState("");
  const m = useMutation({
    mutationFn: () => api("/auth/password", { body: { old: oldPw, new: newPw } satisfies Req<"/auth/password"> }),
    // /auth/me says whether the password has expired: ask it again.
    onSuccess: () => { setOld(""); setNew(""); say(t("settings.changed")); void qc.invalidateQueries({ queryKey: ["me"] }); },
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
        <div><dt>{t("alerts.status")}</dt><dd className={d.status === "ok" ? "ok" : "err"} data-testid="health-status">{t(`settings.statusValue.${d.status}`, { defaultValue: d.status })}</dd></div>
        <div><dt>{t("settings.version")}</dt><dd>{d.version}</dd></div>
        <div><dt>{t("settings.uptime")}</dt><dd>{f.duration(d.uptime_s)}</dd></div>
        <div><dt>{t("settings.storeEvents")}</dt><dd>{f.num(d.store.events)}</dd></div>
        <div><dt>{t("settings.storeBytes")}</dt><dd>{f.bytes(d.store.bytes)}</dd></div>
        <div><dt>{t("settings.retention")}</dt><dd data-testid="retention">{t("settings.retentionDays", { days: d.store.retention_days })}{d.store.max_size_gib > 0 ? ` · ${t("settings.retentionCap", { gib: d.store.max_size_gib })}` : ""}</dd></div>
        <div><dt>{t("settings.rulesLoaded")}</dt><dd>{f.num(d.rules.loaded)} ({t("rules.disabled")} {f.num(d.rules.disabled)})</dd></div>
      </dl>
    </Panel>
  );
}
