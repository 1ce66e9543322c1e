// Chinese everywhere (issue 13, items 12 and 16) in a real browser against
// the `taishi serve` of scripts/e2e: every main page in zh-CN shows no
// English label outside data values; a server error is shown by its code in
// the console's language with the server's detail beneath; SigmaHQ rule
// titles are in Chinese with the English alongside (English only in
// English); the big screen fits 1920×1080 with no page scroll, in both
// languages. Screenshots: chinese-*-{zh-CN,en}.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { launch, settings, shotOf, signIn, waitFor } from "./lib.mjs";

const { url: URL_, password: PASSWORD, shots: SHOTS, profile } = settings();
let ctx, page;
const shot = (name) => shotOf(page, SHOTS, `chinese-${name}`);

// Words that are names, not labels: products, formats, protocols and the
// standards a security team says in English in Chinese too.
const ALLOWED = new Set(("Taishi IP IPs URL API CSV JSON JSONL NDJSON CEF RFC TLS UDP TCP HTTP HTTPS DNS SSH YAML Sigma SigmaHQ " +
  "ATT CK ATT&CK PowerShell EVTX Sysmon MiB KiB GiB ID IDs Syslog NetFlow Zeek Suricata MISP TAXII STIX PUA Webhook SMTP " +
  "DingTalk WeCom Feishu LDAP SIEM ECS OpenAPI Bearer Token CSRF UTC GMT ASN GeoIP IOC IOCs SHA MD5 JA3 JA4 CIDR DoH " +
  "Windows Linux Beats Elasticsearch Kafka Prometheus AND OR NOT TOP Top EPS KPI IPv Enter " +
  // The query language's own words (the search page's syntax hint).
  "TO stats count sort top timechart span " +
  // Vulnerability management's names (the risk pages).
  "CVE CVSS EPSS SSVC KEV CISA FIRST Nmap XML CPE MAC DHCP CNVD CNNVD " +
  // Data: the sample organisation's name and id.
  "Headquarters root").split(" "));

/** The visible labels of the page (headings, table heads, buttons, form
 * labels, navigation, panel titles) with English words not allowed. Data
 * (table cells, code, the English line of a rule title) is not a label. */
async function englishLabels() {
  return page.evaluate((allowed) => {
    const allow = new Set(allowed);
    const sel = "h1, h2, h3, th, button, label, summary, nav a, .kpi-label, .panel-head, .tabs a, .tab, option, .empty, legend, .muted.small";
    const out = [];
    for (const el of document.querySelectorAll(sel)) {
      if (!el.offsetParent && el.tagName !== "OPTION") continue;
      if (el.closest("[lang=en], code, pre, .mono, .rule-title-en, .cm-editor, td, .feed, .org-switcher")) continue;
      // A field of the events with its count (the search page's field
      // list: `proto 481`) is a data value, whatever the sender named it.
      if (/^\S+\n\d+$/.test((el.innerText ?? "").trim())) continue;
      // Permission names (`users:write`) are identifiers, not labels.
      const text = (el.innerText ?? el.textContent ?? "").replace(/[a-z_]+:[a-z_]+/g, "");
      const words = text.match(/[A-Za-z][A-Za-z&.-]{2,}/g) ?? [];
      const bad = words.filter((w) => !allow.has(w) && !allow.has(w.replace(/[.-]+$/, "")) && !/^[a-z][a-z0-9_.]*[._][a-z0-9_.]+$/.test(w));
      if (bad.length) out.push(`${el.tagName.toLowerCase()}: ${text.trim().slice(0, 80)}`);
    }
    return [...new Set(out)];
  }, [...ALLOWED]);
}

async function setLang(lang) {
  const now = await page.evaluate(() => document.documentElement.lang);
  if (now !== lang) await page.getByTestId("lang-switch").first().click();
  await waitFor(async () => (await page.evaluate(() => document.documentElement.lang)) === lang);
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ ctx, page } = await launch(`${profile}-chinese`, { width: 1440, height: 900 }));
  await signIn(page, URL_, "admin", PASSWORD);
});

after(async () => {
  await ctx?.close();
});

