// Organisations and roles in a real browser against the `taishi serve` of
// scripts/e2e: `admin` makes two operators' organisations through the UI,
// each gets events through an ingest token bound to it, and the switcher
// in the top bar narrows the alert list and the overview to one of them;
// a user with two roles in one organisation, a custom role, and the
// separation of duties (三权分立) refused with the server's message.
// Screenshots: {orgs,users,roles,switcher}-{zh-CN,en}.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { env, launch, settings, shotOf, signIn, waitFor } from "./lib.mjs";

const { url: URL_, api: API, password: PASSWORD, shots: SHOTS, profile } = settings();
const PROFILE = `${profile}-tenancy`;
const EVTX = readFileSync(env("E2E_EVTX_LIST"), "utf8").split("\n").filter(Boolean);
const RANGE = "from=now-3650d&to=now"; // the samples are years old
// Each operator's events: a regression EVTX file (a Sigma alert) and a marker.
const ORGS = [
  { id: "e2e-east", zh: "华东电网", evtx: EVTX[1] },
  { id: "e2e-west", zh: "西部水务", evtx: EVTX[2] },
];

let ctx, page;
const shot = (name) => shotOf(page, SHOTS, name);

/** A call with the page's session (and its CSRF value), as the console makes it. */
async function session(method, path, body, org) {
  return page.evaluate(async ({ method, path, body, org }) => {
    const headers = { "Content-Type": "application/json", "X-Taishi-CSRF": sessionStorage.getItem("taishi.csrf") ?? "" };
    if (org) headers["X-Taishi-Org"] = org;
    const r = await fetch(`/api/v1${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    return { status: r.status, text, json: text ? JSON.parse(text) : null };
  }, { method, path, body, org });
}
const alertTotal = async (org) => (await session("GET", `/alerts?${RANGE}&status=&limit=1`, null, org)).json.total;
/** The number in an element's text ("共 1,234 条" → 1234). */
const numberIn = async (loc) => Number((await loc.innerText()).replace(/[^\d]/g, ""));

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ ctx, page } = await launch(PROFILE, { width: 1440, height: 900 }));
  await signIn(page, URL_, "admin", PASSWORD);
});

after(async () => {
  await ctx?.close();
});

test("admin creates two organisations in Settings → 组织", async () => {
  await page.goto(`${URL_}/settings?tab=orgs`);
  const form = page.getByTestId("new-org");
  for (const o of ORGS) {
    await form.locator('input[name="org-id"]').fill(o.id);
    await form.locator('input[name="org-name"]').fill(o.zh);
    await form.locator('button[type="submit"]').click();
    await page.locator(`[data-testid="org-row"][data-org="${o.id}"]`).waitFor();
  }
  const text = await page.getByTestId("org-table").innerText();
  for (const s of ["华东电网", "e2e-east", "西部水务", "e2e-west"]) assert.ok(text.includes(s), `${s} in the tree`);
  assert.match(await page.getByTestId("org-note").innerText(), /org_by_source/);
  // The switcher appears once there is more than one organisation.
  await page.getByTestId("org-switch").waitFor();
  await shot("orgs-zh-CN");
});

test("each organisation's events arrive through a token bound to it", async () => {
  for (const o of ORGS) {
    const tk = await session("POST", "/tokens", { name: `e2e-${o.id}`, org: o.id });
    assert.equal(tk.status, 200, tk.text);
    assert.equal(tk.json.org, o.id);
    const ingest = (body, format, type) =>
      fetch(`${API}/api/v1/ingest?format=${format}`, { method: "POST", headers: { Authorization: `Bearer ${tk.json.secret}`, "Content-Type": type }, body });
    const r = await ingest(readFileSync(o.evtx), "evtx", "application/octet-stream");
    assert.ok(r.ok, `ingest ${o.evtx}: ${r.status}`);
    const marker = { "@timestamp": new Date().toISOString(), message: `e2e tenancy marker ${o.id}`, host: { name: `${o.id}-host` } };
    const m = await ingest(`${JSON.stringify(marker)}\n`, "ndjson", "application/x-ndjson");
    assert.ok(m.ok, `ingest marker: ${m.status} ${await m.text()}`);
  }
  for (const o of ORGS) assert.ok(await waitFor(async () => (await alertTotal(o.id)) > 0), `alerts of ${o.id}`);
});

test("the switcher narrows the alert list and the overview", async () => {
  const all = await alertTotal(null);
  const east = await alertTotal("e2e-east");
  const west = await alertTotal("e2e-west");
  assert.ok(east < all && west < all, `east ${east}, west ${west}, all ${all}`);

  await page.goto(`${URL_}/alerts?${RANGE}&status=`);
  const pager = page.locator(".pager .muted");
  const shows = (n) => page.waitForFunction((n) => Number(document.querySelector(".pager .muted")?.textContent?.replace(/[^\d]/g, "")) === n, n);
  await shows(all);
  const switcher = page.getByTestId("org-switch");
  // The tree: the roll-up first, then the organisations, those below indented.
  const options = await switcher.locator("option").allInnerTexts();
  assert.match(options[0], /全部（汇总）/);
  assert.ok(options.some((o) => /^\s+└ 华东电网 \(e2e-east\)$/.test(o)), options.join(" | "));

  // Every call carries the choice, and the live stream reopens with it.
  const call = page.waitForRequest((r) => r.url().includes("/api/v1/alerts?") && r.headers()["x-taishi-org"] === "e2e-east");
  const stream = page.waitForRequest((r) => r.url().includes("/api/v1/stream?org=e2e-east"));
  await switcher.selectOption("e2e-east");
  await Promise.all([call, stream]);
  await shows(east);
  assert.equal(await page.getByTestId("org-scope").getAttribute("data-org"), "e2e-east");
  assert.match(await page.getByTestId("org-scope-id").innerText(), /e2e-east/);
  const eastTitles = await page.locator(".alert-title").allInnerTexts();
  await switcher.selectOption("e2e-west");
  await shows(west);
  const westTitles = await page.locator(".alert-title").allInnerTexts();
  assert.notDeepEqual(eastTitles, westTitles);
  // The choice is kept across a reload (per user, in localStorage).
  await page.reload();
  await shows(west);
  assert.equal(await switcher.inputValue(), "e2e-west");

  // The overview's totals follow the switcher too.
  await page.goto(`${URL_}/overview?${RANGE}`);
  const events = page.getByTestId("kpi-events");
  await events.waitFor();
  const westEvents = await numberIn(events);
  await switcher.selectOption("");
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="kpi-events"]')?.textContent?.replace(/[^\d]/g, "")) > n, westEvents);
  const allEvents = await numberIn(events);
  assert.ok(westEvents > 0 && westEvents < allEvents, `west ${westEvents} of ${allEvents}`);

  await switcher.selectOption("e2e-east");
  await page.goto(`${URL_}/alerts?${RANGE}&status=`);
  await shows(east);
  assert.ok((await numberIn(pager)) === east);
  await shot("switcher-zh-CN");
  await switcher.selectOption("");
  await shows(all);
});

test("a user with two roles in one organisation, and the separation of duties", async () => {
  await page.goto(`${URL_}/settings?tab=users`);
  const form = page.getByTestId("new-user");
  const roles = page.getByTestId("new-user-roles");
  await roles.locator('input[value="analyst"]').waitFor();
  await form.locator('input[name="username"]').fill("e2e-east-duty");
  await form.locator('input[name="password"]').fill("East-Duty-Pass-2026!x");
  await roles.locator('input[value="responder"]').check();
  await page.getByTestId("new-user-org").selectOption("e2e-east");
  await form.locator('button[type="submit"]').click();
  const row = page.locator('[data-testid="user-row"][data-user="e2e-east-duty"]');
  await row.waitFor();
  assert.equal(await row.locator('[data-role="analyst"]').innerText(), "安全分析员");
  assert.equal(await row.locator('[data-role="responder"]').count(), 1);
  assert.match(await row.innerText(), /华东电网/);

  // The system and the audit duties in one account: the server says no.
  await form.locator('input[name="username"]').fill("e2e-both");
  await form.locator('input[name="password"]').fill("Both-Duties-Pass-2026!x");
  await roles.locator('input[value="analyst"]').uncheck();
  await roles.locator('input[value="responder"]').uncheck();
  await roles.locator('input[value="sysadmin"]').check();
  await roles.locator('input[value="auditor"]').check();
  await form.locator('button[type="submit"]').click();
  await page.getByTestId("user-error").getByText(/三权分立/).waitFor();
  assert.equal(await page.locator('[data-testid="user-row"][data-user="e2e-both"]').count(), 0);
  await shot("users-zh-CN");
});

test("a custom role, and one the separation of duties refuses", async () => {
  await page.goto(`${URL_}/settings?tab=roles`);
  const form = page.getByTestId("role-form");
  const perms = page.getByTestId("role-permissions");
  // The built-in roles with their permissions, read-only.
  await page.locator('[data-testid="role-row"][data-role="auditor"]').getByText("审计管理员").waitFor();
  await form.locator('input[name="role-id"]').fill("shift-lead");
  await form.locator('input[name="role-name"]').fill("值班长");
  for (const p of ["alerts:read", "alerts:write", "search", "overview:read"]) await perms.locator(`input[value="${p}"]`).check();
  await form.locator('button[type="submit"]').click();
  const row = page.locator('[data-testid="role-row"][data-role="shift-lead"]');
  await row.waitFor();
  assert.match(await row.innerText(), /值班长[\s\S]*自定义/);

  await form.locator('input[name="role-id"]').fill("bad-mix");
  await form.locator('input[name="role-name"]').fill("Everything");
  for (const p of ["users:write", "audit:read"]) await perms.locator(`input[value="${p}"]`).check();
  await form.locator('button[type="submit"]').click();
  const err = page.getByTestId("role-error");
  await err.getByText(/三权分立/).waitFor();
  assert.match(await err.innerText(), /separation of duties/);
  assert.equal(await page.locator('[data-testid="role-row"][data-role="bad-mix"]').count(), 0);
  await shot("roles-zh-CN");
});

test("the same pages in English", async () => {
  await page.getByTestId("lang-switch").click();
  await page.getByRole("tab", { name: "Roles" }).waitFor();
  await page.locator('[data-testid="role-row"][data-role="auditor"]').getByText("Audit administrator").waitFor();
  await shot("roles-en");
  await page.getByRole("tab", { name: "Users" }).click();
  const row = page.locator('[data-testid="user-row"][data-user="e2e-east-duty"]');
  assert.equal(await row.locator('[data-role="analyst"]').innerText(), "Analyst");
  await shot("users-en");
  await page.getByRole("tab", { name: "Organisations" }).click();
  await page.getByTestId("org-note").getByText(/organization\.id/).first().waitFor();
  await shot("orgs-en");
  await page.getByTestId("org-switch").selectOption("e2e-east");
  await page.goto(`${URL_}/alerts?${RANGE}&status=`);
  assert.match(await page.getByTestId("org-scope").innerText(), /Data of/);
  assert.match((await page.getByTestId("org-switch").locator("option").first().innerText()), /All \(roll-up\)/);
  await page.getByTestId("alert-table").waitFor();
  await shot("switcher-en");
  await page.getByTestId("org-switch").selectOption("");
  await page.getByTestId("lang-switch").click();
});
