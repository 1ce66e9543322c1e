import { createContext, useContext, useEffect, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, csrf, setUnauthorizedHandler, type Permission, type Req, type Res, type User } from "./api";

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
}

interface Me {
  user: User | null;
  permissions: Permission[];
}

/** The user `/auth/me` names (its fields sit beside `csrf`; all are absent
 * when the account no longer exists). */
function userOf(m: Res<"/auth/me">): Me {
  const { username, roles, org, disabled, created, last_login, password_changed } = m;
  if (username === undefined || roles === undefined || org === undefined || disabled === undefined || created === undefined) {
    return { user: null, permissions: [] };
  }
  return { user: { username, roles, org, disabled, created, last_login, password_changed }, permissions: m.permissions };
}

const Ctx = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const me = useQuery({
    queryKey: ["me"],
    queryFn: async () => {
      try {
        return userOf(await api<Res<"/auth/me">>("/auth/me"));
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return { user: null, permissions: [] } satisfies Me;
        throw e;
      }
    },
    staleTime: 60_000,
    retry: false,
  });

  useEffect(() => {
    setUnauthorizedHandler(() => {
      if ((qc.getQueryData(["me"]) as Me | undefined)?.user) {
        qc.setQueryData(["me"], { user: null, permissions: [] } satisfies Me);
        qc.removeQueries({ predicate: (q) => q.queryKey[0] !== "me" });
      }
    });
  }, [qc]);

  const user = me.data?.user ?? null;
  const permissions = me.data?.permissions ?? [];
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
        qc.setQueryData(["me"], { user: null, permissions: [] } satisfies Me);
      }
    },
    can: (p) => user !== null && permissions.includes(p),
    has: (p) => user !== null && permissions.includes(p),
  };
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthState {
  const v = useContext(Ctx);
  if (!v) throw new Error("useAuth outside AuthProvider");
  return v;
}
