// Anomaly alerts (issue 17) in a real browser against the `taishi serve` of
// scripts/e2e, whose config names the brand `examplebank.com` and scores
// beacons every few seconds. Generated Zeek logs are sent over the HTTP
// ingest, as crates/taishi-serve/tests/anomaly.rs does: a host calling home
// every 5 minutes (jittered) for 20 hours among irregular browsing, and DNS
// questions for the brand's own name and a look-alike of it. The alert list
// filtered by kind shows both; each alert's page shows the score, the
// features that fired and the ATT&CK techniques, in zh-CN and English.
// Screenshots: anomaly-{list,beacon,lookalike}-{zh-CN,en}.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { apiCall, launch, settings, shotOf, signIn, waitFor } from "./lib.mjs";

const { url: URL_, api: API, password: PASSWORD, token: TOKEN, shots: SHOTS, profile } = settings();
const BEACON_SRC = "10.20.0.5";
const BEACON_DST = "203.0.113.50";
const LOOKALIKE = "examp1ebank-login.com";

const ZEEK = (path, fields, types) =>
  `#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t${path}\n#fields\t${fields.join("\t")}\n#types\t${types.join("\t")}\n`;

/** A fixed xorshift, so every run sends the same traffic. */
function rng(seed) {
  let x = BigInt(seed);
  const m = (1n << 64n) - 1n;
  return () => {
    x ^= (x << 13n) & m;
    x ^= x >> 7n;
    x ^= (x << 17n) & m;
    return Number(x % 1000000n);
  };
}

function connLog() {
  const fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents"];
  const types = ["time", "string", "addr", "port", "addr", "port", "enum", "string", "interval", "count", "count", "string", "bool", "bool", "count", "string", "count", "count", "count", "count", "set[string]"];
  let s = ZEEK("conn", fields, types);
  const rnd = rng(0x2545f4914f6cdd1dn);
  const end = Date.now() / 1000 - 60;
  let t = end - 20 * 3600;
  for (let i = 0; t < end; i++) {
    s += `${t.toFixed(6)}\tCb${i}\t${BEACON_SRC}\t${40000 + (i % 20000)}\t${BEACON_DST}\t443\ttcp\tssl\t0.2\t310\t1200\tSF\tT\tF\t0\tShADadFf\t6\t630\t5\t1460\t-\n`;
    const bt = t + (rnd() % 300);
    s += `${bt.toFixed(6)}\tCn${i}\t10.20.0.${10 + (rnd() % 50)}\t${30000 + (i % 20000)}\t198.51.100.${1 + (rnd() % 200)}\t443\ttcp\tssl\t1.5\t${200 + (rnd() % 5000)}\t${1000 + (rnd() % 90000)}\tSF\tT\tF\t0\tShADadFf\t9\t900\t9\t9000\t-\n`;
    t += 300 + (rnd() % 61) - 30;
  }
  return s;
}

function dnsLog(names) {
  const fields = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "trans_id", "rtt", "query", "qclass", "qclass_name", "qtype", "qtype_name", "rcode", "rcode_name", "AA", "TC", "RD", "RA", "Z", "answers", "TTLs", "rejected"];
  const types = ["time", "string", "addr", "port", "addr", "port", "enum", "count", "interval", "string", "count", "string", "count", "string", "count", "string", "bool", "bool", "bool", "bool", "count", "vector[string]", "vector[interval]", "bool"];
  const ts = Math.floor(Date.now() / 1000) - 300;
  return ZEEK("dns", fields, types) + names.map((n, i) =>
    `${ts}.000000\tCd${i}\t10.20.0.9\t5353${i % 10}\t10.20.0.1\t53\tudp\t${100 + i}\t0.01\t${n}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t192.0.2.10\t60.0\tF\n`).join("");
}

async function ingest(text) {
  const r = await fetch(`${API}/api/v1/ingest?format=zeek`, {
    method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "text/plain" }, body: text,
  });
  assert.ok(r.ok, `ingest: ${r.status} ${await r.text()}`);
}

const anomalies = async () => {
  const r = await apiCall(API, TOKEN, "GET", "/alerts?kind=anomaly&limit=200");
  assert.equal(r.status, 200, r.text);
  return r.json.items;
};
let beacon, lookalike;
let ctx, page;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  await ingest(connLog());
  await ingest(dnsLog(["www.examplebank.com", "www.example.org", LOOKALIKE]));
  // The beacon is scored at the service's next evaluation (every few seconds in scripts/e2e).
  const both = await waitFor(async () => {
    const items = await anomalies();
    beacon = items.find((a) => a.rule_id === "anomaly:beacon" && a.destination_ip === BEACON_DST);
    lookalike = items.find((a) => a.rule_id === "anomaly:lookalike" && a.context?.entity === LOOKALIKE);
    return beacon && lookalike;
  }, 60000, 1000);
  assert.ok(both, `a beacon and a look-alike alert: ${JSON.stringify(await anomalies()).slice(0, 2000)}`);
  ({ ctx, page } = await launch(`${profile}-anomaly`, { width: 1440, height: 900 }));
  await signIn(page, URL_, "admin", PASSWORD);
});

