// The incident console (issue 14) in a real browser against the `taishi
// serve` of scripts/e2e with the SigmaHQ rules, per language: a Sysmon
// "whoami /all" fires an alert; freed from the incident the automatic
// grouping filed it in, the alert page offers "create incident", which opens
// the new incident; it is moved to triage, graded 较大 for a CII (the
// deciding threshold row and the reporting countdown appear), an observable
// is added; the queue lists it with its countdown first.
// Screenshots: incidents-{alert,page,queue}-{zh-CN,en}.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { apiCall, launch, settings, shotOf, signIn, waitFor } from "./lib.mjs";

const { url: URL_, api: API, password: PASSWORD, token: TOKEN, shots: SHOTS, profile } = settings();
const RULE = "c248c896-e412-4279-8c15-1c558067b6fa"; // SigmaHQ: Enumerate All Information With Whoami.EXE
let ctx, page;

async function send(events) {
  const r = await fetch(`${API}/api/v1/ingest?format=ndjson`, {
    method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/x-ndjson" },
    body: events.map((e) => JSON.stringify(e)).join("\n") + "\n",
  });
  assert.ok(r.ok, `ingest: ${r.status} ${await r.text()}`);
}

/** A whoami /all on `host`; its alert. */
async function whoamiAlert(host) {
  await send([{
    "@timestamp": new Date(Date.now() - 30_000).toISOString(),
    EventID: 1, Channel: "Microsoft-Windows-Sysmon/Operational", Provider_Name: "Microsoft-Windows-Sysmon",
    Computer: host, ProcessGuid: `{${host}-W}`, ProcessId: 4242, ParentProcessGuid: `{${host}-P}`, ParentProcessId: 4240,
    Image: "C:\\Windows\\System32\\whoami.exe", OriginalFileName: "whoami.exe", CommandLine: "whoami.exe /all", User: "CORP\\incident-user",
  }]);
  const a = await waitFor(async () => {
    const r = await apiCall(API, TOKEN, "GET", `/alerts?status=&rule_id=${RULE}&host=${host}`);
    return r.json?.items?.[0];
  }, 30000);
  assert.ok(a, `the whoami alert on ${host}`);
  return a;
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ ctx, page } = await launch(`${profile}-incidents`, { width: 1440, height: 900 }));
  await signIn(page, URL_, "admin", PASSWORD);
});

after(async () => {
  await ctx?.close();
});

for (const lang of ["zh-CN", "en"]) {
  test(`incident queue and page, created from an alert (${lang})`, async () => {
    const T = lang === "en"
      ? { create: "Create incident", triage: "Triage", deciding: "Deciding row", grade: "Relatively major", left: "left", queue: "Incidents", nav: "Incidents" }
      : { create: "创建事件", triage: "研判", deciding: "决定条款", grade: "较大", left: "剩余", queue: "安全事件", nav: "事件" };
    const host = `incident-${lang.toLowerCase()}`;
    const a = await whoamiAlert(host);
    // The grouping files it on its own; take it out so the alert page
    // offers "create incident".
    const grouped = await waitFor(async () => (await apiCall(API, TOKEN, "GET", `/incidents?alert=${a.id}`)).json?.items?.[0], 30000);
    if (grouped) {
      const r = await apiCall(API, TOKEN, "POST", `/incidents/${grouped.id}/actions`, { action: "remove_alert", alert: a.id, why: "e2e" });
      assert.equal(r.status, 200, r.text);
    }

    await page.goto(`${URL_}/alerts/${encodeURIComponent(a.id)}`);
    if (lang === "en") {
      await page.getByTestId("lang-switch").click();
    }
    const create = page.getByTestId("create-incident");
    await create.waitFor();
    assert.match(await create.innerText(), new RegExp(T.create));
    assert.ok(await page.getByRole("link", { name: T.nav, exact: true }).isVisible(), "the nav entry");
    await shotOf(page, SHOTS, `incidents-alert-${lang}`);
    await create.click();
    await page.waitForURL((u) => u.pathname.startsWith("/incidents/"));
    await page.getByTestId("incident-page").waitFor();
    const id = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());

    // Triage, then grade 较大 for a CII: the deciding row and the clock.
    await page.getByTestId("to-triage").click();
    await page.locator('.badge[data-status="triage"]').waitFor();
    assert.match(await page.locator('.badge[data-status="triage"]').innerText(), new RegExp(T.triage));
    await page.getByTestId("grade-cii").check();
    await page.getByTestId("grade-loss").selectOption("considerable");
    await page.getByTestId("grade-outage").fill("40");
    await page.getByTestId("grade-submit").click();
    await page.getByTestId("deciding-row").waitFor();
    assert.match(await page.getByTestId("grade-explained").innerText(), new RegExp(T.grade));
    assert.match(await page.getByTestId("deciding-row").innerText(), /rm\./);
    assert.match(await page.getByTestId("clock").innerText(), new RegExp(T.left));
    await page.getByTestId("observable-value").fill("203.0.113.9");
    await page.getByTestId("observable-value").press("Enter");
    await page.getByTestId("observables").getByText("203.0.113.9").waitFor();
    assert.ok(await page.getByTestId("report-links").getByText("DOCX").isVisible());
    await shotOf(page, SHOTS, `incidents-page-${lang}`);

    // The queue: this incident with its countdown.
    await page.goto(`${URL_}/incidents`);
    const row = page.getByTestId("incident-row").filter({ hasText: id });
    await row.waitFor();
    assert.match(await row.getByTestId("countdown").innerText(), new RegExp(T.left));
    assert.match(await page.locator("h1").first().innerText(), new RegExp(T.queue));
    await shotOf(page, SHOTS, `incidents-queue-${lang}`);
  });
}
