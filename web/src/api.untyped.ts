// STAND-INS, TO DELETE: what the console expects of the answers that today's
// OpenAPI document does not describe (it says only `{"type": "object"}`).
//
// api.ts takes every API type from the generated api.gen.ts, by route, and
// falls back to the entry here only while the generated type is such a bare
// object or the route is missing from the document (`/settings/outputs`).
import type { paths } from "./api.gen";

type Untyped<T> = unknown extends T ? true : string extends keyof T ? true : false;
type AlertsAnswer = NonNullable<paths["/alerts"]["get"]>["responses"][200]["content"]["application/json"];
// Once the document carries response schemas and `scripts/gen-types` has run,
// this line stops compiling ("'true' is not assignable to type 'false'"):
// then delete this file; in api.ts let `Res`, `Req` and `Query` be the generated types
// alone, and take LEVELS and FEED_KINDS from the enum arrays of api.gen.ts
// (`levelValues` …, which list the levels in the server's order, lowest
// first). tsc then shows wherever the console disagrees with the server.
export const documentStillUntyped: Untyped<AlertsAnswer> = true;

/** Alert levels, lowest first: the order is their rank. */
export const LEVEL_VALUES = ["informational", "low", "medium", "high", "critical"] as const;
export const FEED_KIND_VALUES = ["url", "misp-feed", "taxii", "misp-rest"] as const;

type Level = (typeof LEVEL_VALUES)[number];
type Role = "admin" | "analyst" | "viewer";

interface User {
  username: string;
  role: Role;
  disabled: boolean;
  created: string;
  last_login: string | null;
}

interface Token {
  id: string;
  name: string;
  role: Role;
  owner: string;
  created: string;
  last_used: string | null;
  secret?: string;
}

type Flat = Record<string, unknown>;

interface Hit {
  seq: number;
  "@timestamp": string | null;
  event: Flat;
}

interface HitsOutput {
  kind: "hits";
  total: number;
  took_ms: number;
  from: string;
  to: string;
  hits: Hit[];
  histogram?: { interval_ms: number; buckets: { t: string; count: number }[] };
}

interface TableOutput {
  kind: "table";
  columns: string[];
  rows: unknown[][];
  took_ms: number;
  from: string;
  to: string;
}

type SearchOutput = HitsOutput | TableOutput;

interface FieldInfo {
  name: string;
  count: number;
  top: { value: string; count: number }[];
}

type AlertStatus = "new" | "acknowledged" | "closed";

interface Alert {
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

interface Comment {
  user: string;
  time: string;
  text: string;
}

interface AlertDetail extends Alert {
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

interface AlertGroup {
  key: string;
  label: string;
  count: number;
  max_level: Level;
  last: string;
}

interface RuleInfo {
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

interface ValidateResult {
  ok: boolean;
  errors: { line: number | null; column: number | null; message: string }[];
  rule: { id: string; title: string } | null;
}

interface Listener {
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

type ThreatLevel = "low" | "guarded" | "elevated" | "high" | "severe";

interface Overview {
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

interface Tick {
  events_per_s: number;
  alerts_open: number;
  threat_level: ThreatLevel;
  threat_score?: number;
  new_alerts: Alert[];
}

interface Output {
  name: string;
  type: string;
  url?: string;
  min_level?: Level;
  [k: string]: unknown;
}

interface Health {
  status: "ok" | "degraded";
  version: string;
  uptime_s: number;
  store: { events: number; bytes: number; partitions: number; wal_bytes: number };
  rules: { loaded: number; rejected: number; disabled: number; compiled?: number };
  alerts_outputs?: { name: string; type: string; sent: number; failed: number; suppressed: number }[];
}

// Threat intelligence (API.md "Threat intelligence" and the intel contract).
type Tlp = "clear" | "green" | "amber" | "amber-strict" | "red";

interface Indicator {
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

type FeedKind = (typeof FEED_KIND_VALUES)[number];

interface FeedStatus {
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

interface ImportReport {
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

interface ImportResult {
  report: ImportReport;
  retro_hunt: { indicators: number; window_days: number };
}

interface IntelStatus {
  sources: Record<string, { indicators: number; updated: string | null; origin?: string; format?: string }>;
  matcher: { indicators: number };
  feeds?: number;
}

interface TopHit {
  indicator: string;
  type: string;
  source: string;
  hits: number;
  last_hit: string | null;
}

/** Answers (JSON bodies of 2xx responses), keyed by "method path" as in the OpenAPI document. */
export interface UntypedResponses {
  "get /auth/me": User;
  "post /auth/login": { user: User; csrf: string };
  "get /users": { items: User[] };
  "post /users": User;
  "get /tokens": { items: Token[] };
  "post /tokens": Token;
  "post /search": SearchOutput;
  "get /fields": { fields: FieldInfo[] };
  "get /alerts": { total: number; items: Alert[] };
  "get /alerts/groups": { items: AlertGroup[] };
  "get /alerts/{id}": AlertDetail;
  "get /alerts/{id}/related": { before: Hit[]; after: Hit[] };
  "get /rules": { total: number; items: RuleInfo[] };
  "post /rules": { loaded: string[]; rejected: { name: string; reason: unknown }[] };
  "post /rules/validate": ValidateResult;
  "post /rules/reload": { loaded: number; rejected: unknown[] };
  "get /rules/{id}": RuleInfo;
  "post /rules/{id}/enable": RuleInfo;
  "post /rules/{id}/disable": RuleInfo;
  "get /overview": Overview;
  "get /stream": Tick;
  "get /health": Health;
  "get /intel": IntelStatus;
  "get /intel/indicators": { total: number; items: Indicator[] };
  "post /intel/import": ImportResult;
  "get /intel/feeds": { items: FeedStatus[] };
  "post /intel/feeds": FeedStatus;
  "post /intel/feeds/{name}/pull": ImportResult;
  "get /intel/hits": { total: number; items: Alert[] };
  "get /intel/hits/top": { items: TopHit[] };
  "get /settings/outputs": { items: Output[] };
}

/** Query parameters: the document lists none yet. */
export type UntypedQuery = Record<string, unknown>;

/** Request bodies of the routes the document does not list at all. */
export interface UntypedRequests {
  "put /settings/outputs": { items: Output[] };
}
