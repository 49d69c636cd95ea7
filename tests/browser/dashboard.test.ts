/**
 * The dashboard in a real browser: Debian's headless Chromium driven by playwright-core, against
 * the 3-runner cluster of scripts/test-dashboard.sh (ADMIN_TOKEN set, LEASE_TTL_MS short, the
 * page served by the Deno runner). Console errors and failed requests are collected over the
 * whole run and must be none.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ClusterHarness } from "../support/cluster.ts";
import { uniqueId } from "../support/unique-id.ts";
import { waitFor } from "../support/wait.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: scripts/test-dashboard.sh starts the cluster this test drives");
const TOKEN = process.env.ADMIN_TOKEN;
if (!TOKEN) throw new Error("ADMIN_TOKEN is not set: the test checks the page's token prompt");
const SHARD_COUNT = Number(process.env.SHARD_COUNT ?? 300);
const LEASE_TTL_MS = Number(process.env.LEASE_TTL_MS ?? 5000);
const SHOTS = join(import.meta.dirname, "..", "..", "bench-results");
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  // Without these Chromium reaches out to Google's services, which the closed network refuses.
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const SERVER = cluster.size; // the last runner: the Deno one
const VICTIM = 2;
const problems: string[] = [];
let profile = "";
let context: BrowserContext;
let page: Page;
const it = suite("Dashboard (headless Chromium)");

it.before(async () => {
  profile = mkdtempSync(join(tmpdir(), "dashboard-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
});

it.after(async () => {
  await context?.close();
  rmSync(profile, { recursive: true, force: true });
});

const rows = () => page.locator("#runners tbody tr[data-runner]");

/** Owner of each shard cell, as the page shows it. */
const cellOwners = () => page.$$eval("#shard-map .cell", (cells) => cells.map((c) => c.getAttribute("data-owner") ?? ""));

it("asks for ADMIN_TOKEN, refuses a wrong one with a message, accepts the right one", async () => {
  await page.goto(`${cluster.url(SERVER)}/dashboard`);
  await page.locator("#token-form").waitFor({ state: "visible" });
  await page.fill("#token-input", `${TOKEN}-wrong`);
  await page.click("#token-form button[type=submit]");
  await page.locator("#token-message", { hasText: "refused" }).waitFor();
  assert.ok(await page.locator("#token-form").isVisible(), "the form stays up after a wrong token");
  await page.fill("#token-input", TOKEN);
  await page.click("#token-form button[type=submit]");
  await page.locator("#token-form").waitFor({ state: "hidden" });
  assert.is(await page.evaluate(() => sessionStorage.getItem("entity-cluster.admin-token")), TOKEN);
});

