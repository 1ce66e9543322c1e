// The client side of crates/taishi-serve/API.md: types and one fetch wrapper.

export type Level = "informational" | "low" | "medium" | "high" | "critical";
export const LEVELS: Level[] = ["informational", "low", "medium", "high", "critical"];
export type Role = "admin" | "analyst" | "viewer";

export interface User {
  username: string;
  role: Role;
  disabled: boolean;
  created: string;
  last_login: string | null;
}

export interface Token {
  id: string;
  name: string;
  role: Role;
  owner: string;
  created: string;
  last_used: string | null;
  secret?: string;
}

export type Flat = Record<string, unknown>;

export interface Hit {
  seq: number;
  "@timestamp": string | null;
  event: Flat;
}

export interface HitsOutput {
  kind: "hits";
  total: number;
  took_ms: number;
  from: string;
  to: string;
  /** Each matching event once, flat fields with its own `@timestamp`. */
  events: Flat[];
  histogram?: { interval_ms: number; buckets: { t: string; count: number }[] };
}

export interface TableOutput {
  kind: "table";
  columns: string[];
  rows: unknown[][];
  took_ms: number;
  from: string;
  to: string;
}

export type SearchOutput = HitsOutput | TableOutput;

export interface FieldInfo {
  name: string;
  count: number;
  top: { value: string; count: number }[];
}

export type AlertStatus = "new" | "acknowledged" | "closed";

export interface Alert {
  id: string;
  kind: "sigma" | "correlation" | "intel";
  rule_id: string;
  rule_title: string;
  level: Level;
  tags: string[];
  "@timestamp": string;
  host: string | null;
  source_ip: string | null;
  destination_ip: string | null;
  summary: Flat;
  events: number[];
  event: Flat;
  status: AlertStatus;
  resolution: null | "true_positive" | "false_positive";
  assignee: string | null;
  retrospective: boolean;
  created: string;
  updated: string;
}

export interface Comment {
  user: string;
  time: string;
  text: string;
}

export interface AlertDetail extends Alert {
  comments: Comment[];
  rule: null | {
    id?: string;
    title: string;
    description?: string;
    level: Level;
    tags: string[];
    yaml?: string | null;
    enabled?: boolean;
  };
}

export interface AlertGroup {
  key: string;
  label: string;
  count: number;
  max_level: Level;
  last: string;
}

export interface RuleInfo {
  id: string;
  title: string;
  level: Level;
  status: string;
  tags: string[];
  logsource: Record<string, string>;
  path: string;
  enabled: boolean;
  kind: "detection" | "correlation";
  origin: "configured" | "uploaded";
  health: { hits: number; errors: number; time_ms: number; last_hit: string | null };
  yaml?: string | null;
}

export interface ValidateResult {
  ok: boolean;
  errors: { line: number | null; column: number | null; message: string }[];
  rule: { id: string; title: string } | null;
}

export interface Listener {
  name: string;
  kind: string;
  address: string;
  events_per_s: number | null;
  received: number;
  rejected: number;
  udp_dropped: number;
  lag_ms: number | null;
  errors: number;
  queue_depth?: number;
}

export type ThreatLevel = "low" | "guarded" | "elevated" | "high" | "severe";

export interface Overview {
  threat_level: ThreatLevel;
  threat_score: number;
  events_total: number;
  alerts_total: number;
  alerts_open: number;
  events_per_s?: number;
  interval_ms: number;
  events_over_time: { t: string; count: number }[];
  alerts_over_time: ({ t: string } & Record<Level, number>)[];
  alerts_by_level: Partial<Record<Level, number>>;
  alerts_by_rule: { rule_id: string; title: string; level: Level; count: number }[];
  top_assets: { host: string; count: number; max_level: Level }[];
  top_sources: {
    ip: string;
    count: number;
    country_iso_code?: string | null;
    country_name?: string | null;
    country_name_zh?: string | null;
    city_name?: string | null;
    city_name_zh?: string | null;
    /** ISO 3166-2 subdivision (`CN-GD`, or the older numeric `CN-44`); not yet sent by the server. */
    region_iso_code?: string | null;
    region_name?: string | null;
    region_name_zh?: string | null;
    lat?: number | null;
    lon?: number | null;
  }[];
  attack_matrix: { tactic: string; technique: string; count: number }[];
  listeners: Listener[];
}

export interface Tick {
  events_per_s: number;
  alerts_open: number;
  threat_level: ThreatLevel;
  threat_score?: number;
  new_alerts: Alert[];
}

export interface Output {
  name: string;
  type: string;
  url?: string;
  min_level?: Level;
  [k: string]: unknown;
}

