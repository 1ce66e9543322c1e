// The client side of the Taishi API: its types, all taken from api.gen.ts
// (generated from the server's OpenAPI document by `scripts/gen-types`), and
// one fetch wrapper.
//
// Types are looked up by route ("method path"), not by schema name, so they
// follow the document whatever the server calls its types.
import i18n from "./i18n";
import { alertStatusValues, feedKindValues, levelValues, type components, type paths } from "./api.gen";

type Method = "get" | "post" | "put" | "patch" | "delete";
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Json<C> = C extends { content: { "application/json": infer J } } ? J : never;
type Success<R> = R extends { 200: infer S } ? S : R extends { 201: infer S } ? S : never;

/** The JSON answer of `M P` on success, e.g. `Res<"/alerts/{id}">`. */
export type Res<P extends keyof paths, M extends Method = "get"> = Json<Success<Operation<P, M>["responses"]>>;

/** The JSON body that `M P` takes, e.g. `Req<"/auth/login">`; use with `satisfies`. */
export type Req<P extends keyof paths, M extends Method = "post"> = Json<NonNullable<Operation<P, M>["requestBody"]>>;

/** The query parameters of `M P`, e.g. `Query<"/alerts">`; use with `satisfies`. */
export type Query<P extends keyof paths, M extends Method = "get"> = NonNullable<Operation<P, M>["parameters"]["query"]>;

// The names the console uses, each derived from one route's answer (pages
// that need no name use `Res<…>` directly).
export type User = NonNullable<Res<"/auth/login", "post">["user"]>;
export type Role = User["roles"][number];
export type Permission = components["schemas"]["Permission"];
export type SearchOutput = Res<"/search", "post">;
export type HitsOutput = Extract<SearchOutput, { kind: "hits" }>;
/** One stored event, flattened: free-form JSON. */
export type Flat = HitsOutput["events"][number];
export type Alert = Res<"/alerts">["items"][number];
export type Level = Alert["level"];
export type AlertStatus = Alert["status"];
export type RuleInfo = Res<"/rules/{id}">;
export type ValidateResult = Res<"/rules/validate", "post">;
export type Overview = Res<"/overview">;
export type Org = components["schemas"]["Org"];
export type RoleInfo = Res<"/roles">["items"][number];
export type PermissionInfo = Res<"/roles">["permissions"][number];
export type Output = Res<"/settings/outputs">["items"][number];
/** An output as `PUT /settings/outputs` takes it (settings left out keep their defaults). */
export type OutputDraft = Req<"/settings/outputs", "put">["items"][number];
export type Indicator = Res<"/intel/indicators">["items"][number];
export type FeedStatus = Res<"/intel/feeds">["items"][number];
export type FeedKind = Req<"/intel/feeds">["kind"];
export type ImportResult = Res<"/intel/import", "post">;
export type ImportReport = ImportResult["report"];
export type IntelStatus = Res<"/intel">;
/** One `tick` of the server-sent event stream (`GET /stream`). The route's
 * answer is `text/event-stream`, a string to the document, so the payload is
 * looked up by its schema name: the document lists it as `Tick`. */
export type Tick = components["schemas"]["Tick"];

/** Every alert level, lowest first: the index is the level's rank (the one
 * ranking the console has; it sorts and fills charts in this order). */
export const LEVELS: readonly Level[] = levelValues;
/** Where an analyst is with an alert, in the server's order. */
export const ALERT_STATUSES: readonly AlertStatus[] = alertStatusValues;
/** The kinds of intel feed the server pulls. */
export const FEED_KINDS: readonly FeedKind[] = feedKindValues;

/** The server's stable word for what went wrong (`ErrorBody.code`). */
export type ErrorCode = components["schemas"]["ErrorCode"];
type ErrorParams = Record<string, unknown>;

/** The console's message for an error code, in the current language, with
 * the values the server named filled in. */
export function errorMessage(status: number, code: ErrorCode | undefined, params: ErrorParams = {}): string {
  const t = i18n.t.bind(i18n);
  if (!code) return t("apiError.unknown", { status });
  const p: Record<string, unknown> = { ...params };
  p.at = params.column !== undefined ? t("apiError.column", { column: params.column }) : "";
  p.needs = params.permission !== undefined ? t("apiError.needs", { permission: params.permission }) : "";
  p.limit = params.limit_mib !== undefined ? t("apiError.limitMib", { limit_mib: params.limit_mib }) : (params.limit ?? "");
  const key = `apiError.${code}`;
  return i18n.exists(key) ? t(key, p) : t("apiError.unknown", { status });
}

/** An API answer other than 2xx: `message` is the console's own for its
 * code (in the current language), `detail` the server's English text. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public detail: string,
    public field?: string,
    public code?: ErrorCode,
    public params: ErrorParams = {},
  ) {
    // Forms and toasts show `message` alone: the console's sentence for the
    // code, then the server's own words, which name what to change (which
    // password rule, which roles break the separation of duties).
    const said = errorMessage(status, code, params);
    super(detail && detail !== said ? `${said} — ${detail}` : said);
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

// The organisation switcher's choice: every call but `/auth/me` (which must
// list every organisation the caller sees, to offer them) is narrowed to it.
// None: the caller's whole view (the roll-up).
let orgScope: string | null = null;
export const setOrgScope = (org: string | null) => {
  orgScope = org;
};
export const getOrgScope = () => orgScope;
/** The header that narrows a call to the chosen organisation. */
export const ORG_HEADER = "X-Taishi-Org";

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

type Body = unknown;

export async function api<T>(
  path: string,
  opts: { method?: string; body?: Body; query?: Record<string, unknown>; raw?: string | Blob; contentType?: string; signal?: AbortSignal; unscoped?: boolean } = {},
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
  if (orgScope && !opts.unscoped) headers[ORG_HEADER] = orgScope;
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
    let code: ErrorCode | undefined;
    let params: ErrorParams = {};
    try {
      const j = await r.json();
      if (j && typeof j.error === "string") msg = j.error;
      else if (j?.error?.reason) msg = j.error.reason;
      field = j?.field;
      if (typeof j?.code === "string") code = j.code as ErrorCode;
      if (j?.params && typeof j.params === "object") params = j.params as ErrorParams;
    } catch {
      /* not JSON: keep the status line */
    }
    throw new ApiError(r.status, msg, field, code, params);
  }
  if (r.status === 204) return undefined as T;
  const text = await r.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

// Readers for JSON the document leaves free-form (events: their fields are
// whatever the sources sent). Each field is checked where it is read.

/** `v` if it is a JSON object, else an empty one. */
export function asObject(v: unknown): Flat {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Flat) : {};
}
/** `v` if it is a string. */
export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
/** `v` if it is a number. */
export const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

/** Quotes a value for the query language (`field:"value"`). */
export function quoteValue(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The ATT&CK parts of Sigma tags. */
/** The console page of an ATT&CK technique. A sub-technique is written
 * as MITRE writes it in URLs (`T1059/001`): a full page load of a path whose
 * last part has a dot is taken for a missing file, not a console route. */
export function attackPath(id: string) {
  return `/attack/${id.split(".").map(encodeURIComponent).join("/")}`;
}

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

