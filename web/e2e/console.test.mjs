// The console in a real browser against a real `taishi serve` (started and
// loaded with ../shared/data by scripts/e2e). Debian's Chromium, driven by
// playwright-core; the steps run in order and share one signed-in page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
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
const PROFILE = env("E2E_PROFILE", "e2e/.out/profile");
const EVTX_LIST = process.env.E2E_EVTX_LIST;
const RANGE = "now-3650d"; // the samples are years old

let ctx, page;
let alertId;

/** The API as the loader token sees it (for checks, not for the UI steps). */
async function apiGet(path) {
  const r = await fetch(`${API}/api/v1${path}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  if (!r.ok) assert.fail(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}
async function ingestEvtx(file) {
  const r = await fetch(`${API}/api/v1/ingest?format=evtx`, {
    method: "POST", headers: { Authorization: `Bearer ${TOKEN}` }, body: readFileSync(file),
  });
  assert.ok(r.ok, `ingest ${file}: ${r.status}`);
  return r.json();
}
async function alertCount(ruleId) {
  const r = await apiGet(`/alerts?rule_id=${encodeURIComponent(ruleId)}&status=&from=${RANGE}&to=now`);
  return r.total;
}
async function waitFor(f, ms = 15000, step = 500) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, step));
  }
}
// Search pages with expanded events grow taller than Chromium can capture
// in one piece: those are shot at the viewport's size.
const shot = (name, fullPage = !name.startsWith("search")) =>
  page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage, timeout: 60000 });

/** Canvases of the page's charts that have drawn something. */
async function drawnCharts() {
  return page.$$eval("[data-chart] canvas", (cs) =>
    cs.filter((c) => {
      const g = c.getContext("2d");
      if (!g || !c.width || !c.height) return false;
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 16) if (d[i] > 0) n++;
      return n > 200;
    }).length,
  );
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  rmSync(PROFILE, { recursive: true, force: true });
  ctx = await chromium.launchPersistentContext(PROFILE, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync",
    ],
    viewport: { width: 1280, height: 720 },
    locale: "zh-CN",
    timezoneId: "Asia/Shanghai",
    acceptDownloads: true,
  });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => console.error("page error:", e.message));
});

after(async () => {
  await ctx?.close();
});

test("sign in", async () => {
  await page.goto(`${URL_}/overview`);
  await page.waitForURL(/\/login/);
  // Simplified Chinese first.
  assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
  await page.getByLabel("用户名").fill("admin");
  await page.getByLabel("密码").fill("wrong-password");
  await page.getByRole("button", { name: "登录" }).click();
  await page.getByRole("alert").waitFor();
  await page.getByLabel("密码").fill(PASSWORD);
  await page.getByRole("button", { name: "登录" }).click();
  await page.waitForURL(/\/overview/);
  assert.match(await page.getByTestId("current-user").innerText(), /admin/);
});

test("the overview renders with non-empty charts", async () => {
  await page.getByTestId("time-range").first().selectOption(RANGE);
  await page.getByTestId("kpi-events").waitFor();
  const events = await waitFor(async () => {
    const t = await page.getByTestId("kpi-events").innerText();
    return Number(t.replace(/[^\d]/g, "")) || 0;
  });
  assert.ok(events > 0, "events counted");
  const alerts = Number((await page.getByTestId("kpi-alerts").innerText()).replace(/[^\d]/g, ""));
  assert.ok(alerts > 0, "alerts counted");
  // Threat gauge, sparkline, events, alerts, levels, rules, assets, heat-map.
  const drawn = await waitFor(async () => ((await drawnCharts()) >= 6 ? drawnCharts() : 0), 15000);
  assert.ok(drawn >= 6, `charts drawn: ${drawn}`);
  await page.getByText("ATT&CK 战术 × 技术热力图").waitFor();
  await page.waitForTimeout(800); // let the chart animations settle
  await shot("overview-zh-CN");
});

test("a search narrows by clicking a field value", async () => {
  await page.goto(`${URL_}/search?from=${RANGE}&to=now`);
  await page.getByTestId("query").fill("");
  await page.getByTestId("run-search").click();
  const count = async () => Number((await page.getByTestId("hit-count").innerText()).replace(/[^\d]/g, ""));
  await page.getByTestId("hit-count").waitFor();
  const all = await count();
  assert.ok(all > 0, "events found");
  // A field with several values: clicking one must narrow the hits.
  const field = page.locator('[data-field="event.code"] .field-name');
  await field.click();
  const value = page.getByTestId("field-value").first();
  const valueText = (await value.locator(".fv-text").innerText()).trim();
  await value.click();
  await page.waitForFunction(
    (v) => document.querySelector('[data-testid="query"]')?.value.includes(v), `event.code:"${valueText}"`,
  );
  const narrowed = await waitFor(async () => {
    const n = await count();
    return n < all ? n : 0;
  });
  assert.ok(narrowed > 0 && narrowed < all, `hits ${all} -> ${narrowed}`);
  await page.getByTestId("event-row").first().click(); // expand an event
  await page.locator(".kv-table").first().waitFor();
  await shot("search-zh-CN");
});

test("an alert is acknowledged and then closed", async () => {
  await page.goto(`${URL_}/alerts?status=new&kind=sigma&sort=-level&from=${RANGE}&to=now`);
  await page.getByTestId("alert-row").first().waitFor();
  await page.getByTestId("alert-row").first().locator("a.alert-title").click();
  await page.getByTestId("alert-page").waitFor();
  alertId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
  await page.getByTestId("ack").click();
  await page.locator('.alert-head [data-status="acknowledged"]').waitFor();
  assert.equal((await apiGet(`/alerts/${encodeURIComponent(alertId)}`)).status, "acknowledged");
  await page.getByTestId("matching-event").waitFor();
  await page.getByTestId("comment").fill("e2e: 已核实，为测试样本");
  await page.getByRole("button", { name: "添加备注" }).click();
  await page.getByText("e2e: 已核实，为测试样本").waitFor();
  await shot("alert-zh-CN");
  await page.getByTestId("close-fp").click();
  await page.locator('.alert-head [data-status="closed"]').waitFor();
  const a = await apiGet(`/alerts/${encodeURIComponent(alertId)}`);
  assert.equal(a.status, "closed");
  assert.equal(a.resolution, "false_positive");
});

test("an ATT&CK id opens its description from the local data", async () => {
  // From the alert page when its rule names a technique (most SigmaHQ rules do).
  await page.goto(`${URL_}/alerts/${encodeURIComponent(alertId)}`);
  await page.getByTestId("attack-tags").waitFor();
  const tech = page.getByTestId("attack-tags").locator("a.technique");
  if (await tech.count()) {
    const id = (await tech.first().textContent()).trim();
    await tech.first().click();
    await page.getByTestId("attack-page").waitFor();
    assert.equal(new URL(page.url()).pathname, `/attack/${id.replace(".", "/")}`);
  }
  // A sub-technique loaded afresh (no dot in the path: see attackPath), no
  // internet needed: name, zh-CN tactic, MITRE's text.
  await page.goto(`${URL_}/attack/T1059/001`);
  await page.getByTestId("attack-description").waitFor();
  assert.match(await page.getByTestId("attack-description").textContent(), /PowerShell/);
  assert.match(await page.getByTestId("attack-tactics").textContent(), /执行/);
});

test("a rule is disabled and stops firing", async (t) => {
  if (!EVTX_LIST) return t.skip("no EVTX list");
  // A rule that fired on its own regression sample (files are named by rule id).
  const files = readFileSync(EVTX_LIST, "utf8").split("\n").filter(Boolean);
  const groups = (await apiGet(`/alerts/groups?by=rule&status=&from=${RANGE}&to=now`)).items;
  const fired = new Set(groups.map((g) => g.key));
  const file = files.find((f) => fired.has(basename(f, ".evtx")));
  assert.ok(file, "some regression rule fired");
  const ruleId = basename(file, ".evtx");

  // It fires again on the same sample while enabled…
  const n0 = await alertCount(ruleId);
  await ingestEvtx(file);
  const n1 = await waitFor(async () => { const n = await alertCount(ruleId); return n > n0 ? n : 0; });
  assert.ok(n1 > n0, `rule ${ruleId} fires while enabled (${n0} -> ${n1})`);

  // …is switched off in the console…
  await page.goto(`${URL_}/rules`);
  await page.getByTestId("rule-search").fill(ruleId);
  const row = page.locator(`[data-testid="rule-row"][data-rule-id="${ruleId}"]`);
  await row.waitFor();
  const sw = row.getByTestId("rule-toggle");
  assert.equal(await sw.getAttribute("aria-checked"), "true");
  await sw.click();
  await page.waitForFunction((id) => document.querySelector(`[data-rule-id="${id}"] [data-testid="rule-toggle"]`)?.getAttribute("aria-checked") === "false", ruleId);
  const info = await apiGet(`/rules/${encodeURIComponent(ruleId)}`);
  assert.equal(info.enabled, false);

  // …and no longer fires on the same events.
  const accepted = await ingestEvtx(file);
  assert.ok(accepted.accepted > 0, "the events were taken");
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(await alertCount(ruleId), n1, "no alert from a disabled rule");

  // Back on, for whoever looks at this server next.
  await sw.click();
  await page.waitForFunction((id) => document.querySelector(`[data-rule-id="${id}"] [data-testid="rule-toggle"]`)?.getAttribute("aria-checked") === "true", ruleId);
});

test("the language is switched", async () => {
  await page.goto(`${URL_}/overview?from=${RANGE}&to=now`);
  await page.getByRole("link", { name: "态势总览" }).waitFor();
  await page.getByTestId("lang-switch").click();
  await page.getByRole("link", { name: "Overview" }).waitFor();
  assert.equal(await page.getAttribute("html", "lang"), "en");
  await page.getByText("ATT&CK tactic × technique").waitFor();
  // Numbers and dates follow the language; rule titles stay as written.
  await waitFor(async () => (await drawnCharts()) >= 6);
  await page.waitForTimeout(800);
  await shot("overview-en");

  await page.goto(`${URL_}/search?from=${RANGE}&to=now&q=${encodeURIComponent("")}`);
  await page.getByTestId("hit-count").waitFor();
  assert.match(await page.getByTestId("hit-count").innerText(), /events/);
  await page.locator('[data-field="event.code"] .field-name').click();
  await page.getByTestId("event-row").first().click();
  await shot("search-en");

  await page.goto(`${URL_}/alerts/${encodeURIComponent(alertId)}`);
  await page.getByTestId("alert-page").waitFor();
  await page.getByText("Matching events").waitFor();
  await page.getByTestId("matching-event").waitFor();
  await shot("alert-en");

  // The choice is remembered across a reload.
  await page.reload();
  await page.getByText("Matching events").waitFor();
  await page.getByTestId("lang-switch").click();
  await page.getByText("触发事件").waitFor();
});
