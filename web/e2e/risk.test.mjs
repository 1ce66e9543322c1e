// The risk pages (issue 15) in a real browser against the `taishi serve` of
// scripts/e2e, per language. Loaded once through the API: an inventory CSV
// (two assets of 网上营业厅), the public Nmap vulners sample (its host is
// the inventory's 192.168.0.1), a scanner CSV for the database host, a KEV
// file naming a CVE of each (new entries: 红/橙 warnings) and a Sigma alert on
// the first host. Each language then imports an inventory through the
// dialog (one bad row: its reason shown), reads the assets list, an asset's
// page (record with provenance, score trend and factors, findings with the
// KEV badge, the alert linking to its page), the vulnerabilities by CVE and
// by asset (zh-CN also accepts a risk with approver and expiry), the risk
// ranking with a factor explained, and the warnings with the level filter.
// Other test files share the server: everything here is found by its own
// names and addresses, never as "the first" or "the newest".
// Screenshots: risk-{assets,import,asset,vulns,vulns-by-asset,ranking,warnings}-{zh-CN,en}.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiCall, env, launch, settings, shotOf, signIn, waitFor } from "./lib.mjs";

const { url: URL_, api: API, password: PASSWORD, token: TOKEN, shots: SHOTS, profile } = settings();
const DATA = env("TAISHI_TEST_DATA", join(process.cwd(), "../../shared/data"));
const WEB = "网上营业厅前置机";
const DB = "营业厅数据库";
let ctx, page, webId;

const INVENTORY = "IP地址,主机名,资产名称,业务系统,重要性,关基,等保级别,数据级别,暴露端口,负责人\n"
  + `192.168.0.1,web-risk01,${WEB},网上营业厅,关键,是,3,重要,tcp/5022,张三\n`
  + `192.168.0.9,db-risk09,${DB},网上营业厅,重要,否,3,核心,,李四\n`;
// A domestic scanner's export for the database host (Chinese headers).
const DB_SCAN = "IP地址,端口,协议,CVE编号,漏洞名称,风险等级,CVSS向量\n"
  + "192.168.0.9,5432,tcp,CVE-2024-3094,XZ Utils 后门,严重,CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H\n";

function kevFile(entries) {
  return JSON.stringify({
    title: "CISA Catalog of Known Exploited Vulnerabilities", catalogVersion: "2026.12.06", dateReleased: "2026-12-06T10:00:00.000Z", count: entries.length,
    vulnerabilities: entries.map(([cve, product, ransomware]) => ({
      cveID: cve, vendorProject: product, product, vulnerabilityName: `${product} (taishi e2e)`, dateAdded: "2026-12-06", shortDescription: "e2e",
      requiredAction: "Apply updates per vendor instructions.", dueDate: "2026-12-27", knownRansomwareCampaignUse: ransomware ? "Known" : "Unknown", notes: "", cwes: [],
    })),
  });
}

