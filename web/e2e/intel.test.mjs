// The threat-intelligence page in a real browser against the `taishi serve`
// of scripts/e2e. Setup imports public feed files (abuse.ch Feodo Tracker,
// the OASIS APT1 STIX bundle) through the import endpoint and sends one event
// that touches a Feodo C2 address, so the page has indicators and a hit.
// Steps that need the feed and hit endpoints of the intel contract check
// what the server answers and, where it lacks them, that the page says so.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set: run scripts/e2e`);
  return v;
};
const URL_ = env("TAISHI_URL");
const API = env("TAISHI_API", URL_);
const PASSWORD = env("TAISHI_PASSWORD");
const TOKEN = env("TAISHI_TOKEN");
const SHOTS = env("E2E_SCREENSHOTS", "e2e/.out");
const PROFILE = `${env("E2E_PROFILE", "e2e/.out/profile")}-intel`;
const DATA = process.env.TAISHI_TEST_DATA ?? fileURLToPath(new URL("../../../shared/data", import.meta.url));
const FEODO = join(DATA, "threat-intel/abusech/feodotracker_ipblocklist.csv");
const APT1 = join(DATA, "threat-intel/stix/apt1-bundle.json");
// A Pikabot C2 address of the Feodo snapshot, and an address the GeoIP test
// database places in Changchun, Jilin (for the China map).
const C2 = "192.9.135.73";
const CN_SOURCE = "175.16.199.1";

let ctx, page;
const haveData = existsSync(FEODO) && existsSync(APT1);

async function call(method, path, body, type = "application/json") {
  const r = await fetch(`${API}/api/v1${path}`, {
    method, headers: { Authorization: `Bearer ${TOKEN}`, ...(body ? { "Content-Type": type } : {}) }, body,
  });
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: the status and text tell */
  }
  return { status: r.status, json, text };
}
async function importFeed(name, format, file) {
  const r = await call("POST", `/intel/import?name=${encodeURIComponent(name)}&format=${format}`, readFileSync(file), "application/octet-stream");
  assert.equal(r.status, 200, `import ${file}: ${r.text}`);
  assert.ok(r.json.report.added + r.json.report.updated > 0, `import ${file} added indicators: ${r.text}`);
  return r.json;
}
async function waitFor(f, ms = 15000, step = 400) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, step));
  }
}
const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true, timeout: 60000 });
const total = async () => Number((await page.locator(".pager .muted").first().innerText()).replace(/[^\d]/g, ""));
const rows = () => page.getByTestId("indicator-row");

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  if (haveData) {
    await importFeed("abuse.ch-feodo", "feodo", FEODO);
    await importFeed("oasis-apt1", "stix", APT1);
    // An outbound connection to the C2 address: an intel alert at ingest.
    const ev = { "@timestamp": new Date().toISOString(), event: { kind: "event", category: ["network"], action: "connection" },
      host: { name: "e2e-intel-host" }, source: { ip: CN_SOURCE, port: 50123 }, destination: { ip: C2, port: 1194 }, network: { transport: "tcp" } };
    const r = await call("POST", "/ingest", `${JSON.stringify(ev)}\n`, "application/x-ndjson");
    assert.equal(r.status, 200, `ingest: ${r.text}`);
  }
  rmSync(PROFILE, { recursive: true, force: true });
  ctx = await chromium.launchPersistentContext(PROFILE, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 720 },
    locale: "zh-CN",
    timezoneId: "Asia/Shanghai",
  });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => console.error("page error:", e.message));
  await page.goto(`${URL_}/login`);
  await page.getByLabel("用户名").fill("admin");
  await page.getByLabel("密码").fill(PASSWORD);
  await page.getByRole("button", { name: "登录" }).click();
  await page.waitForURL(/\/overview/);
});

after(async () => {
  await ctx?.close();
});

test("the intel page is reached from the navigation and lists indicators", async (t) => {
  if (!haveData) return t.skip(`no feed samples under ${DATA}`);
  await page.getByRole("link", { name: "威胁情报" }).click();
  await page.waitForURL(/\/intel/);
  await page.getByRole("heading", { name: "威胁情报" }).waitFor();
  await page.getByTestId("intel-kpis").waitFor();
  await rows().first().waitFor();
  assert.ok((await total()) > 20, "indicators from both imports");
  // The indicator types and sources are shown in Chinese.
  const types = await page.locator('[data-testid="indicator-row"] td:nth-child(2)').allInnerTexts();
  assert.ok(types.some((x) => /IP 地址|网段|域名|MD5/.test(x)), `types: ${types.slice(0, 5)}`);
});

test("a search narrows the indicator table", async (t) => {
  if (!haveData) return t.skip("no feed samples");
  const all = await total();
  await page.getByTestId("indicator-search").fill(C2);
  await page.waitForURL(/q=192\.9\.135\.73/);
  const n = await waitFor(async () => {
    const x = await total();
    return x < all ? x : 0;
  });
  assert.ok(n >= 1 && n < all, `indicators ${all} -> ${n}`);
  const values = await rows().evaluateAll((rs) => rs.map((r) => r.getAttribute("data-value")));
  assert.ok(values.length >= 1 && values.every((v) => v.includes(C2)), `rows: ${values}`);
});

