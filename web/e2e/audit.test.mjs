// The auditor's page (审计日志) in a real browser against the `taishi serve`
// of scripts/e2e: the trail's records as a table in zh-CN and English, the
// filters, the verification and the exports; the navigation shows it only
// to callers with `audit:read`. Screenshots: audit-{zh-CN,en}.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { launch, settings } from "./lib.mjs";

const { url: URL_, api: API, auditor: AUDITOR, token: TOKEN, shots: SHOTS, profile } = settings();
const PROFILE = `${profile}-audit`;
const VIEWER = { username: "e2e-viewer", password: "Viewer-Pass-2026!x" };
// What the auditor chooses in place of its one-time password (not
// containing its name: the policy refuses that).
const AUDITOR_OWN = "Trail-Keeper-Pass-2026!x";

let ctx, page;

async function call(method, path, body) {
  const r = await fetch(`${API}/api/v1${path}`, {
    method, headers: { Authorization: `Bearer ${TOKEN}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, text, json: text ? JSON.parse(text) : null };
}
const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true, timeout: 60000 });
const rows = () => page.getByTestId("audit-row");

async function signIn(username, password) {
  await page.goto(`${URL_}/login`);
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('button[type="submit"]').click();
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // Something for the auditor to see: a sign-in with an unknown name, a
  // new user, and a settings change (the outputs saved as they are).
  const failed = await fetch(`${API}/api/v1/auth/login`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: "mallory", password: "guess-1234567" }),
  });
  assert.equal(failed.status, 401);
  const u = await call("POST", "/users", { ...VIEWER, roles: ["viewer"] });
  assert.ok(u.status === 200 || u.status === 409, `create viewer: ${u.text}`);
  const outs = await call("GET", "/settings/outputs");
  assert.equal(outs.status, 200, outs.text);
  const put = await call("PUT", "/settings/outputs", { items: outs.json.items });
  assert.equal(put.status, 200, put.text);

  ({ ctx, page } = await launch(PROFILE, { width: 1440, height: 900 }));
  // The audit administrator made at first start: it lands on the trail,
  // the only page its role may read.
  assert.ok(AUDITOR, "scripts/e2e passes the auditor's one-time password");
  await signIn("auditor", AUDITOR);
});

after(async () => {
  await ctx?.close();
});

test("a one-time password must be changed before anything else", async () => {
  // The first start's password opens one page: choosing one's own.
  const forced = page.getByTestId("forced-password");
  await forced.waitFor();
  assert.match(await forced.innerText(), /一次性密码/);
  await shot("forced-password-zh-CN");
  // The server agrees: nothing but the account routes answers meanwhile.
  const denied = await page.evaluate(async () => (await fetch("/api/v1/audit")).status);
  assert.equal(denied, 403);
  await page.getByTestId("lang-switch").click();
  await forced.getByText("Choose your own password").waitFor();
  await shot("forced-password-en");
  await page.getByTestId("lang-switch").click();
  await forced.locator('input[name="old"]').fill(AUDITOR);
  await forced.locator('input[name="new"]').fill(AUDITOR_OWN);
  await forced.locator('input[name="again"]').fill(AUDITOR_OWN + "x");
  await forced.locator('button[type="submit"]').click();
  await forced.getByRole("alert").getByText("两次输入的新密码不一致").waitFor();
  await forced.locator('input[name="again"]').fill(AUDITOR_OWN);
  await forced.locator('button[type="submit"]').click();
  // The change ends the session: back to sign-in, told so.
  await page.getByTestId("password-changed").waitFor();
  await shot("password-changed-zh-CN");
  await signIn("auditor", AUDITOR_OWN);
  await page.waitForURL(/\/audit/);
});

test("the audit page lists the trail in Chinese, newest first", async () => {
  // The auditor's navigation is the trail and its own account, nothing else.
  assert.equal(await page.getByRole("link", { name: "告警处置" }).count(), 0);
  await page.getByRole("link", { name: "审计日志" }).click();
  await page.waitForURL(/\/audit/);
  await page.getByRole("heading", { name: "审计日志" }).waitFor();
  await rows().first().waitFor();
  // The newest record is this very view of the trail.
  assert.equal(await rows().first().getAttribute("data-action"), "audit.read");
  const text = await page.getByTestId("audit-table").innerText();
  for (const s of ["时间", "操作人", "组织", "角色", "来源地址", "操作", "对象", "结果", "原因", "用户登录", "登录失败", "创建用户", "修改告警输出", "mallory", "失败", "系统管理员"]) {
    assert.ok(text.includes(s), `${s} in the table`);
  }
  // Times carry their zone (the browser's, Asia/Shanghai here).
  assert.match(await rows().first().locator("td").first().innerText(), /GMT\+8/);
});

test("filters narrow the table", async () => {
  await page.getByTestId("audit-outcome").selectOption("failed");
  await page.waitForURL(/outcome=failed/);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="audit-row"]')].every((r) => r.querySelector("[data-outcome]")?.getAttribute("data-outcome") === "failed"));
  assert.ok((await rows().count()) >= 1);
  await page.getByTestId("audit-outcome").selectOption("");
  await page.getByTestId("audit-action").selectOption("outputs.*");
  await page.waitForURL(/action=outputs/);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="audit-row"]')].every((r) => r.getAttribute("data-action") === "outputs.update"));
  // A settings change shows its before and after.
  await rows().first().click();
  await page.getByTestId("audit-before").waitFor();
  await page.getByTestId("audit-after").waitFor();
  await page.getByTestId("audit-action").selectOption("");
});

test("the verification says the trail is intact, and the exports download", async () => {
  await page.getByTestId("audit-verify").click();
  const verdict = page.getByTestId("audit-verdict");
  await verdict.waitFor();
  assert.equal(await verdict.getAttribute("data-ok"), "true");
  assert.match(await verdict.innerText(), /审计记录完整/);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("audit-export-csv").click()]);
  assert.match(download.suggestedFilename(), /^taishi-audit-.*\.csv$/);
  const csv = readFileSync(await download.path(), "utf8");
  assert.match(csv, /seq,time,actor_id/);
  assert.match(csv, /登录失败/);
  await rows().first().click();
  await shot("audit-zh-CN");
});

test("the page in English", async () => {
  await page.getByTestId("lang-switch").click();
  await page.getByRole("heading", { name: "Audit trail" }).waitFor();
  await page.getByRole("link", { name: "Audit trail" }).waitFor();
  await page.getByRole("columnheader", { name: "Source address" }).waitFor();
  const text = await page.getByTestId("audit-table").innerText();
  for (const s of ["User login", "Failed login", "User created", "Alert output updated", "Failed", "System administrator"]) {
    assert.ok(text.includes(s), `${s} in the table`);
  }
  await page.getByTestId("audit-verify").click();
  await page.getByTestId("audit-verdict").getByText(/Audit trail intact/).waitFor();
  await shot("audit-en");
  await page.getByTestId("lang-switch").click();
  await page.getByRole("heading", { name: "审计日志" }).waitFor();
});

test("a viewer has no audit page in the navigation", async () => {
  const [out] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/v1/auth/logout")),
    page.getByRole("button", { name: "退出登录" }).click(),
  ]);
  assert.ok(out.ok(), `sign-out: ${out.status()} ${out.statusText()}`);
  await page.locator('input[name="username"]').waitFor();
  await signIn(VIEWER.username, VIEWER.password);
  await page.getByRole("link", { name: "告警处置" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "审计日志" }).count(), 0);
  // The page itself, opened by its address, says the caller may not.
  await page.goto(`${URL_}/audit`);
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /audit:read/);
});
