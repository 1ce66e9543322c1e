// A newcomer's first hour (issue 13) in a real browser against the
// `taishi serve` of scripts/e2e, which loaded EVTX samples dated years ago
// minutes before: their alerts are news of today. The alert queue and the
// overview select alerts by detection time by default (by event time on
// request), and the threat level of the range shows the factors it comes
// from. Screenshots: firsthour-*-{zh-CN,en}.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch, settings, signIn, waitFor } from "./lib.mjs";

const { url: URL_, password: PASSWORD, shots: SHOTS, profile } = settings();
let ctx, page;
const shot = (name) => page.screenshot({ path: join(SHOTS, `firsthour-${name}.png`), fullPage: true, timeout: 60000 });
const rows = () => page.locator("table tbody tr").filter({ has: page.getByTestId("alert-time") });

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ ctx, page } = await launch(`${profile}-firsthour`, { width: 1440, height: 900 }));
  await signIn(page, URL_, "admin", PASSWORD);
});

after(async () => {
  await ctx?.close();
});

test("alerts about old logs are in the last 24 hours by detection time, not by event time", async () => {
  await page.goto(`${URL_}/alerts?from=now-24h&status=all`);
  await waitFor(async () => (await rows().count()) > 0);
  const detected = await rows().count();
  assert.ok(detected > 0, "the samples' alerts are in the default view");
  assert.equal(await page.getByTestId("time-basis").inputValue(), "detected");
  // The column is the detection time; the event's time is on hover.
  assert.match(await page.locator("table thead").innerText(), /检测时间/);
  // ISO 8601 with the zone, in Chinese as in English (issue 13, item 11).
  const iso = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+08:00$/;
  assert.match((await page.getByTestId("alert-time").first().innerText()).trim(), iso);
  await shot("alerts-detected-zh-CN");
  await page.getByTestId("lang-switch").click();
  await page.locator("table thead").getByText("Detected").waitFor();
  assert.match((await page.getByTestId("alert-time").first().innerText()).trim(), iso);
  await shot("alerts-detected-en");
  await page.getByTestId("lang-switch").click();
  await page.getByTestId("time-basis").selectOption("event");
  await page.waitForURL(/time=event/);
  // The EVTX samples are dated years ago: by their own time few or none
  // fall into the last 24 hours (none leaves the queue's empty state).
  const byEvent = await waitFor(async () => {
    const n = await rows().count();
    return n < detected ? n + 1 : 0;
  });
  assert.ok(byEvent > 0, "fewer alerts by event time than by detection time");
  if (byEvent > 1) await page.locator("table thead").getByText("事件时间").waitFor();
  await shot("alerts-event-zh-CN");
});

test("the threat level is the range's and shows its factors, in both languages", async () => {
  await page.goto(`${URL_}/overview?from=now-24h`);
  const kpi = page.getByTestId("kpi-threat");
  await kpi.waitFor();
  const factors = page.getByTestId("threat-factors");
  await factors.locator("summary").click();
  await factors.locator("tbody tr").first().waitFor();
  assert.match(await factors.innerText(), /未关闭告警[\s\S]*发现/);
  assert.match(await factors.innerText(), /指数 = 100/);
  await shot("threat-zh-CN");
  await page.getByTestId("lang-switch").click();
  await factors.getByRole("columnheader", { name: "Open alerts" }).waitFor();
  assert.match(await factors.innerText(), /one rule on one host is one finding/);
  await shot("threat-en");
  // The range decides: ten years by event time holds every sample's alert.
  await page.goto(`${URL_}/overview?from=now-3650d&time=event`);
  await page.getByTestId("kpi-threat").waitFor();
  assert.equal(await page.getByTestId("time-basis").inputValue(), "event");
  await page.getByTestId("lang-switch").click();
});