test("an indicator opens with the keyboard, with its context and hits", async (t) => {
  if (!haveData) return t.skip("no feed samples");
  const hits = await call("GET", `/intel/hits?indicator=${encodeURIComponent(C2)}`);
  assert.equal(hits.status, 200, hits.text);
  // The alert of the setup's event is raised asynchronously.
  const n = await waitFor(async () => (await call("GET", `/intel/hits?indicator=${encodeURIComponent(C2)}`)).json?.total ?? 0);
  assert.ok(n >= 1, "the C2 connection raised an intel alert");
  await rows().first().focus();
  await page.keyboard.press("Enter");
  const detail = page.getByTestId("indicator-detail");
  await detail.waitFor();
  await detail.getByText("Pikabot").first().waitFor();
  await detail.getByText("abuse.ch-feodo").first().waitFor();
  const link = detail.locator('[data-testid="indicator-hits"] a.alert-title').first();
  await link.waitFor();
  assert.match(await link.getAttribute("href"), /^\/alerts\//);
  await shot("intel-zh-CN");
  await page.keyboard.press("Escape");
  await detail.waitFor({ state: "detached" });
});

test("the feed table shows, and a failing pull is reported", async () => {
  await page.getByTestId("intel-tab-feeds").click();
  const feeds = await call("GET", "/intel/feeds");
  assert.equal(feeds.status, 200, feeds.text);
  // A feed nobody answers for (a closed local port): the pull fails, and the
  // error is kept on the feed and highlighted.
  const name = "e2e-unreachable";
  await page.getByTestId("feed-add-open").click();
  const form = page.getByTestId("feed-form");
  await form.getByLabel("名称").fill(name);
  await form.getByLabel("地址").fill("http://127.0.0.1:9/feodo.csv");
  await form.getByLabel("格式").selectOption("feodo");
  await form.getByRole("button", { name: "新建" }).click();
  const row = page.locator(`[data-testid="feed-row"][data-feed="${name}"]`);
  await row.waitFor();
  await page.getByTestId("feed-table").waitFor();
  await row.getByTestId("feed-pull").click();
  await row.getByTestId("feed-error").waitFor({ timeout: 60000 });
  page.once("dialog", (d) => d.accept());
  await row.getByTestId("feed-delete").click();
  await row.waitFor({ state: "detached" });
});

test("the sources show on the top-hits tab", async (t) => {
  if (!haveData) return t.skip("no feed samples");
  await page.getByTestId("intel-tab-top").click();
  // The C2 contact of the setup is the most hit indicator.
  await page.getByTestId("top-hits").getByText(C2).first().waitFor();
  const src = page.getByTestId("intel-sources");
  await src.getByText("abuse.ch-feodo").waitFor();
  await src.getByText("oasis-apt1").waitFor();
  // Clicking a source lists its indicators.
  await src.getByRole("button", { name: "oasis-apt1" }).click();
  await page.waitForURL(/source=oasis-apt1/);
  await rows().first().waitFor();
});

test("the language switch works on the intel page", async (t) => {
  await page.goto(`${URL_}/intel`);
  await page.getByRole("heading", { name: "威胁情报" }).waitFor();
  await page.getByTestId("lang-switch").click();
  await page.getByRole("heading", { name: "Threat intelligence" }).waitFor();
  assert.equal(await page.getAttribute("html", "lang"), "en");
  await page.getByRole("link", { name: "Threat intel" }).waitFor();
  await page.getByRole("tab", { name: "Indicators" }).waitFor();
  await page.getByRole("tab", { name: "Feeds" }).waitFor();
  if (haveData) {
    await rows().first().waitFor();
    await page.getByRole("columnheader", { name: "Valid until" }).waitFor();
    await page.getByTestId("indicator-search").fill(C2);
    await waitFor(async () => (await rows().count()) >= 1 && (await rows().count()) < 5);
    await rows().first().click();
    await page.getByTestId("indicator-detail").getByText("Alerts raised").waitFor();
  } else {
    t.diagnostic("no feed samples: the English page is shot empty");
  }
  await shot("intel-en");
  await page.getByTestId("lang-switch").click();
  await page.getByRole("heading", { name: "威胁情报" }).waitFor();
});

test("the China map shows provinces", async () => {
  await page.goto(`${URL_}/overview?from=now-3650d&to=now`);
  await page.getByTestId("map-china").click();
  await page.locator('.geomap[data-view="china"]').waitFor();
  await page.waitForTimeout(1000); // the chart's animation
  const panel = page.locator(".geomap").locator("xpath=ancestor::section[1]");
  await panel.screenshot({ path: join(SHOTS, "map-china-zh-CN.png") });
});
