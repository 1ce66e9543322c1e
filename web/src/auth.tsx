import { createContext, useContext, useEffect, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, csrf, setUnauthorizedHandler, type Permission, type Req, type Res, type User } from "./api";

interface AuthState {
  user: User | null;
  loading: boolean;
  /** The signed-in user, or null if the account went away meanwhile. */
  login: (username: string, password: string) => Promise<User | null>;
  logout: () => Promise<void>;
  can: (what: "write" | "admin") => boolean;
  /** Whether the signed-in caller has a permission (`audit:read`), as the server says. */
  has: (p: Permission) => boolean;
}

/** The user `/auth/me` names (its fields sit beside `csrf`; all are absent
 * when the account no longer exists). */
function userOf(m: Res<"/auth/me">): User | null {
  const { username, role, disabled, created, last_login } = m;
  if (username === undefined || role === undefined || disabled === undefined || created === undefined) return null;
  return { username, role, disabled, created, last_login };
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
        if (e instanceof ApiError && e.status === 401) return null;
        throw e;
      }
    },
    staleTime: 60_000,
    retry: false,
  });

  useEffect(() => {
    setUnauthorizedHandler(() => {
      if (qc.getQueryData(["me"])) {
        qc.setQueryData(["me"], null);
        qc.removeQueries({ predicate: (q) => q.queryKey[0] !== "me" });
      }
    });
  }, [qc]);

  const user = me.data ?? null;
  // The caller's permissions, as /auth/me lists them (a sign-in answers the
  // user only); keyed by user, so another sign-in asks again.
  const perms = useQuery({
    queryKey: ["permissions", user?.username],
    queryFn: async () => (await api<Res<"/auth/me">>("/auth/me")).permissions,
    enabled: !!user,
    staleTime: 60_000,
    retry: false,
  });
  const value: AuthState = {
    user,
    loading: me.isLoading,
    login: async (username, password) => {
      const r = await api<Res<"/auth/login", "post">>("/auth/login", { body: { username, password } satisfies Req<"/auth/login"> });
      csrf.set(r.csrf);
      const u = r.user ?? null;
      qc.setQueryData(["me"], u);
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
        qc.setQueryData(["me"], null);
      }
    },
    can: (what) => {
      if (!user) return false;
      if (what === "admin") return user.role === "admin";
      return user.role === "admin" || user.role === "analyst";
    },
    has: (p) => !!user && (perms.data ?? []).includes(p),
  };
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthState {
  const v = useContext(Ctx);
  if (!v) throw new Error("useAuth outside AuthProvider");
  return v;
}
