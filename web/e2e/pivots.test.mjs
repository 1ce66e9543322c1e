// Pivots from an alert (issue 13, item 13) in a real browser against the
// `taishi serve` of scripts/e2e with the SigmaHQ rules: a Sysmon chain
// explorer → cmd → whoami /all (SigmaHQ's "whoami /all" rule fires) →
// conhost is sent per language; the alert page shows the entities with
// their pivots and the process tree, the alert is assigned to a responder,
// closed as a false positive with a rule exception (listed on the rule's
// page), and the host pivot opens the other alerts on that host.
// Screenshots: pivots-{alert,assign,exception,rule,other-alerts}-{zh-CN,en}.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { apiCall, launch, settings, shotOf, signIn, waitFor } from "./lib.mjs";

const { url: URL_, api: API, password: PASSWORD, token: TOKEN, shots: SHOTS, profile } = settings();
const RULE = "c248c896-e412-4279-8c15-1c558067b6fa"; // SigmaHQ: Enumerate All Information With Whoami.EXE
const RESPONDER = "e2e-rita";
let ctx, page;

/** A Sysmon process creation `sec` seconds ago on `host`. */
const proc = (sec, host, guid, parent, image, cmd) => ({
  "@timestamp": new Date(Date.now() - sec * 1000).toISOString(),
  EventID: 1, Channel: "Microsoft-Windows-Sysmon/Operational", Provider_Name: "Microsoft-Windows-Sysmon",
  Computer: host, ProcessGuid: guid, ProcessId: 4000 + sec, ParentProcessGuid: parent, ParentProcessId: 3000 + sec,
  Image: image, OriginalFileName: image.split("\\").pop(), CommandLine: cmd, User: "CORP\\pivot-user",
  Hashes: "SHA256=9D3E1A5B7C2F4E6D8A0B1C3E5F7A9B2D4C6E8F0A1B3C5D7E9F2A4B6C8D0E1F3A,MD5=0A1B2C3D4E5F60718293A4B5C6D7E8F9",
});

async function send(events) {
  const r = await fetch(`${API}/api/v1/ingest?format=ndjson`, {
    method: "POST", headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/x-ndjson" },
    body: events.map((e) => JSON.stringify(e)).join("\n") + "\n",
  });
  assert.ok(r.ok, `ingest: ${r.status} ${await r.text()}`);
}

/** The chain on `host`, plus an earlier lone whoami (another alert on the host); the chain's alert. */
async function chain(host) {
  const whoami = "C:\\Windows\\System32\\whoami.exe";
  await send([
    proc(600, host, "{E2E-LONE}", "{E2E-NONE}", whoami, "whoami.exe /all"),
    proc(60, host, `{${host}-G1}`, `{${host}-G0}`, "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE"),
    proc(50, host, `{${host}-G2}`, `{${host}-G1}`, "C:\\Windows\\System32\\cmd.exe", "cmd.exe /c \"C:\\ops\\nightly-inventory.bat\""),
    proc(40, host, `{${host}-G3}`, `{${host}-G2}`, whoami, "whoami.exe /all"),
    proc(30, host, `{${host}-G4}`, `{${host}-G3}`, "C:\\Windows\\System32\\conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1"),
  ]);
  const mine = async () => {
    const r = await apiCall(API, TOKEN, "GET", `/alerts?status=&rule_id=${RULE}&host=${host}`);
    return r.json?.items?.find((a) => a.event?.ProcessGuid === `{${host}-G3}`);
  };
  const a = await waitFor(mine, 30000);
  assert.ok(a, `the whoami alert on ${host}`);
  return a;
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const u = await apiCall(API, TOKEN, "POST", "/users", { username: RESPONDER, password: "Lantern-orchid-71", roles: ["responder"], org: "root" });
  assert.ok(u.status === 200 || u.status === 409, u.text);
  ({ ctx, page } = await launch(`${profile}-pivots`, { width: 1440, height: 900 }));
  await signIn(page, URL_, "admin", PASSWORD);
});

after(async () => {
  await ctx?.close();
});