async function upload(path, body, type) {
  const r = await fetch(`${API}/api/v1${path}`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": type }, body });
  const text = await r.text();
  assert.equal(r.status, 200, `${path}: ${text}`);
  return JSON.parse(text);
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const inv = await upload("/assets?format=csv&name=inventory.csv", INVENTORY, "text/csv");
  assert.deepEqual(inv.rejects, [], JSON.stringify(inv));
  const scan = await upload("/vulns/import?name=ssh-vulners.xml", readFileSync(join(DATA, "vuln/scanners/nmap/defectdojo_sV_vulners_ssh.xml")), "application/xml");
  assert.equal(scan.scanner, "nmap", JSON.stringify(scan));
  await upload("/vulns/import?name=db-scan.csv", DB_SCAN, "text/csv");
  const kev = await upload("/vulns/feeds/kev?name=kev-2026-12-06.json", kevFile([["CVE-2018-15919", "OpenSSH", true], ["CVE-2024-3094", "XZ Utils", false]]), "application/json");
  assert.ok(kev.warnings.length >= 1, `KEV warnings: ${JSON.stringify(kev)}`);
  const web = await apiCall(API, TOKEN, "GET", "/assets?identity=192.168.0.1");
  webId = web.json.items.find((a) => a.name === WEB)?.id;
  assert.ok(webId, web.text);

  // A Sigma alert on the web host: the asset's page lists it, its score counts it.
  const r = await fetch(`${API}/api/v1/ingest?format=ndjson`, {
    method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/x-ndjson" },
    body: JSON.stringify({
      "@timestamp": new Date(Date.now() - 60_000).toISOString(),
      EventID: 1, Channel: "Microsoft-Windows-Sysmon/Operational", Provider_Name: "Microsoft-Windows-Sysmon",
      Computer: "web-risk01.corp.example", ProcessGuid: "{risk-W}", ProcessId: 5150, ParentProcessGuid: "{risk-P}", ParentProcessId: 5140,
      Image: "C:\\Windows\\System32\\whoami.exe", OriginalFileName: "whoami.exe", CommandLine: "whoami.exe /all", User: "CORP\\risk-user",
    }) + "\n",
  });
  assert.ok(r.ok, `ingest: ${r.status}`);
  const attacked = await waitFor(async () => (await apiCall(API, TOKEN, "GET", `/assets/${webId}`)).json?.alerts?.some((a) => a.alert_id), 30000);
  assert.ok(attacked, "the alert reaches the asset");

  ({ ctx, page } = await launch(`${profile}-risk`, { width: 1440, height: 900 }));
  await signIn(page, URL_, "admin", PASSWORD);
});

after(async () => {
  await ctx?.close();
});

const TEXT = {
  "zh-CN": {
    group: "风险", assets: "资产", score: "风险分", result: /读取 3 条：新增 2 个.*拒绝 1 条/, reject: /第 4 条记录.*值 “9” 无效/, record: "登记信息", provenance: "资产清单",
    why: "当前风险分", factor: /漏洞|受攻击/, byCve: "按漏洞", byAsset: "按资产", accepted: "审批人", ranking: "风险排行", system: "网上营业厅",
    warnings: "预警", red: "红色", action: "处置建议", chinese: /[\u4e00-\u9fff]/,
  },
  en: {
    group: "Risk", assets: "Assets", score: "Risk score", result: /3 records read: 2 new.*1 rejected/, reject: /record 4.*invalid value "9", expected/, record: "Record (with provenance)", provenance: "Inventory",
    why: "Current risk score", factor: /Vulnerabilities|Attacks observed/, byCve: "By CVE", byAsset: "By asset", accepted: "Approved by", ranking: "Risk ranking", system: "网上营业厅",
    warnings: "Warnings", red: "Red", action: "Recommended action", chinese: null,
  },
};

