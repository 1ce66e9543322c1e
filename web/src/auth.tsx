import { createContext, useContext, useEffect, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, csrf, setUnauthorizedHandler, type Req, type Res, type User } from "./api";

interface AuthState {
  user: User | null;
  loading: boolean;
  login: (username: string, password: string) => Promise<User>;
  logout: () => Promise<void>;
  can: (what: "write" | "admin") => boolean;
}

const Ctx = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const me = useQuery({
    queryKey: ["me"],
    queryFn: async () => {
      try {
        return await api<Res<"/auth/me">>("/auth/me");
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
      qc.setQueryData(["me"], r.user);
      return r.user;
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
