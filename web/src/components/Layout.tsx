import { NavLink, Outlet, useLocation, useNavigate, useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";
import { Activity, Bell, Search, ShieldCheck, Settings, LogOut, Monitor, Languages, Radio, Crosshair, ScrollText, Building2, Database, Siren, Server, Bug, BarChart3, TriangleAlert } from "lucide-react";
import type { Permission } from "../api";
import { useAuth } from "../auth";
import { useLive } from "../live";
import { setLang, useFormat } from "../i18n";
import { indented, orgTree } from "../orgs";
import ChangePassword from "../pages/ChangePassword";

export function LangSwitch() {
  const { i18n, t } = useTranslation();
  const next = i18n.language === "en" ? "zh-CN" : "en";
  return (
    <button
      className="btn btn-ghost"
      data-testid="lang-switch"
      aria-label={`${t("nav.language")}: ${next === "en" ? "English" : "简体中文"}`}
      title={next === "en" ? "English" : "简体中文"}
      onClick={() => setLang(next)}
    >
      <Languages size={16} aria-hidden /> {next === "en" ? "EN" : "中文"}
    </button>
  );
}

/** The organisation switcher: whose data is on screen. Shown only to a
 * caller who sees more than one organisation; the roll-up is everything
 * the caller sees. */
export function OrgSwitcher() {
  const { t } = useTranslation();
  const { orgs, org, setOrg } = useAuth();
  if (orgs.length < 2) return null;
  const current = orgs.find((o) => o.id === org);
  return (
    <label className={org ? "org-switch narrowed" : "org-switch"} data-testid="org-scope" data-org={org ?? ""} title={t("orgs.scopeHint")}>
      <Building2 size={15} aria-hidden />
      <span className="muted small">{t("orgs.scope")}</span>
      <select data-testid="org-switch" aria-label={t("orgs.scope")} value={org ?? ""} onChange={(e) => void setOrg(e.target.value || null)}>
        <option value="">{t("orgs.all")}</option>
        {orgTree(orgs).map((n) => <option key={n.org.id} value={n.org.id}>{indented(n, `${n.org.name} (${n.org.id})`)}</option>)}
      </select>
      {current && <span className="scope-id mono small" data-testid="org-scope-id">organization.id = {current.id}</span>}
    </label>
  );
}

export function ThreatPill({ level, score }: { level?: string; score?: number }) {
  const { t } = useTranslation();
  const f = useFormat();
  if (!level) return null;
  return (
    <span className={`threat-pill threat-${level}`} data-testid="threat-pill" title={t("threat.title")}>
      <span className="dot" aria-hidden />
      {t("threat.title")}: <b>{t(`threat.${level}`)}</b>
      {score != null && <span className="muted"> · {f.dec(score)}</span>}
    </span>
  );
}

export default function Layout() {
  const { t } = useTranslation();
  const { user, logout, has, passwordExpired, orgs } = useAuth();
  const live = useLive();
  const f = useFormat();
  const nav = useNavigate();
  const loc = useLocation();
  const [params] = useSearchParams();
  const big = params.get("screen") === "1" && loc.pathname.startsWith("/overview");

  // Each page only for callers whose roles may read it (三权分立: the
  // auditor sees the audit trail, the system administrator users and
  // health, not alerts or events).
  const items = [
    { to: "/overview", icon: Activity, label: t("nav.overview"), need: "overview:read" },
    { to: "/search", icon: Search, label: t("nav.search"), need: "search" },
    { to: "/alerts", icon: Bell, label: t("nav.alerts"), need: "alerts:read" },
    { to: "/incidents", icon: Siren, label: t("nav.incidents"), need: "incidents:read" },
    { to: "/rules", icon: ShieldCheck, label: t("nav.rules"), need: "rules:read" },
    { to: "/intel", icon: Crosshair, label: t("nav.intel"), need: "intel:read" },
    { to: "/data", icon: Database, label: t("nav.data"), need: "data:read" },
    // 风险 / Risk (issue 15): one group, for `assets:read`.
    { to: "/risk/assets", icon: Server, label: t("nav.assets"), need: "assets:read", group: t("nav.risk") },
    { to: "/risk/vulns", icon: Bug, label: t("nav.vulns"), need: "assets:read", group: t("nav.risk") },
    { to: "/risk/ranking", icon: BarChart3, label: t("nav.ranking"), need: "assets:read", group: t("nav.risk") },
    { to: "/risk/warnings", icon: TriangleAlert, label: t("nav.warnings"), need: "assets:read", group: t("nav.risk") },
    { to: "/audit", icon: ScrollText, label: t("nav.audit"), need: "audit:read" },
    { to: "/settings", icon: Settings, label: t("nav.settings"), need: "account" },
  ].filter((x) => has(x.need as Permission)) as { to: string; icon: typeof Activity; label: string; group?: string }[];

  if (big) return <main className="bigscreen"><Outlet /></main>;

  return (
    <div className="shell">
      <a className="skip" href="#main">{t("common.search")}…</a>
      <aside className="sidebar">
        <div className="brand">
          <img src="/favicon.svg" alt="" width={28} height={28} />
          <div>
            <div className="brand-name">{t("app.name")}</div>
            <div className="brand-sub">{t("app.subtitle")}</div>
          </div>
        </div>
        <nav aria-label="main">
          {items.map(({ to, icon: Icon, label, group }, i) => (
            <div key={to} className={group ? "nav-grouped" : undefined}>
              {group && items[i - 1]?.group !== group && <div className="nav-group" data-testid="nav-group">{group}</div>}
              <NavLink to={to} className={({ isActive }) => (isActive ? "nav-item active" : "nav-item")}>
                <Icon size={18} aria-hidden />
                <span>{label}</span>
              </NavLink>
            </div>
          ))}
        </nav>
        <div className="sidebar-foot">
          <div className={live.connected ? "live on" : "live"} title={live.connected ? t("common.live") : t("common.paused")}>
            <Radio size={14} aria-hidden /> {live.connected ? t("common.live") : t("common.paused")}
            {live.tick && <span className="muted"> · {f.dec(live.tick.events_per_s)}/s</span>}
          </div>
        </div>
      </aside>
      <div className="main-col">
        <header className="topbar">
          <ThreatPill level={live.tick?.threat_level} score={live.tick?.threat_score} />
          <OrgSwitcher />
          <div className="grow" />
          {loc.pathname.startsWith("/overview") && (
            <button className="btn btn-ghost" data-testid="bigscreen" onClick={() => nav(`/overview?screen=1`)}>
              <Monitor size={16} aria-hidden /> {t("nav.bigscreen")}
            </button>
          )}
          <LangSwitch />
          <span className="user" data-testid="current-user">
            {user?.username} <span className="muted">· {user ? user.roles.map((r) => t(`role.${r}`, { defaultValue: r })).join(" · ") : ""} · {orgs.find((o) => o.id === user?.org)?.name ?? user?.org}</span>
          </span>
          <button
            className="btn btn-ghost"
            onClick={async () => {
              await logout();
              nav("/login");
            }}
            aria-label={t("nav.logout")}
            title={t("nav.logout")}
          >
            <LogOut size={16} aria-hidden />
          </button>
        </header>
        <main id="main" className="content" tabIndex={-1}>
          {/* A one-time or expired password: nothing else until it is changed
              (the server refuses everything else meanwhile). */}
          {passwordExpired ? <ChangePassword /> : <Outlet />}
        </main>
      </div>
    </div>
  );
}