it("lists three runners and a shard map that adds up to SHARD_COUNT", async () => {
  await waitFor(
    "three runners listed, all up",
    async () => ((await page.locator("#runners tr[data-state=up]").count()) === 3 ? true : undefined),
    15_000,
    200,
  );
  const listed = (await rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-runner")))).sort();
  assert.equal(
    listed,
    cluster
      .indexes()
      .map((i) => cluster.id(i))
      .sort(),
  );
  const owners = await cellOwners();
  assert.is(owners.length, SHARD_COUNT);
  assert.ok(
    owners.every((o) => listed.includes(o)),
    "every cell is owned by a listed runner",
  );
  const legend = await page.$$eval("#shard-legend li", (lis) => lis.map((li) => li.textContent ?? ""));
  const total = legend.reduce((n, text) => n + Number(text.split(": ").at(-1)), 0);
  assert.is(total, SHARD_COUNT, `legend counts add up: ${legend.join(", ")}`);
  assert.match((await page.locator("#shard-map .cell").first().getAttribute("title")) ?? "", /^shard 0: 127\.0\.0\.1:\d+$/);
});

const wfId = uniqueId("dash-wf");
const execId = uniqueId("long");
let runLong: Promise<unknown> | undefined;
const running = new AbortController();

it("a run-long started through the API shows as running, and its journal opens", async () => {
  // The call answers when the execution ends; it is left pending while the page looks at it.
  runLong = fetch(`${cluster.url(1)}/workflow/${wfId}/run-long`, {
    method: "POST",
    body: JSON.stringify({ exec_id: execId, steps: 200, step_delay_ms: 250 }),
    signal: running.signal,
  }).then(
    (r) => r.text(),
    () => undefined,
  );
  // Some traffic for the charts, through every runner, and a timer that stays pending.
  await Promise.all(cluster.indexes().map((i) => cluster.client(i).counter.increment({ id: uniqueId("dash-c"), amount: 1 })));
  const timerEntity = uniqueId("dash-t");
  await cluster.client(1).timer.schedule({ id: timerEntity, timer_id: "reminder", delay_ms: 600_000 });
  const row = page.locator(`#workflows tr[data-exec="${execId}"]`);
  await row.waitFor({ timeout: 10_000 });
  assert.is(await row.getAttribute("data-status"), "running");
  await row.click();
  await page.locator("#execution").waitFor({ state: "visible" });
  await waitFor(
    "a journaled step in the drill-down",
    async () => ((await page.locator("#journal tbody tr td.num").count()) > 0 ? true : undefined),
    10_000,
    200,
  );
  assert.match((await page.locator("#exec-title").textContent()) ?? "", execId);
  assert.ok(await page.locator("#exec-cancel").isEnabled());
  await page.locator("#timers tbody tr", { hasText: timerEntity }).waitFor({ timeout: 5_000 });
});

it("screenshots at 1280×800 and 390×844", async () => {
  mkdirSync(SHOTS, { recursive: true });
  await page.waitForTimeout(1500); // a couple of traffic samples on the charts
  await page.evaluate("window.scrollTo(0, 0)");
  await page.screenshot({ path: join(SHOTS, "dashboard-1280x800.png") });
  await page.screenshot({ path: join(SHOTS, "dashboard-1280x800-full.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(500);
  await page.evaluate("window.scrollTo(0, 0)");
  await page.screenshot({ path: join(SHOTS, "dashboard-390x844.png") });
  await page.screenshot({ path: join(SHOTS, "dashboard-390x844-full.png"), fullPage: true });
  const overflow = Number(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"));
  assert.ok(overflow <= 0, `no horizontal scrolling of the page at 390 px (overflow ${overflow} px)`);
  await page.setViewportSize({ width: 1280, height: 800 });
});

it("cancel from the page: cancelled on the page and in the API", async () => {
  await page.click("#exec-cancel");
  await page.locator("#execution[data-status=cancelled]").waitFor({ timeout: 10_000 });
  await page.locator(`#workflows tr[data-exec="${execId}"][data-status=cancelled]`).waitFor({ timeout: 5_000 });
  const api = await cluster.client(1).workflow.execution({ id: wfId, exec_id: execId });
  assert.is(api.status, "cancelled");
  running.abort();
  await runLong;
});

it("a failed execution, filtered by status, resumed from the page: completed on the page and in the API", async () => {
  const failId = uniqueId("dash-fail");
  const failed = await fetch(`${cluster.url(1)}/workflow/${wfId}/run-failing`, {
    method: "POST",
    body: JSON.stringify({ exec_id: failId, fail_at: 2 }),
  });
  assert.is(failed.status, 422, "run-failing fails on its first attempt");
  await page.selectOption("#wf-status", "failed");
  const row = page.locator(`#workflows tr[data-exec="${failId}"][data-status=failed]`);
  await row.waitFor({ timeout: 10_000 });
  assert.is(await page.locator(`#workflows tr[data-exec="${execId}"]`).count(), 0, "the cancelled one is filtered out");
  await row.click();
  await page.locator("#execution[data-status=failed]").waitFor({ timeout: 5_000 });
  await page.click("#exec-resume");
  await page.locator("#execution[data-status=completed]").waitFor({ timeout: 10_000 });
  assert.is((await cluster.client(1).workflow.execution({ id: wfId, exec_id: failId })).status, "completed");
  await page.selectOption("#wf-status", "");
});

it("SIGKILL of a runner: its cells move and its row goes within LEASE_TTL_MS + 3 s", async () => {
  const victim = cluster.id(VICTIM);
  assert.ok((await cellOwners()).includes(victim), "the victim owns shards before");
  await cluster.control("kill", VICTIM);
  const killed = Date.now();
  let seenDown = false;
  await waitFor(
    "the victim gone from the shard map and the runner list",
    async () => {
      const owners = await cellOwners();
      const row = await page.locator(`#runners tr[data-runner="${victim}"]`).count();
      seenDown ||= (await page.locator(`#runners tr[data-runner="${victim}"][data-state=down]`).count()) > 0;
      return owners.length === SHARD_COUNT && owners.every((o) => o !== "" && o !== victim) && row === 0 ? true : undefined;
    },
    LEASE_TTL_MS + 3_000,
    100,
  );
  console.log(`  the page showed the victim's shards moved and its row gone ${Date.now() - killed} ms after SIGKILL`);
  assert.ok(seenDown, "the victim's row turned red (not answering) before it left the list");
  assert.is(await page.locator("#runners tr[data-state=up]").count(), 2);
});

it("no console error and no failed request over the whole run", () => {
  assert.equal(problems, []);
});

it.run();