export interface Health {
  status: "ok" | "degraded";
  version: string;
  uptime_s: number;
  store: { events: number; bytes: number; partitions: number; wal_bytes: number };
  rules: { loaded: number; rejected: number; disabled: number; compiled?: number };
  alerts_outputs?: { name: string; type: string; sent: number; failed: number; suppressed: number }[];
}

// Threat intelligence (API.md "Threat intelligence" and the intel contract).
export type Tlp = "clear" | "green" | "amber" | "amber-strict" | "red";

export interface Indicator {
  type: string;
  value: string;
  source: string;
  id?: string;
  name?: string;
  description?: string;
  confidence?: number;
  tlp?: Tlp | string;
  labels?: string[];
  malware?: string[];
  attack?: string[];
  valid_from?: string;
  valid_until?: string;
  first_seen?: string;
  last_seen?: string;
  /** Added by `GET /intel/indicators` once the server counts hits. */
  hits?: number;
  last_hit?: string | null;
}

export type FeedKind = "url" | "misp-feed" | "taxii" | "misp-rest";
export const FEED_KINDS: FeedKind[] = ["url", "misp-feed", "taxii", "misp-rest"];

export interface FeedStatus {
  name: string;
  kind: FeedKind | string;
  url: string;
  format: string | null;
  interval_secs: number;
  last_pull: string | null;
  last_success: string | null;
  last_error: string | null;
  indicators: number;
  added: number;
  updated: number;
  removed: number;
  rejected: number;
  next_pull: string | null;
  pulling: boolean;
}

export interface ImportReport {
  source?: string;
  added: number;
  updated: number;
  unchanged?: number;
  removed: number;
  merged_duplicates?: number;
  total?: number;
  rejected: { entry: string; reason: string }[];
  ignored?: Record<string, number>;
}

export interface ImportResult {
  report: ImportReport;
  retro_hunt: { indicators: number; window_days: number };
}

export interface IntelStatus {
  sources: Record<string, { indicators: number; updated: string | null; origin?: string; format?: string }>;
  matcher: { indicators: number };
  feeds?: number;
}

export interface TopHit {
  indicator: string;
  type: string;
  source: string;
  hits: number;
  last_hit: string | null;
}

/** An API answer other than 2xx, with the server's message. */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

// The CSRF value comes only from login; it lives in sessionStorage so that a
// reload of the tab keeps working while the cookie stays HttpOnly.
const CSRF_KEY = "taishi.csrf";
export const csrf = {
  get: () => sessionStorage.getItem(CSRF_KEY) ?? localStorage.getItem(CSRF_KEY) ?? "",
  set: (v: string) => {
    sessionStorage.setItem(CSRF_KEY, v);
    localStorage.setItem(CSRF_KEY, v);
  },
  clear: () => {
    sessionStorage.removeItem(CSRF_KEY);
    localStorage.removeItem(CSRF_KEY);
  },
};

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

type Body = unknown;

export async function api<T>(
  path: string,
  opts: { method?: string; body?: Body; query?: Record<string, unknown>; raw?: string | Blob; contentType?: string; signal?: AbortSignal } = {},
): Promise<T> {
  const method = opts.method ?? (opts.body !== undefined || opts.raw !== undefined ? "POST" : "GET");
  let url = `/api/v1${path}`;
  if (opts.query) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
    }
    const s = p.toString();
    if (s) url += `?${s}`;
  }
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-Taishi-CSRF"] = csrf.get();
  let body: string | Blob | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers["Content-Type"] = opts.contentType ?? "application/yaml";
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["Content-Type"] = "application/json";
  }
  const r = await fetch(url, { method, headers, body, credentials: "same-origin", signal: opts.signal });
  if (r.status === 401 && path !== "/auth/login") onUnauthorized();
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    let field: string | undefined;
    try {
      const j = await r.json();
      if (j && typeof j.error === "string") msg = j.error;
      else if (j?.error?.reason) msg = j.error.reason;
      field = j?.field;
    } catch {
      /* not JSON: keep the status line */
    }
    throw new ApiError(r.status, msg, field);
  }
  if (r.status === 204) return undefined as T;
  const text = await r.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Quotes a value for the query language (`field:"value"`). */
export function quoteValue(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The ATT&CK parts of Sigma tags. */
export function attackTags(tags: string[]) {
  const tactics: string[] = [];
  const techniques: string[] = [];
  for (const t of tags) {
    const m = /^attack\.(.+)$/i.exec(t);
    if (!m) continue;
    if (/^t\d{4}/i.test(m[1])) techniques.push(m[1].toUpperCase());
    else if (!/^g\d{4}|^s\d{4}/i.test(m[1])) tactics.push(m[1].replace(/-/g, "_"));
  }
  return { tactics, techniques };
}

export function levelRank(l: string | null | undefined): number {
  return Math.max(0, LEVELS.indexOf((l ?? "informational") as Level));
}
