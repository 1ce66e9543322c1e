import { useState } from "react";
import { useNavigate } from "react-router";
import { useTranslation } from "react-i18next";
import { KeyRound } from "lucide-react";
import { api, type Req } from "../api";
import { useAuth } from "../auth";

/** Shown instead of every page while the account's password is one-time
 * (the first start's, an administrator's reset) or expired: the server
 * answers nothing else until it is changed. A change ends every session of
 * the account, so the user signs in again with the new password. */
export default function ChangePassword() {
  const { t } = useTranslation();
  const { user, logout } = useAuth();
  const nav = useNavigate();
  const [oldPw, setOld] = useState("");
  const [newPw, setNew] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const onetime = user?.must_change_password ?? false;
  return (
    <div className="panel narrow-page" data-testid="forced-password">
      <h1><KeyRound size={20} aria-hidden /> {t("password.title")}</h1>
      <p>{onetime ? t("password.onetime") : t("settings.passwordExpired")}</p>
      <p className="muted small">{t("password.policy")}</p>
      <form
        className="form narrow"
        onSubmit={async (e) => {
          e.preventDefault();
          setError("");
          if (newPw !== again) {
            setError(t("password.mismatch"));
            return;
          }
          setBusy(true);
          try {
            await api("/auth/password", { body: { old: oldPw, new: newPw } satisfies Req<"/auth/password"> });
            // The change ended the session on the server: its sign-out may
            // answer 401, which is what it means anyway.
            await logout().catch(() => undefined);
            nav("/login?changed=1", { replace: true });
          } catch (err) {
            setError(err instanceof Error ? err.message : String(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>{t("settings.oldPassword")}<input name="old" type="password" autoComplete="current-password" required value={oldPw} onChange={(e) => setOld(e.target.value)} /></label>
        <label>{t("settings.newPassword")}<input name="new" type="password" autoComplete="new-password" required minLength={12} value={newPw} onChange={(e) => setNew(e.target.value)} /></label>
        <label>{t("password.again")}<input name="again" type="password" autoComplete="new-password" required minLength={12} value={again} onChange={(e) => setAgain(e.target.value)} /></label>
        {error && <div className="error-box" role="alert">{error}</div>}
        <button className="btn btn-primary" type="submit" disabled={busy}>{t("password.submit")}</button>
      </form>
    </div>
  );
}
