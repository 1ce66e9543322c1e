import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, csrf, setOrgScope, setUnauthorizedHandler, type Org, type Permission, type Req, type Res, type User } from "./api";
import { savedOrg, saveOrg } from "./orgs";

interface AuthState {
  user: User | null;
  loading: boolean;
  /** The signed-in user, or null if the account went away meanwhile. */
  login: (username: string, password: string) => Promise<User | null>;
  logout: () => Promise<void>;
  /** Whether the signed-in user's roles grant `p` (the server's list). */
  can: (p: Permission) => boolean;
  /** The same as `can` (the audit page's name for it). */
  has: (p: Permission) => boolean;
  /** Every organisation the caller sees (its own first), whatever the switcher says. */
  orgs: Org[];
  /** The switcher's choice: the organisation whose data is on screen, or
   * null for the caller's whole view (the roll-up). */
  org: string | null;
  /** Switches the organisation and refetches everything. */
  setOrg: (org: string | null) => Promise<void>;
  /** The password is one-time or older than the policy allows: the console asks for a new one before anything else. */
  passwordExpired: boolean;
}

interface Me {
  user: User | null;
  permissions: Permission[];
  orgs: Org[];
  passwordExpired: boolean;
}
const SIGNED_OUT: Me = { user: null, permissions: [], orgs: [], passwordExpired: false };

/** The user `/auth/me` names (its fields sit beside `csrf`; all are absent
 * when the account no longer exists). */
function userOf(m: Res<"/auth/me">): Me {
  const { username, roles, org, disabled, created, last_login, password_changed, must_change_password } = m;
  if (username === undefined || roles === undefined || org === undefined || disabled === undefined || created === undefined || must_change_password === undefined) {
    return SIGNED_OUT;
  }
  return { user: { username, roles, org, disabled, created, last_login, password_changed, must_change_password }, permissions: m.permissions, orgs: m.orgs, passwordExpired: m.password_expired };
}

const Ctx = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const me = useQuery({
    queryKey: ["me"],
    queryFn: async () => {
      try {
        // Unscoped: the switcher needs every organisation the caller sees.
        return userOf(await api<Res<"/auth/me">>("/auth/me", { unscoped: true }));
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return SIGNED_OUT;
        throw e;
      }
    },
    staleTime: 60_000,
    retry: false,
  });

  useEffect(() => {
    setUnauthorizedHandler(() => {
      if ((qc.getQueryData(["me"]) as Me | undefined)?.user) {
        qc.setQueryData(["me"], SIGNED_OUT);
        qc.removeQueries({ predicate: (q) => q.queryKey[0] !== "me" });
      }
    });
  }, [qc]);

  const user = me.data?.user ?? null;
  const permissions = me.data?.permissions ?? [];
  const orgs = me.data?.orgs ?? [];
  // Bumped by setOrg so this provider renders with the new choice.
  const [, setVersion] = useState(0);
  // The saved choice counts only while it is still one the caller sees (an
  // organisation deleted, or the account moved, falls back to the roll-up).
  const saved = user ? savedOrg(user.username) : null;
  const org = saved && orgs.length > 1 && orgs.some((o) => o.id === saved) ? saved : null;
  // Set while rendering, before any page below issues its queries.
  setOrgScope(org);
  const value: AuthState = {
    user,
    loading: me.isLoading,
    login: async (username, password) => {
      const r = await api<Res<"/auth/login", "post">>("/auth/login", { body: { username, password } satisfies Req<"/auth/login"> });
      csrf.set(r.csrf);
      const u = r.user ?? null;
      // The permissions come with /auth/me: fetch it now the cookie is set.
      await qc.invalidateQueries({ queryKey: ["me"] });
      return u;
    },
    logout: async () => {
      try {
        await api("/auth/logout", { method: "POST" });
      } finally {
        csrf.clear();
        // Not qc.clear(): that would also drop the "me" query this provider
        // observes, leaving it (and every page) on the signed-out user, so
        // /login bounced straight back. Everything else goes; "me" is set.
        qc.removeQueries({ predicate: (q) => q.queryKey[0] !== "me" });
        qc.setQueryData(["me"], SIGNED_OUT);
      }
    },
    can: (p) => user !== null && permissions.includes(p),
    has: (p) => user !== null && permissions.includes(p),
    orgs,
    org,
    passwordExpired: me.data?.passwordExpired ?? false,
    setOrg: async (next) => {
      if (!user) return;
      const others = { predicate: (q: { queryKey: readonly unknown[] }) => q.queryKey[0] !== "me" };
      // Answers still coming for the old organisation must not land in the new view.
      await qc.cancelQueries(others);
      saveOrg(user.username, next);
      setOrgScope(next);
      setVersion((v) => v + 1);
      await qc.resetQueries(others);
    },
  };
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthState {
  const v = useContext(Ctx);
  if (!v) throw new Error("useAuth outside AuthProvider");
  return v;
}