const PAGES = [
  ["overview", "/overview?from=now-24h"],
  ["alerts", "/alerts?from=now-24h&status=all"],
  ["search", "/search?q=*&from=now-30d"],
  ["rules", "/rules"],
  ["intel", "/intel"],
  ["settings", "/settings"],
  ["risk-assets", "/risk/assets"],
  ["risk-vulns", "/risk/vulns"],
  ["risk-ranking", "/risk/ranking"],
  ["risk-warnings", "/risk/warnings"],
];

test("every main page in zh-CN has no English label outside data values", async () => {
  await setLang("zh-CN");
  const found = [];
  for (const [name, path] of PAGES) {
    await page.goto(`${URL_}${path}`);
    await page.locator("main h1, .page-head h1").first().waitFor();
    await page.waitForLoadState("networkidle");
    for (const l of await englishLabels()) found.push(`${name}: ${l}`);
    await shot(`${name}-zh-CN`);
  }
  assert.deepEqual(found, [], "English labels in the Chinese console");
  await setLang("en");
  for (const [name, path] of PAGES) {
    await page.goto(`${URL_}${path}`);
    await page.locator("main h1, .page-head h1").first().waitFor();
    await page.waitForLoadState("networkidle");
    await shot(`${name}-en`);
  }
  await setLang("zh-CN");
});

test("a bad search query is shown by its code in the console's language, the server's detail beneath", async () => {
  for (const [lang, want] of [["zh-CN", /查询语句有误/], ["en", /The query has an error/]]) {
    await page.goto(`${URL_}/search?q=${encodeURIComponent("a = ((")}&from=now-30d`);
    await setLang(lang);
    const box = page.locator('.error-box[data-code="invalid_query"]').first();
    await box.waitFor();
    assert.match(await box.innerText(), want);
    // The server's English detail stays, small, for an administrator.
    assert.ok(await box.locator(".error-detail").count(), "the server's detail is shown");
    await shot(`error-${lang}`);
  }
  await setLang("zh-CN");
});

test("SigmaHQ rule titles are in Chinese with the English alongside; English shows English only", async () => {
  await setLang("zh-CN");
  await page.goto(`${URL_}/alerts?from=now-24h&status=all`);
  const zh = page.locator("table .rule-title-zh");
  assert.ok(await waitFor(async () => (await zh.count()) > 0), "translated titles in the alert queue");
  const en = page.locator("table .rule-title-en").first();
  assert.match(await en.innerText(), /[A-Za-z]/, "the English title is beside the Chinese one");
  assert.match(await zh.first().innerText(), /[\u4e00-\u9fff]/);
  await shot("rule-titles-zh-CN");
  await page.goto(`${URL_}/rules`);
  assert.ok(await waitFor(async () => (await page.locator("table .rule-title-zh").count()) > 0), "translated titles in the rule list");
  await setLang("en");
  await page.goto(`${URL_}/alerts?from=now-24h&status=all`);
  await page.locator("table tbody tr").first().waitFor();
  assert.equal(await page.locator(".rule-title-zh").count(), 0, "no Chinese titles in English");
  await shot("rule-titles-en");
  await setLang("zh-CN");
});

test("the big screen fits 1920×1080 with no page scroll, in both languages", async () => {
  await page.setViewportSize({ width: 1920, height: 1080 });
  for (const lang of ["zh-CN", "en"]) {
    await page.goto(`${URL_}/overview?screen=1&from=now-24h`);
    await setLang(lang);
    await page.getByTestId("kpi-threat").waitFor();
    await page.waitForLoadState("networkidle");
    await page.waitForTimeout(1500);
    const h = await page.evaluate(() => document.documentElement.scrollHeight);
    console.log(`big screen ${lang}: scrollHeight ${h}`);
    assert.ok(h <= 1080, `big screen is ${h} px tall in ${lang}`);
    await page.screenshot({ path: `${SHOTS}/chinese-bigscreen-${lang}.png`, timeout: 60000 });
  }
  await page.setViewportSize({ width: 1440, height: 900 });
  await setLang("zh-CN");
});