for (const lang of ["zh-CN", "en"]) {
  test(`risk pages: assets, an asset, vulnerabilities, ranking, warnings (${lang})`, async () => {
    const T = TEXT[lang];
    await page.goto(`${URL_}/risk/assets`);
    if (lang === "en") await page.getByTestId("lang-switch").click();

    // The nav group and the assets list.
    await page.getByTestId("asset-table").waitFor();
    assert.equal(await page.getByTestId("nav-group").innerText(), lang === "en" ? "RISK" : T.group);
    assert.ok(await page.getByRole("link", { name: T.assets, exact: true }).isVisible(), "the nav entry");
    const table = page.getByTestId("asset-table");
    assert.match(await table.locator("thead").innerText(), new RegExp(T.score));
    const webRow = page.getByTestId("asset-row").filter({ hasText: WEB });
    const rowText = await webRow.innerText();
    assert.match(rowText, /192\.168\.0\.1/);
    assert.match(rowText, /网上营业厅/);
    assert.match(rowText, lang === "en" ? /CII/ : /关基/);
    assert.match(rowText, lang === "en" ? /MLPS level 3/ : /等保3级/);
    assert.match(await page.getByTestId("asset-row").filter({ hasText: DB }).innerText(), lang === "en" ? /Core data/ : /核心数据/);
    await shotOf(page, SHOTS, `risk-assets-${lang}`);

    // The import dialog: two good rows (new addresses per language), one
    // with an impossible 等保 level, refused with its reason.
    const n = lang === "en" ? 22 : 21;
    const csv = join(SHOTS, `..`, `risk-inventory-${lang}.csv`);
    writeFileSync(csv, "IP地址,主机名,资产名称,业务系统,重要性,等保级别\n"
      + `10.20.${n}.11,oa-${n}a,办公系统应用服务器${n},协同办公,较重要,2\n`
      + `10.20.${n}.12,oa-${n}b,办公系统文件服务器${n},协同办公,一般,2\n`
      + `10.20.${n}.13,oa-${n}c,办公系统测试机${n},协同办公,一般,9\n`);
    await page.getByTestId("asset-import-open").click();
    await page.getByTestId("asset-import-file").setInputFiles(csv);
    await page.getByTestId("asset-import-format").selectOption("csv");
    await page.getByTestId("asset-import-submit").click();
    const result = page.getByTestId("asset-import-result");
    await result.waitFor();
    const said = await result.innerText();
    assert.match(said, T.result);
    const rejects = await page.getByTestId("asset-import-rejects").innerText();
    assert.match(rejects, T.reject, rejects);
    await waitFor(async () => (await page.getByTestId("asset-row").filter({ hasText: `办公系统应用服务器${n}` }).count()) > 0, 10000);
    await shotOf(page, SHOTS, `risk-import-${lang}`);

    // Split by hand: the file server's address moves to a new asset; the
    // change (who, why) shows on the page and links the new asset.
    const fileServer = await waitFor(async () => (await apiCall(API, TOKEN, "GET", `/assets?identity=10.20.${n}.12`)).json?.items?.[0]?.id, 10000);
    await page.goto(`${URL_}/risk/assets/${fileServer}`);
    await page.getByTestId("split-form").waitFor();
    await page.getByTestId("split-form").getByLabel(`ip:10.20.${n}.12`).check();
    await page.getByTestId("split-reason").fill(lang === "en" ? "two machines behind one name" : "同名下实为两台机器");
    await page.getByTestId("split-submit").click();
    const changes = page.getByTestId("asset-changes");
    await changes.waitFor();
    assert.match(await changes.innerText(), lang === "en" ? /split off #\d+/ : /拆分出 #\d+/);
    assert.match(await changes.innerText(), /ip:10\.20\./);
    await shotOf(page, SHOTS, `risk-split-${lang}`);

    // One asset: record with provenance, score trend and factors, findings, alert.
    await page.goto(`${URL_}/risk/assets/${webId}`);
    await page.getByTestId("asset-page").waitFor();
    const record = await page.getByTestId("asset-record").innerText();
    assert.match(record, new RegExp(T.provenance));
    assert.match(record, /inventory\.csv/);
    assert.match(record, /ssh-vulners\.xml|tcp\/22|5022/);
    assert.match(await page.locator("body").innerText(), new RegExp(T.record.replace(/[()]/g, "\\$&")));
    await page.locator("[data-chart] canvas").first().waitFor();
    const factors = await page.getByTestId("factors").first().innerText();
    assert.match(factors, T.factor);
    assert.match(await page.locator("body").innerText(), new RegExp(T.why));
    const findings = await page.getByTestId("findings-table").innerText();
    assert.match(findings, /CVE-2018-15919/);
    assert.ok(await page.getByTestId("kev-badge").first().isVisible(), "the KEV badge");
    assert.ok(await page.getByTestId("ransomware-badge").first().isVisible(), "the ransomware badge");
    const alertLink = page.getByTestId("asset-alerts").locator('a[href^="/alerts/"]').first();
    assert.ok(await alertLink.isVisible(), "the alert links to its page");
    await shotOf(page, SHOTS, `risk-asset-${lang}`);

    // Vulnerabilities: by CVE (KEV first), then by asset.
    await page.goto(`${URL_}/risk/vulns`);
    const byCve = page.getByTestId("findings-by-cve");
    await byCve.waitFor();
    assert.equal(await page.getByTestId("view-cve").innerText(), T.byCve);
    const groups = byCve.getByTestId("finding-group");
    const firstKev = await groups.first().getByTestId("kev-badge").count();
    assert.ok(firstKev > 0, "a KEV finding first");
    const ours = groups.filter({ hasText: "CVE-2018-15919" });
    assert.match(await ours.innerText(), new RegExp(WEB));
    assert.match(await groups.filter({ hasText: "CVE-2024-3094" }).innerText(), new RegExp(DB));
    if (lang === "zh-CN") {
      // Accepting a risk needs an approver and an expiry.
      const row = groups.filter({ hasText: "CVE-2017-15906" }).getByTestId("finding-row").filter({ hasText: WEB });
      await row.getByTestId("finding-status").selectOption("accepted");
      const form = row.getByTestId("accept-form");
      await form.locator("input").first().fill("王五（安全负责人）");
      await form.locator('input[type="datetime-local"]').fill("2027-06-30T18:00");
      await form.locator('button[type="submit"]').click();
      await page.getByTestId("vuln-status-filter").selectOption("all");
    } else {
      await page.getByTestId("vuln-status-filter").selectOption("all");
    }
    await waitFor(async () => /2027-06-30 18:00:00 \+08:00/.test(await page.getByTestId("findings-by-cve").innerText()), 10000);
    assert.match(await page.getByTestId("findings-by-cve").innerText(), new RegExp(T.accepted));
    await shotOf(page, SHOTS, `risk-vulns-${lang}`);
    await page.getByTestId("view-asset").click();
    const byAsset = page.getByTestId("findings-by-asset");
    await byAsset.waitFor();
    assert.equal(await page.getByTestId("view-asset").innerText(), T.byAsset);
    assert.match(await byAsset.getByTestId("finding-group").filter({ hasText: WEB }).innerText(), /CVE-2018-15919[\s\S]*CVE-2017-15906|CVE-2017-15906[\s\S]*CVE-2018-15919/);
    await shotOf(page, SHOTS, `risk-vulns-by-asset-${lang}`);

    // The ranking: organisation → business system → asset, a factor explained.
    await page.goto(`${URL_}/risk/ranking`);
    await page.getByTestId("rank-table").waitFor();
    assert.match(await page.locator("h1").innerText(), new RegExp(T.ranking));
    const system = page.getByTestId("rank-system").filter({ hasText: T.system });
    await system.waitFor();
    if (!(await page.getByTestId("rank-asset").filter({ hasText: WEB }).count())) await system.getByRole("button").first().click();
    const asset = page.getByTestId("rank-asset").filter({ hasText: WEB });
    await asset.waitFor();
    await asset.locator(".link-btn").click();
    assert.match(await page.locator(".why-row").innerText(), T.factor);
    await shotOf(page, SHOTS, `risk-ranking-${lang}`);

    // Warnings: red first, what happened, why, what to do; the level filter.
    await page.goto(`${URL_}/risk/warnings`);
    await page.getByTestId("warning-list").waitFor();
    const ourRed = page.getByTestId("warning-card").filter({ hasText: "CVE-2018-15919" });
    assert.equal(await ourRed.first().getAttribute("data-level"), "red");
    const card = await ourRed.first().innerText();
    assert.match(card, new RegExp(T.red));
    assert.match(card, new RegExp(T.action));
    if (T.chinese) assert.match(card, T.chinese);
    else assert.match(card, /patch|update|upgrade/i);
    await page.getByTestId("warning-level-filter").selectOption("red");
    await waitFor(async () => (await page.getByTestId("warning-card").evaluateAll((cs) => cs.every((c) => c.dataset.level === "red"))), 10000);
    await page.getByTestId("warning-level-filter").selectOption("");
    await page.getByTestId("warning-card").first().waitFor();
    await shotOf(page, SHOTS, `risk-warnings-${lang}`);
  });
}
