// The search page as a newcomer uses it, in a real browser against the
// `taishi serve` of scripts/e2e (the public samples loaded): a `stats … |
// sort -count` table sorted by the count, an unknown column refused with
// its name, a `timechart` drawn as a chart (an ECharts canvas) with the
// table behind a toggle, and a search saved, listed, opened and scheduled.
// In zh-CN, then in English. Screenshots: search-sorted-*, search-timechart-*,
// saved-searches-*, each -zh-CN and -en.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { launch, settings, shotOf, signIn } from "./lib.mjs";

const { url: URL_, password: PASSWORD, shots: SHOTS, profile } = settings();
const PROFILE = `${profile}-saved-search`;
const RANGE = "from=now-3650d&to=now"; // the samples are years old
const SORTED = "* | stats count by event.dataset | sort -count";
const CHART = "* | timechart count by event.dataset";

let ctx, page;
const shot = (name) => shotOf(page, SHOTS, name);
const searchFor = async (q) => {
  await page.goto(`${URL_}/search?q=${encodeURIComponent(q)}&${RANGE}`);
};
/** The cells of one column of the result table, as numbers. */
const column = async (i) =>
  (await page.getByTestId("result-table").locator(`tbody tr td:nth-child(${i})`).allInnerTexts()).map((s) => Number(s.replace(/[^\d]/g, "")));

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ ctx, page } = await launch(PROFILE, { width: 1440, height: 900 }));
  await signIn(page, URL_, "admin", PASSWORD);
});

after(async () => {
  await ctx?.close();
});

async function sortedByCount(lang) {
  await searchFor(SORTED);
  await page.getByTestId("result-table").waitFor();
  const counts = await column(2);
  assert.ok(counts.length >= 2, `several datasets: ${counts}`);
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a), "rows sorted by count, largest first");
  assert.equal(await page.getByTestId("result-table").locator("th").nth(1).innerText(), "count");
  await shot(`search-sorted-${lang}`);
  // An unknown column: refused, naming it and the columns there are.
  await searchFor("* | stats count by event.dataset | sort -nosuch");
  const err = page.locator(".error-box, [role=alert]").first();
  await err.getByText(/nosuch/).waitFor();
  assert.match(await err.innerText(), /event\.dataset, count/);
}

async function timechartDraws(lang) {
  await searchFor(CHART);
  const chart = page.getByTestId("timechart");
  await chart.locator("canvas").first().waitFor();
  // The table is behind the toggle, not 28,784 rows under the chart.
  assert.equal(await page.getByTestId("result-table").count(), 0);
  await page.getByTestId("toggle-table").click();
  const rows = await page.getByTestId("result-table").locator("tbody tr").count();
  assert.ok(rows > 0 && rows <= 200 * 10, `${rows} rows`);
  await page.getByTestId("toggle-table").click();
  await shot(`search-timechart-${lang}`);
}

test("zh-CN: stats sorted by count, an unknown column refused", async () => {
  await sortedByCount("zh-CN");
});

test("zh-CN: a timechart draws a chart", async () => {
  await timechartDraws("zh-CN");
});

test("zh-CN: a search is saved, listed, opened and scheduled", async () => {
  await searchFor(SORTED);
  await page.getByTestId("result-table").waitFor();
  await page.getByRole("button", { name: "保存搜索" }).click();
  await page.getByTestId("save-search-name").fill("数据集排行");
  await page.getByTestId("save-search-submit").click();
  const row = page.locator('[data-testid="saved-row"][data-name="数据集排行"]');
  await row.waitFor();
  assert.match(await row.innerText(), /sort -count/);
  assert.match(await row.innerText(), /未定时/);
  // Scheduled: every 15 minutes, above 5 rows, high.
  await row.getByTestId("saved-schedule").click();
  const form = page.getByTestId("schedule-form");
  await form.getByTestId("schedule-minutes").fill("15");
  await form.getByTestId("schedule-threshold").fill("5");
  await form.getByTestId("schedule-level").selectOption("high");
  await form.getByTestId("schedule-submit").click();
  await row.getByText(/每 15 分钟/).waitFor();
  await shot("saved-searches-zh-CN");
  // Opened from the list: the query runs again.
  await searchFor("*");
  await page.getByTestId("saved-toggle").click();
  await page.locator('[data-testid="saved-row"][data-name="数据集排行"]').getByTestId("saved-open").click();
  await page.getByTestId("result-table").waitFor();
  assert.equal(await page.getByTestId("query").inputValue(), SORTED);
});

test("English: the same, and the saved search listed", async () => {
  await page.getByTestId("lang-switch").click();
  await page.getByRole("link", { name: "Search" }).first().waitFor();
  await sortedByCount("en");
  await timechartDraws("en");
  await searchFor(CHART);
  await page.getByTestId("timechart").locator("canvas").first().waitFor();
  await page.getByRole("button", { name: "Save search" }).click();
  await page.getByTestId("save-search-name").fill("Datasets over time");
  await page.getByTestId("save-search-submit").click();
  await page.locator('[data-testid="saved-row"][data-name="Datasets over time"]').waitFor();
  const zh = page.locator('[data-testid="saved-row"][data-name="数据集排行"]');
  await zh.getByText(/Every 15 min, alert above 5 \(High\)/).waitFor();
  await shot("saved-searches-en");
  await page.getByTestId("lang-switch").click();
});