after(async () => {
  await ctx?.close();
});

const T = {
  "zh-CN": {
    matching: "触发事件", why: "为什么告警", score: "评分", feature: "特征", fired: "触发", yes: "是",
    featureText: /间隔/, lookalikeFeature: /仿冒|品牌/,
  },
  en: {
    matching: "Matching events", why: "Why", score: "Score", feature: "Feature", fired: "Fired", yes: "yes",
    featureText: /interval/i, lookalikeFeature: /brand|look-alike/i,
  },
};

/** Han characters: what an English page must not show in the anomaly panel. */
const HAN = /[\u4e00-\u9fff]/;

for (const lang of ["zh-CN", "en"]) {
  const L = T[lang];
  test(`anomaly alerts in the list by kind, with score, features and ATT&CK (${lang})`, async () => {
    await page.goto(`${URL_}/alerts?kind=anomaly`);
    if (lang === "en") {
      await page.getByTestId("lang-switch").click();
      await page.getByTestId("kind-filter").waitFor();
    }
    const table = page.getByTestId("alert-table");
    await table.waitFor();
    await waitFor(async () => (await table.locator('[data-testid="alert-row"]').count()) >= 2);
    const rows = await table.locator('[data-testid="alert-row"]').allInnerTexts();
    assert.ok(rows.length >= 2, `two anomaly rows: ${rows.join(" | ")}`);
    assert.ok(rows.some((r) => r.includes(BEACON_SRC)), `the beacon's source in the list: ${rows.join(" | ")}`);
    // The kind filter holds anomaly; titles are in the page's language only.
    assert.equal(await page.getByTestId("kind-filter").inputValue(), "anomaly");
    if (lang === "en") assert.ok(!rows.some((r) => HAN.test(r)), `Chinese in the English list: ${rows.join(" | ")}`);
    else assert.ok(rows.some((r) => r.includes("异常")), `the Chinese title in the list: ${rows.join(" | ")}`);
    await shotOf(page, SHOTS, `anomaly-list-${lang}`);

    for (const [alert, name, featureText, technique] of [
      [beacon, "beacon", L.featureText, "T1071"],
      [lookalike, "lookalike", L.lookalikeFeature, "T1583.001"],
    ]) {
      await page.goto(`${URL_}/alerts/${encodeURIComponent(alert.id)}`);
      const why = page.getByTestId("anomaly-score");
      await why.waitFor();
      const h1 = await page.locator("h1.alert-h1").innerText();
      if (lang === "en") assert.ok(!HAN.test(h1), `${name}: Chinese in the English title: ${h1}`);
      else assert.ok(h1.includes("异常"), `${name}: the Chinese title: ${h1}`);
      // An anomaly stands for many events, not one: no empty "matching event" panel.
      assert.equal(await page.getByText(L.matching, { exact: true }).count(), 0, `${name}: an empty "${L.matching}" panel`);
      const head = await why.innerText();
      const score = alert.context.score.toFixed(3);
      assert.ok(head.includes(score), `${name}: the score ${score} is shown: ${head}`);
      assert.ok(head.includes(L.score), `${name}: the score is labelled: ${head}`);
      const features = page.getByTestId("anomaly-features");
      const ftext = await features.innerText();
      assert.match(await features.locator("thead").innerText(), new RegExp(`${L.feature}.*${L.fired}`, "s"));
      assert.match(ftext, featureText, `${name}: its features in ${lang}: ${ftext}`);
      const fired = await features.locator("tr.fired").count();
      assert.ok(fired >= 1, `${name}: some feature fired`);
      assert.ok((await features.locator("tr.fired").first().innerText()).includes(L.yes));
      // Named in the page's language: no Chinese on the English panel, no raw ids or JSON.
      const panel = await why.locator("xpath=..").innerText();
      if (lang === "en") assert.ok(!HAN.test(panel), `${name}: Chinese on the English panel: ${panel}`);
      else assert.ok(HAN.test(panel), `${name}: the Chinese panel is in Chinese: ${panel}`);
      assert.ok(!/[{}"]/.test(panel), `${name}: raw JSON on the panel: ${panel}`);
      const tags = await page.getByTestId("attack-tags").innerText();
      assert.ok(tags.includes(technique), `${name}: ${technique} among ${tags}`);
      await shotOf(page, SHOTS, `anomaly-${name}-${lang}`);
    }
  });
}
