// Page-load timings of the console at scale (run by scripts/console-scale,
// not by CI). For every page: a full navigation in headless Chromium, timed
// until a page-specific element shows real data; RUNS runs each. Prints the
// median and max per page, then the median latency of every API call the
// pages made (from the browser's resource timings). Timings are figures,
// not assertions: only a page that never renders (an error) fails the run.
import { chromium } from "playwright-core";

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set: run scripts/console-scale`);
  return v;
};
const URL_ = env("TAISHI_URL");
const PASSWORD = env("TAISHI_PASSWORD");
const RUNS = Number(env("RUNS", "5"));
const TIMEOUT = Number(env("PAGE_TIMEOUT_MS", "60000"));
const JSON_OUT = process.env.SCALE_JSON;

/** Waits until every check holds (polled in the page on each frame). */
const ready = (page, fn, arg) => page.waitForFunction(fn, arg, { timeout: TIMEOUT, polling: "raf" });
const rows = (sel, n = 1) => (page) => ready(page, ([s, k]) => document.querySelectorAll(s).length >= k, [sel, n]);

let alertId = "";
const PAGES = [
  {
    name: "overview (24 h)", path: "/overview?from=now-24h&to=now",
    ready: (page) => ready(page, () => {
      const n = Number((document.querySelector('[data-testid="kpi-events"]')?.textContent ?? "").replace(/[^\d]/g, ""));
      return n > 0 && document.querySelectorAll("[data-chart] canvas").length >= 6;
    }),
  },
  {
    name: "overview (7 d)", path: "/overview?from=now-7d&to=now",
    ready: (page) => ready(page, () => {
      const n = Number((document.querySelector('[data-testid="kpi-events"]')?.textContent ?? "").replace(/[^\d]/g, ""));
      return n > 0 && document.querySelectorAll("[data-chart] canvas").length >= 6;
    }),
  },
  { name: "alerts queue (24 h)", path: "/alerts?from=now-24h&to=now", ready: rows('[data-testid="alert-row"]', 20) },
  { name: "alerts queue (7 d, all)", path: "/alerts?status=all&from=now-7d&to=now", ready: rows('[data-testid="alert-row"]', 20) },
  { name: "alerts by rule (7 d)", path: "/alerts?by=rule&status=all&from=now-7d&to=now", ready: rows('[data-testid="alert-groups"] tbody tr', 5) },
  { name: "alerts by host (7 d)", path: "/alerts?by=host&status=all&from=now-7d&to=now", ready: rows('[data-testid="alert-groups"] tbody tr', 5) },
  { name: "alerts by source (7 d)", path: "/alerts?by=source&status=all&from=now-7d&to=now", ready: rows('[data-testid="alert-groups"] tbody tr', 5) },
  { name: "alerts level>=high (7 d)", path: "/alerts?level=high&sort=-level&from=now-7d&to=now", ready: rows('[data-testid="alert-row"]', 20) },
  {
    name: "alert page", path: () => `/alerts/${encodeURIComponent(alertId)}`,
    ready: (page) => ready(page, () => document.querySelector('[data-testid="matching-event"]')
      && document.querySelectorAll('[data-testid="related"] [data-testid="event-row"]').length > 0),
  },
  {
    name: "search (default, 24 h)", path: "/search?q=&from=now-24h&to=now",
    ready: (page) => ready(page, () =>
      Number((document.querySelector('[data-testid="hit-count"]')?.textContent ?? "").replace(/[^\d]/g, "")) > 0
      && document.querySelectorAll('[data-testid="event-row"]').length > 0
      && document.querySelectorAll("[data-chart] canvas").length > 0),
  },
  {
    name: "search field list (24 h)", path: "/search?q=&from=now-24h&to=now",
    ready: (page) => ready(page, () => document.querySelectorAll("[data-field]").length >= 10),
  },
  {
    name: "search term (7 d)", path: "/search?q=" + encodeURIComponent('event.code:4688 AND user.name:"alice"') + "&from=now-7d&to=now",
    ready: (page) => ready(page, () =>
      Number((document.querySelector('[data-testid="hit-count"]')?.textContent ?? "").replace(/[^\d]/g, "")) > 0
      && document.querySelectorAll('[data-testid="event-row"]').length > 0
      && document.querySelectorAll("[data-field]").length >= 5),
  },
  { name: "rules", path: "/rules", ready: rows('[data-testid="rule-row"]', 10) },
  { name: "settings", path: "/settings", ready: rows(".table tbody tr", 1) },
];

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

const ctx = await chromium.launchPersistentContext(env("E2E_PROFILE"), {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1440, height: 900 },
  locale: "zh-CN",
  timezoneId: "Asia/Shanghai",
});
const page = ctx.pages()[0] ?? (await ctx.newPage());
page.setDefaultTimeout(TIMEOUT);
page.on("pageerror", (e) => console.error("page error:", e.message));

// API calls by "METHOD path" (ids folded), with their durations in ms.
const calls = new Map();
let current = null;
page.on("requestfinished", (req) => {
  const u = new URL(req.url());
  if (!u.pathname.startsWith("/api/v1/") || u.pathname === "/api/v1/stream") return;
  const t = req.timing();
  if (t.responseEnd < 0) return;
  let path = u.pathname.replace(/^\/api\/v1/, "").replace(/^\/alerts\/(?!groups)[^/]+/, "/alerts/{id}");
  const keys = [...u.searchParams.entries()].filter(([k, v]) => v !== "" && !["from", "to"].includes(k)).map(([k, v]) => (["by", "level"].includes(k) ? `${k}=${v}` : k));
  if (keys.length) path += `?${keys.sort().join("&")}`;
  const key = `${req.method()} ${path}`;
  if (!calls.has(key)) calls.set(key, { ms: [], pages: new Set() });
  calls.get(key).ms.push(t.responseEnd);
  if (current) calls.get(key).pages.add(current);
});
page.on("requestfailed", (req) => {
  // Requests a navigation to the next run cut short are not errors.
  if (req.failure()?.errorText === "net::ERR_ABORTED") return;
  if (req.url().includes("/api/v1/") && !req.url().endsWith("/stream")) console.error(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
});

// Sign-in, timed like a page: the form until the overview's first paint of data.
const t0 = Date.now();
await page.goto(`${URL_}/login`);
await page.locator('input[type="password"]').waitFor();
await page.locator('input[autocomplete="username"], input[name="username"], input:not([type="password"])').first().fill("admin");
await page.locator('input[type="password"]').fill(PASSWORD);
await page.locator('button[type="submit"]').click();
await page.waitForURL(/\/overview/, { timeout: TIMEOUT });
console.log(`sign-in: ${Date.now() - t0} ms until the overview URL`);

// An alert to open: the newest one in the queue.
alertId = await page.evaluate(async () => {
  const r = await fetch("/api/v1/alerts?limit=1", { credentials: "same-origin" });
  return (await r.json()).items?.[0]?.id ?? "";
});
if (!alertId) throw new Error("no alert in the data directory: did the generator write any?");

const results = [];
let failed = false;
for (const p of PAGES) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    current = p.name;
    const path = typeof p.path === "function" ? p.path() : p.path;
    // A blank page between runs: every run is a full navigation with a cold
    // query cache, as a user opening the page gets.
    await page.goto("about:blank");
    const start = Date.now();
    try {
      await page.goto(`${URL_}${path}`, { waitUntil: "commit" });
      await p.ready(page);
      times.push(Date.now() - start);
    } catch (e) {
      failed = true;
      console.error(`${p.name}: did not render within ${TIMEOUT} ms: ${e.message.split("\n")[0]}`);
      break;
    }
  }
  current = null;
  if (times.length) results.push({ page: p.name, median_ms: median(times), max_ms: Math.max(...times), runs: times });
}

console.log(`\npage load (navigation -> content with data), ${RUNS} runs, ms`);
console.log(`${pad("page", 28)} ${lpad("median", 7)} ${lpad("max", 7)}   runs`);
for (const r of results) console.log(`${pad(r.page, 28)} ${lpad(r.median_ms, 7)} ${lpad(r.max_ms, 7)}   ${r.runs.join(" ")}`);

console.log(`\nAPI calls made by the pages (browser timings), ms`);
console.log(`${pad("call", 52)} ${lpad("n", 4)} ${lpad("median", 7)} ${lpad("max", 7)}`);
const api = [...calls.entries()].map(([k, v]) => ({ call: k, n: v.ms.length, median_ms: Math.round(median(v.ms)), max_ms: Math.round(Math.max(...v.ms)) }));
api.sort((a, b) => b.median_ms - a.median_ms);
for (const a of api) console.log(`${pad(a.call, 52)} ${lpad(a.n, 4)} ${lpad(a.median_ms, 7)} ${lpad(a.max_ms, 7)}`);

if (JSON_OUT) (await import("node:fs")).writeFileSync(JSON_OUT, JSON.stringify({ pages: results, api }, null, 2));
await ctx.close();
process.exit(failed ? 1 : 0);