for (const lang of ["zh-CN", "en"]) {
  test(`an alert's pivots, process tree, assignment and rule exception (${lang})`, async () => {
    const host = `pivot-${lang.toLowerCase()}`;
    const a = await chain(host);
    await page.goto(`${URL_}/alerts/${encodeURIComponent(a.id)}`);
    if (lang === "en") {
      await page.getByTestId("lang-switch").click();
      await page.getByText("Entities").first().waitFor();
    }
    const T = lang === "en"
      ? { others: "Other alerts on this host", parentMissing: "parent not in the store" }
      : { others: "该主机的其他告警", parentMissing: "父进程不在存储中" };

    // Entities: host, user and both hashes, each with its pivots.
    const hostRow = page.getByTestId("pivot-host").filter({ hasText: host }).first();
    await hostRow.waitFor();
    assert.ok((await hostRow.getByTestId("pivot-alerts").innerText()).includes(T.others));
    assert.match(await page.getByTestId("pivots").innerText(), /CORP\\pivot-user/);
    // Sysmon's `Hashes` list and the ECS copies (`process.hash.*`).
    assert.ok((await page.getByTestId("pivot-hash").count()) >= 2);
    const search = await hostRow.getByTestId("pivot-search").getAttribute("href");
    assert.match(decodeURIComponent(search), new RegExp(`host.name:"${host}"`));

    // The process tree: explorer (its parent named, not stored) → cmd → whoami (this alert) → conhost.
    const tree = page.getByTestId("process-tree");
    await tree.getByText("conhost.exe", { exact: true }).waitFor();
    const text = await tree.innerText();
    for (const s of ["explorer.exe", "cmd.exe", "whoami.exe", "conhost.exe", T.parentMissing]) assert.ok(text.includes(s), `${s} in the tree`);
    assert.match(await page.getByTestId("proc-alert").innerText(), /whoami\.exe/);
    await shotOf(page, SHOTS, `pivots-alert-${lang}`);

    // Assign to a responder from the picker.
    await page.getByTestId("assign-to").selectOption(RESPONDER);
    await waitFor(async () => (await page.getByTestId("assignee").innerText()).includes(RESPONDER));
    assert.equal((await page.getByTestId("assignee").innerText()).trim(), RESPONDER);
    await shotOf(page, SHOTS, `pivots-assign-${lang}`);

    // Close as a false positive with an exception on the host and the command line.
    await page.getByTestId("add-exception").check();
    assert.ok(await page.getByTestId("exc-field-host.name").isChecked(), "the host is prefilled");
    await page.getByTestId("exc-field-CommandLine").check();
    await page.getByTestId("exc-expiry").selectOption("30");
    await page.getByTestId("exception-form").scrollIntoViewIfNeeded();
    await shotOf(page, SHOTS, `pivots-exception-${lang}`);
    await page.getByTestId("close-fp").click();
    await page.getByTestId("reopen").waitFor();
    const x = await apiCall(API, TOKEN, "GET", `/alerts/exceptions?rule_id=${RULE}`);
    const mine = x.json.items.find((e) => e.alert_id === a.id);
    assert.ok(mine, x.text);
    assert.ok(mine.conditions.some((c) => c.field === "host.name" && c.value === host), x.text);
    assert.ok(mine.conditions.some((c) => c.field === "CommandLine" && c.value === "whoami.exe /all"));

    // The rule's page lists it.
    await page.goto(`${URL_}/rules/${RULE}`);
    const list = page.getByTestId("rule-exceptions");
    await list.getByText(`host.name = ${host}`).waitFor();
    await list.scrollIntoViewIfNeeded();
    await shotOf(page, SHOTS, `pivots-rule-${lang}`);

    // Back on the alert, the host pivot opens the other alerts on the host.
    await page.goto(`${URL_}/alerts/${encodeURIComponent(a.id)}`);
    await page.getByTestId("pivot-host").filter({ hasText: host }).first().getByTestId("pivot-alerts").click();
    await page.waitForURL(/host=/);
    assert.equal((await page.getByTestId("chip-host").innerText()).trim(), host);
    const rows = page.locator("table tbody tr").filter({ hasText: host });
    assert.ok(await waitFor(async () => (await rows.count()) >= 2), "both alerts on the host");
    await shotOf(page, SHOTS, `pivots-other-alerts-${lang}`);
  });
}
