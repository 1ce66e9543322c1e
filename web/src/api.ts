// The client side of the Taishi API: its types, all taken from api.gen.ts
// (generated from the server's OpenAPI document by `scripts/gen-types`), and
// one fetch wrapper.
//
// Types are looked up by route ("method path"), not by schema name, so they
// follow the document whatever the server calls its types. While the document
// has no schema for an answer, the stand-in of api.untyped.ts is used (see
// there; it goes away once the document describes every answer).
import type { paths } from "./api.gen";
import { FEED_KIND_VALUES, LEVEL_VALUES, type UntypedQuery, type UntypedRequests, type UntypedResponses } from "./api.untyped";

type Method = "get" | "post" | "put" | "patch" | "delete";
type Operation<P extends string, M extends Method> = P extends keyof paths
  ? M extends keyof paths[P]
    ? NonNullable<paths[P][M]>
    : never
  : never;
type Json<C> = C extends { content: { "application/json": infer J } } ? J : C extends { content: infer K } ? K[keyof K] : never;
type Success<R> = R extends { 200: infer S } ? S : R extends { 201: infer S } ? S : never;
/** No usable type: the route is not in the document, or its schema is a bare object. */
type Untyped<T> = [T] extends [never] ? true : unknown extends T ? true : string extends keyof T ? true : false;
type Fallback<K, Map> = K extends keyof Map ? Map[K] : never;

/** The JSON answer of `M P` on success, e.g. `Res<"/alerts/{id}">`. */
export type Res<P extends string, M extends Method = "get"> =
  Json<Success<Operation<P, M>["responses"]>> extends infer G
    ? Untyped<G> extends true
      ? Fallback<`${M} ${P}`, UntypedResponses>
      : G
    : never;

/** The JSON body that `M P` takes, e.g. `Req<"/auth/login">`; use with `satisfies`. */
export type Req<P extends string, M extends Method = "post"> =
  [Json<NonNullable<Operation<P, M>["requestBody"]>>] extends [never]
    ? Fallback<`${M} ${P}`, UntypedRequests>
    : Json<NonNullable<Operation<P, M>["requestBody"]>>;

/** The query parameters of `M P`, e.g. `Query<"/alerts">`; use with `satisfies`. */
export type Query<P extends string, M extends Method = "get"> =
  [NonNullable<Operation<P, M>["parameters"]["query"]>] extends [never]
    ? UntypedQuery
    : NonNullable<Operation<P, M>["parameters"]["query"]>;

// The names the console uses, each derived from one route's answer (pages
// that need no name use `Res<…>` directly).
export type User = Res<"/auth/me">;
export type Role = User["role"];
export type SearchOutput = Res<"/search", "post">;
export type HitsOutput = Extract<SearchOutput, { kind: "hits" }>;
export type Hit = HitsOutput["hits"][number];
export type Flat = Hit["event"];
export type Alert = Res<"/alerts">["items"][number];
export type Level = Alert["level"];
export type RuleInfo = Res<"/rules/{id}">;
export type ValidateResult = Res<"/rules/validate", "post">;
export type Overview = Res<"/overview">;
/** One `tick` of the server-sent event stream. */
export type Tick = Res<"/stream">;
export type Output = Res<"/settings/outputs">["items"][number];
export type Indicator = Res<"/intel/indicators">["items"][number];
export type FeedStatus = Res<"/intel/feeds">["items"][number];
export type ImportResult = Res<"/intel/import", "post">;
export type ImportReport = ImportResult["report"];
export type IntelStatus = Res<"/intel">;

/** Every alert level, lowest first: the index is the level's rank (the one
 * ranking the console has; it sorts and fills charts in this order). */
export const LEVELS: readonly Level[] = LEVEL_VALUES;
/** The kinds of intel feed the server pulls. */
export const FEED_KINDS: readonly string[] = FEED_KIND_VALUES;

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

