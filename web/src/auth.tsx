import { createContext, useContext, useEffect, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, csrf, setUnauthorizedHandler, type Req, type Res, type User } from "./api";

interface AuthState {
  user: User | null;
  loading: boolean;
  /** The signed-in user, or null if the account went away meanwhile. */
  login: (username: string, password: string) => Promise<User | null>;
  logout: () => Promise<void>;
  can: (what: "write" | "admin") => boolean;
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
        qc.clear();
        qc.setQueryData(["me"], null);
      }
    },
    can: (what) => {
      if (!user) return false;
      if (what === "admin") return user.role === "admin";
      return user.role === "admin" || user.role === "analyst";
    },
  };
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthState {
  const v = useContext(Ctx);
  if (!v) throw new Error("useAuth outside AuthProvider");
  return v;
}
