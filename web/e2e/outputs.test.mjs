// Settings → 告警外发 / Alert outputs in a real browser against the `taishi
// serve` of scripts/e2e: a syslog output (TLS, octet framing, facility,
// RFC 5424) and an SMTP output (implicit TLS, user and password, from, to)
// are added through the form and saved; the list shows them with the
// password masked, in zh-CN and in English. Screenshots:
// outputs-{zh-CN,en}.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { apiCall, launch, settings, signIn, waitFor } from "./lib.mjs";

const { url: URL_, api: API, password: PASSWORD, token: TOKEN, shots: SHOTS, profile } = settings();
const PROFILE = `${profile}-outputs`;

let ctx, page, saved;

const call = (method, path, body) => apiCall(API, TOKEN, method, path, body);
const shot = (name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true, timeout: 60000 });
const row = (name) => page.locator(`tr[data-output="${name}"]`);
const details = (name) => page.locator(`tr[data-output-details="${name}"]`);
const listed = async () => (await call("GET", "/settings/outputs")).json.items;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // Whatever outputs the server had are put back at the end.
  const outs = await call("GET", "/settings/outputs");
  assert.equal(outs.status, 200, outs.text);
  saved = outs.json.items;
  const put = await call("PUT", "/settings/outputs", { items: [] });
  assert.equal(put.status, 200, put.text);

  ({ ctx, page } = await launch(PROFILE, { width: 1440, height: 900 }));
  await signIn(page, URL_, "admin", PASSWORD);
});

after(async () => {
  await ctx?.close();
  if (saved) await call("PUT", "/settings/outputs", { items: saved });
});

/** Adds an output of `type` named `name` through the form (the new row is the last). */
async function add(type, name, { typeLabel, nameLabel, addLabel }) {
  await page.getByRole("button", { name: addLabel }).click();
  const last = page.locator("tr[data-output]").last();
  await last.getByLabel(typeLabel).selectOption(type);
  await last.getByLabel(nameLabel, { exact: true }).fill(name);
  await details(name).waitFor();
}

test("a syslog and an SMTP output are added through the form (zh-CN)", async () => {
  await page.goto(`${URL_}/settings?tab=outputs`);
  await page.getByRole("tab", { name: "告警外发" }).waitFor();
  await page.getByText("还没有配置告警外发").or(page.locator("tr[data-output]").first()).first().waitFor();
  const labels = { typeLabel: "类型", nameLabel: "名称", addLabel: "添加外发" };

  await add("syslog", "siem-syslog", labels);
  const s = details("siem-syslog");
  await s.getByLabel("主机").fill("siem.example.cn");
  await s.getByLabel("协议").selectOption("tls");
  // TLS: octet counting and port 6514 unless told otherwise.
  assert.equal(await s.getByLabel("分帧").inputValue(), "octet");
  assert.equal(await s.getByLabel("端口").getAttribute("placeholder"), "6514");
  await s.getByLabel("设施（facility）").selectOption("local4");
  await s.getByLabel("格式").selectOption("rfc5424");

  await add("smtp", "soc-mail", labels);
  const m = details("soc-mail");
  await m.getByLabel("主机").fill("smtp.example.cn");
  await m.getByLabel("端口").fill("465");
  await m.getByLabel("加密方式").selectOption("tls");
  await m.getByLabel("用户名").fill("taishi@example.cn");
  await m.getByLabel("密码").fill("Mail-Passw0rd-e2e");
  await m.getByLabel("发件人").fill("Taishi <taishi@example.cn>");
  await m.getByLabel("收件人（逗号分隔）").fill("soc@example.cn, oncall@example.cn");

  await page.getByRole("button", { name: "保存", exact: true }).click();
  await page.getByRole("status").filter({ hasText: "已保存" }).waitFor();

  // What the server keeps: every field the form set; the password masked.
  const items = await waitFor(async () => { const l = await listed(); return l.length === 2 && l; });
  const sys = items.find((o) => o.name === "siem-syslog");
  assert.deepEqual(
    { type: sys.type, host: sys.host, protocol: sys.protocol, facility: sys.facility, format: sys.format },
    { type: "syslog", host: "siem.example.cn", protocol: "tls", facility: "local4", format: "rfc5424" },
  );
  const mail = items.find((o) => o.name === "soc-mail");
  assert.deepEqual(
    { type: mail.type, host: mail.host, port: mail.port, tls: mail.tls, username: mail.username, password: mail.password, from: mail.from, to: mail.to },
    { type: "smtp", host: "smtp.example.cn", port: 465, tls: "tls", username: "taishi@example.cn", password: "********", from: "Taishi <taishi@example.cn>", to: ["soc@example.cn", "oncall@example.cn"] },
  );

  // Listed after a reload: where each sends, the password never shown.
  await page.reload();
  await row("soc-mail").waitFor();
  assert.equal(await row("siem-syslog").getByTestId("output-target").innerText(), "tls://siem.example.cn:6514 (rfc5424)");
  assert.equal(await row("soc-mail").getByTestId("output-target").innerText(), "smtp.example.cn:465 → soc@example.cn, oncall@example.cn");
  const pw = details("soc-mail").getByLabel("密码");
  assert.equal(await pw.inputValue(), "");
  assert.equal(await pw.getAttribute("type"), "password");
  assert.equal(await pw.getAttribute("placeholder"), "已保存（输入以替换）");
  assert.ok(!(await page.content()).includes("Mail-Passw0rd-e2e"), "the password is not in the page");
  await shot("outputs-zh-CN");
});

test("the same form in English edits a saved output and keeps its password", async () => {
  await page.getByTestId("lang-switch").click();
  await page.getByRole("tab", { name: "Alert outputs" }).waitFor();
  await row("siem-syslog").waitFor();
  const s = details("siem-syslog");
  assert.equal(await s.getByLabel("Protocol").inputValue(), "tls");
  await s.getByLabel("Protocol").selectOption("tcp");
  await s.getByLabel("Port").fill("1514");
  await s.getByLabel("Framing").selectOption("newline");
  // The mail output is saved again unchanged: its password stays.
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();

  const items = await waitFor(async () => { const l = await listed(); return l.find((o) => o.name === "siem-syslog")?.protocol === "tcp" && l; });
  const sys = items.find((o) => o.name === "siem-syslog");
  assert.deepEqual({ protocol: sys.protocol, port: sys.port, framing: sys.framing }, { protocol: "tcp", port: 1514, framing: "newline" });
  assert.equal(items.find((o) => o.name === "soc-mail").password, "********");

  await page.reload();
  await row("siem-syslog").waitFor();
  assert.equal(await row("siem-syslog").getByTestId("output-target").innerText(), "tcp://siem.example.cn:1514 (rfc5424)");
  const text = await page.locator("table").innerText();
  for (const w of ["Sends to", "Syslog", "Email (SMTP)"]) assert.ok(text.includes(w), `${w} in the table`);
  const m = details("soc-mail");
  for (const l of ["Host", "Port", "Security", "User name", "Password", "From", "To (comma-separated)"]) await m.getByLabel(l).first().waitFor();
  assert.equal(await m.getByLabel("Password", { exact: true }).getAttribute("placeholder"), "saved (type to replace)");
  await shot("outputs-en");
  // Back to Chinese for whoever looks at this browser profile next.
  await page.getByTestId("lang-switch").click();
});
