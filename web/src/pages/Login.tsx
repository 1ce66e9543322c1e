import { useState } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";
import { useAuth } from "../auth";
import { LangSwitch } from "../components/Layout";

export default function Login() {
  const { t } = useTranslation();
  const { user, login } = useAuth();
  const nav = useNavigate();
  const [params] = useSearchParams();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const next = params.get("next") || "/";
  if (user) return <Navigate to={next.startsWith("/") ? next : "/"} replace />;

  return (
    <div className="login-page">
      <div className="login-lang"><LangSwitch /></div>
      <form
        className="login-card"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError("");
          try {
            await login(username, password);
            nav(next.startsWith("/") ? next : "/", { replace: true });
          } catch (err) {
            setError(t("login.failed", { msg: err instanceof Error ? err.message : String(err) }));
          } finally {
            setBusy(false);
          }
        }}
      >
        <div className="login-brand">
          <img src="/favicon.svg" alt="" width={44} height={44} />
          <div>
            <h1>{t("app.name")}</h1>
            <div className="muted">{t("app.subtitle")}</div>
          </div>
        </div>
        <h2>{t("login.title")}</h2>
        <label>
          {t("login.username")}
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
        </label>
        <label>
          {t("login.password")}
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {params.get("changed") && !error && <div className="ok-box" role="status" data-testid="password-changed">{t("password.changed")}</div>}
        {error && <div className="error-box" role="alert">{error}</div>}
        <button className="btn btn-primary" type="submit" disabled={busy}>{t("login.submit")}</button>
        <p className="muted small">{t("login.hint")}</p>
      </form>
    </div>
  );
}
