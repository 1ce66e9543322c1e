// The server-sent event stream (/api/v1/stream): one EventSource for the
// whole console; ticks feed the header and the overview, new alerts refresh
// the alert and overview queries.
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import type { Alert, Tick } from "./api";
import { useAuth } from "./auth";

interface Live {
  connected: boolean;
  tick: Tick | null;
  rates: { t: number; v: number }[];
  recent: Alert[];
}

const Ctx = createContext<Live>({ connected: false, tick: null, rates: [], recent: [] });

export function LiveProvider({ enabled, children }: { enabled: boolean; children: ReactNode }) {
  const qc = useQueryClient();
  const [state, setState] = useState<Live>({ connected: false, tick: null, rates: [], recent: [] });
  const lastRefresh = useRef(0);
  // The switcher's organisation: an EventSource sends no headers, so the
  // stream takes it as `?org=`; a new choice opens a new stream.
  const { org } = useAuth();

  useEffect(() => {
    if (!enabled || typeof EventSource === "undefined") return;
    const es = new EventSource(org ? `/api/v1/stream?org=${encodeURIComponent(org)}` : "/api/v1/stream", { withCredentials: true });
    es.onopen = () => setState((s) => ({ ...s, connected: true }));
    es.onerror = () => setState((s) => ({ ...s, connected: false }));
    es.addEventListener("tick", (m) => {
      let tick: Tick;
      try {
        tick = JSON.parse((m as MessageEvent).data);
      } catch {
        return;
      }
      setState((s) => ({
        connected: true,
        tick,
        rates: [...s.rates, { t: Date.now(), v: tick.events_per_s }].slice(-90),
        recent: [...(tick.new_alerts ?? []), ...s.recent].slice(0, 30),
      }));
      const now = Date.now();
      // New alerts refresh the lists, at most every 5 s so a storm does not
      // turn into a query storm.
      if (tick.new_alerts?.length && now - lastRefresh.current > 5000) {
        lastRefresh.current = now;
        void qc.invalidateQueries({ queryKey: ["alerts"] });
        void qc.invalidateQueries({ queryKey: ["overview"] });
      }
    });
    return () => {
      es.close();
      // The next stream (another organisation) starts from nothing: the
      // old one's rates and alerts are not its.
      setState({ connected: false, tick: null, rates: [], recent: [] });
    };
  }, [enabled, qc, org]);

  return <Ctx.Provider value={state}>{children}</Ctx.Provider>;
}

export const useLive = () => useContext(Ctx);

const RANGE_KEY = "taishi.range";

/** The time range of a page: in the URL, defaulting to the last one chosen. */
export function useRange(): [{ from: string; to: string }, (r: { from: string; to: string }) => void] {
  const [params, setParams] = useSearchParams();
  let saved: { from: string; to: string } = { from: "now-24h", to: "now" };
  try {
    const s = JSON.parse(localStorage.getItem(RANGE_KEY) ?? "null");
    if (s && typeof s.from === "string" && typeof s.to === "string") saved = s;
  } catch {
    /* keep the default */
  }
  const range = { from: params.get("from") ?? saved.from, to: params.get("to") ?? saved.to };
  const set = (r: { from: string; to: string }) => {
    localStorage.setItem(RANGE_KEY, JSON.stringify(r));
    setParams(
      (p) => {
        const n = new URLSearchParams(p);
        n.set("from", r.from);
        n.set("to", r.to);
        return n;
      },
      { replace: true },
    );
  };
  return [range, set];
}
