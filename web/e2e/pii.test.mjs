// 数据资产目录 / Data inventory (issue 16) in a real browser against the
// `taishi serve` of scripts/e2e: events carrying a resident ID number and a
// mobile number are sent over the HTTP ingest; the page lists the location
// (organisation × listener × field) with its kinds, partial masks only (the
// raw values appear nowhere on the page), the people counted, and the
// GB/T 35273 category and GB/T 43697 level, in zh-CN and English.
// Screenshots: pii-inventory-{zh-CN,en}.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { apiCall, launch, settings, shotOf, signIn, waitFor } from "./lib.mjs";

const { url: URL_, api: API, password: PASSWORD, token: TOKEN, shots: SHOTS, profile } = settings();
// Valid by their check digit and region code (taishi-pii validates, not matches).
const IDS = ["11010119900307803X", "440305200002290002"];
const MOBILE = "13800138000";
let ctx, page;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const now = new Date().toISOString();
  const events = IDS.map((id, i) => ({
    "@timestamp": now, "event.dataset": "crm.export", "host.name": "crm-db-01",
    message: `客户资料导出 第${i + 1}条 身份证号 ${id} 手机 ${MOBILE}`,
  }));
  const r = await fetch(`${API}/api/v1/ingest?format=ndjson`, {
    method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/x-ndjson" },
    body: events.map((e) => JSON.stringify(e)).join("\n") + "\n",
  });
  assert.ok(r.ok, `ingest: ${r.status} ${await r.text()}`);
  ({ ctx, page } = await launch(`${profile}-pii`, { width: 1440, height: 900 }));
  await signIn(page, URL_, "admin", PASSWORD);
});

after(async () => {
  await ctx?.close();
});

for (const lang of ["zh-CN", "en"]) {
  test(`the data inventory lists where personal information was seen, masked (${lang})`, async () => {
    // The server's own answer first: the location exists and is masked.
    const inv = await waitFor(async () => {
      const r = await apiCall(API, TOKEN, "GET", "/data/inventory");
      return r.status === 200 && r.json.locations.find((l) => l.field === "message" && l.hosts.includes("crm-db-01"));
    }, 30000);
    assert.ok(inv, "the message field of crm-db-01's events is in the inventory");
    assert.ok(inv.people >= 2, `two people: ${JSON.stringify(inv)}`);

    await page.goto(`${URL_}/data`);
    if (lang === "en") {
      await page.getByTestId("lang-switch").click();
      await page.getByText("Data inventory").first().waitFor();
    }
    const T = lang === "en"
      ? { title: "Data inventory", id: "resident ID", level: "Data level" }
      : { title: "数据资产目录", id: "身份证", level: "数据级别" };
    await page.getByRole("heading", { name: T.title }).waitFor();
    const table = page.getByTestId("inventory-table");
    await table.waitFor();
    const row = table.locator("tr", { hasText: "crm-db-01" }).first();
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, new RegExp(T.id, "i"), `the resident ID kind is named: ${text}`);
    assert.match(await table.locator("thead").innerText(), new RegExp(T.level));
    // Never a raw value on the page; partial masks only.
    const body = await page.locator("body").innerText();
    for (const raw of [...IDS, MOBILE]) assert.ok(!body.includes(raw), `raw ${raw} shown`);
    assert.match(text, /\*{3,}/, "a partial mask is shown");
    // The nav names the page in the console's language.
    assert.ok(await page.getByRole("link", { name: lang === "en" ? "Data inventory" : "数据资产" }).count());
    await shotOf(page, SHOTS, `pii-inventory-${lang}`);
  });
}
