// What the e2e tests share: the settings scripts/e2e passes in, and
// Debian's Chromium launched the same way for each of them.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set: run scripts/e2e`);
  return v;
};

/** A headless Chromium in zh-CN on Asia/Shanghai time with a fresh profile. */
export async function launch(profile, { width = 1280, height = 720 } = {}) {
  rmSync(profile, { recursive: true, force: true });
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width, height },
    locale: "zh-CN",
    timezoneId: "Asia/Shanghai",
    acceptDownloads: true,
  });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.setDefaultTimeout(20000);
  page.on("pageerror", (e) => console.error("page error:", e.message));
  return { ctx, page };
}

/** What scripts/e2e passes in: the console, the API, the admin's password,
 * a loader token, where screenshots and browser profiles go. */
export function settings() {
  const url = env("TAISHI_URL");
  return {
    url, api: env("TAISHI_API", url), password: env("TAISHI_PASSWORD"), token: env("TAISHI_TOKEN"),
    // The first start's audit administrator (三权分立: the one account that reads the trail).
    auditor: env("TAISHI_AUDITOR_PASSWORD", ""),
    shots: env("E2E_SCREENSHOTS", "e2e/.out"), profile: env("E2E_PROFILE", "e2e/.out/profile"),
  };
}

/** Calls the API with the loader token: `{ status, text, json }`. */
export async function apiCall(api, token, method, path, body) {
  const r = await fetch(`${api}/api/v1${path}`, {
    method, headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, text, json: text ? JSON.parse(text) : null };
}

/** `f()` once it is truthy, or its last value after `ms`. */
export async function waitFor(f, ms = 15000, step = 300) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, step));
  }
}

/** Signs `page` in on the console's sign-in page and waits to leave it. */
export async function signIn(page, url, username, password) {
  await page.goto(`${url}/login`);
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('button[type="submit"]').click();
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
}

/** A screenshot of the whole page as `dir/name.png`. A full-page capture
 * repeats the sticky top bar halfway down a tall page: the window grows to
 * the page's height for the picture instead. */
export async function shotOf(page, dir, name) {
  const size = page.viewportSize();
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: size.width, height: Math.min(Math.max(height, size.height), 4000) });
  await page.screenshot({ path: join(dir, `${name}.png`), timeout: 60000 });
  await page.setViewportSize(size);
}
