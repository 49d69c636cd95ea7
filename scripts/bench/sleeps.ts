/**
 * Durable sleeps: N ApprovalTest executions (default 10,000; 100 per entity) sleeping at once, their
 * due times spread over 10 s. Measures the runner's RSS growth over idle while they all sleep, each
 * read once settled (a suspended execution is held in no memory: targets ≤ 50 MiB) and the wake-up lateness, journaled
 * end of the sleep − its timer's due time (target p99 ≤ 100 ms). An in-process runner on PGlite, and
 * one on Postgres when a URL is given. Two warm-ups come first: 300 starts (the start rate, which
 * sets the first due time) and 3,000 sleeps waking at the measured rate (the wake-up path's code).
 * `npm run bench -- --only sleeps` runs this case alone.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ApprovalExecution } from "../../contract/index.ts";
import { ClusterError, silentLogger } from "../../src/cluster/index.ts";
import { loadConfig } from "../../src/config.ts";
import { type Runner, startRunner } from "../../src/runner.ts";
import { percentile } from "./lib.ts";

export const SLEEPERS = 10_000;
const PER_ENTITY = 100;
const WINDOW_MS = 10_000;
const CONCURRENCY = 200;
/** Executions started first, to learn how fast this runner starts them; they sleep past the bench's end. */
const WARMUP = 300;
/** Executions that then sleep and wake at the measured rate, before the measurement. */
const WAKE_WARMUP = 3_000;
const MiB = 1024 * 1024;

export interface SleepRow extends Record<string, string | number> {
  backend: string;
  sleeping: number;
  "idle RSS MiB": number;
  "RSS growth MiB": number;
  "active executions": number;
  "p50 ms": number;
  "p99 ms": number;
  "max ms": number;
}

async function runAll<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

/**
 * RSS once the garbage of a burst of starts has been handed back (V8 returns the pages a
 * collection freed over the next seconds): what the runner holds, not what it held a moment ago.
 * Read every 500 ms until it stops falling, or until `deadline`.
 */
async function settledRss(deadline: number): Promise<number> {
  let last = rss();
  while (Date.now() + 500 < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = rss();
    if (now > last - MiB) return Math.min(now, last);
    last = now;
  }
  return last;
}

interface Sleeper {
  readonly id: string;
  readonly execId: string;
  /** Its place in due order. */
  readonly i: number;
}

/** `n` executions, 100 per entity, in due order (an entity's due times are next to each other). */
const sleepers = (name: string, n: number): Sleeper[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${name}-${Math.floor(i / PER_ENTITY)}`, execId: `x${i}`, i }));

async function measure(runner: Runner, backend: string, N: number): Promise<SleepRow> {
  const { cluster } = runner;
  const run = Date.now().toString(36);
  const start = async (id: string, execId: string, delay_ms: number): Promise<void> => {
    await cluster
      .call("ApprovalTest", id, "start", { exec_id: execId, delay_ms, timeout_ms: 600_000, fail_times: 0 })
      .catch((e: unknown) => {
        if (!(e instanceof ClusterError && e.code === "SUSPENDED")) throw e;
      });
  };
  /** Starts `wave`, its sleeps due over `windowMs` from `firstDue`, in order. */
  const startWave = (wave: readonly Sleeper[], firstDue: number, windowMs: number) =>
    runAll(wave, ({ id, execId, i }) =>
      start(id, execId, Math.max(0, firstDue + Math.floor((i / Math.max(1, wave.length - 1)) * windowMs) - Date.now())),
    );
  const warm = Date.now();
  await runAll(
    Array.from({ length: WARMUP }, (_, i) => i),
    (i) => start(`warm-${run}-${i % 10}`, `w${i}`, 3_600_000),
  );
  const msPerStart = (Date.now() - warm) / WARMUP;
  // Every execution sleeps before the first is due: the starts get half as long again as the warm-up says they take.
  const firstDueOf = (n: number, marginMs: number) => Date.now() + marginMs + Math.ceil(n * msPerStart * 1.5);
  // The wake-up path (fire turn, resumed run, next wait) warmed up too, at the measured rate: a
  // first run of it takes unoptimized code, and the backlog it built took seconds to drain.
  const warmWave = sleepers(`wake-${run}`, WAKE_WARMUP);
  await startWave(warmWave, firstDueOf(WAKE_WARMUP, 1_000), (WAKE_WARMUP / N) * WINDOW_MS);
  await wakeTimes(runner, warmWave);
  const idle = await settledRss(Date.now() + 10_000);
  const execs = sleepers(`sleep-${run}`, N);
  const started = Date.now();
  const firstDue = firstDueOf(N, 5_000);
  await startWave(execs, firstDue, WINDOW_MS);
  console.log(`${backend}: ${N} executions started in ${Date.now() - started} ms (${Math.round(1000 / msPerStart)}/s in the warm-up)`);
  // Read now, not as the first come due: its queries would compete with the wake-ups.
  const dueAt = await sleepDueTimes(runner, [...new Set(execs.map((x) => x.id))]);
  const sleeping = await settledRss(firstDue - 1_000);
  const active = cluster.activeExecutionCount;
  if (Date.now() > firstDue) console.warn("some executions fell due before all were started");
  await new Promise((resolve) => setTimeout(resolve, firstDue + WINDOW_MS + 2_000 - Date.now()));
  const woke = await wakeTimes(runner, execs);
  const lateness = execs.map(({ id, execId }, i) => (woke[i] as number) - (dueAt.get(`${id}/${execId}`) ?? Number.NaN));
  lateness.sort((a, b) => a - b);
  return {
    backend,
    sleeping: N,
    "idle RSS MiB": Math.round(idle / MiB),
    "RSS growth MiB": Math.round((sleeping - idle) / MiB),
    "active executions": active,
    "p50 ms": percentile(lateness, 50),
    "p99 ms": percentile(lateness, 99),
    "max ms": lateness.at(-1) ?? Number.NaN,
  };
}

/** When each execution of `wave` ended its sleep (its journal entry, epoch ms), polled until all have. */
async function wakeTimes(runner: Runner, wave: readonly Sleeper[]): Promise<number[]> {
  const woke: number[] = [];
  await runAll(wave, async ({ id, execId, i }) => {
    for (let tries = 0; ; tries++) {
      const v = (await runner.cluster.call("ApprovalTest", id, "execution", { exec_id: execId })) as ApprovalExecution;
      const at = Date.parse(v.journal.find((e) => e.name === "delay")?.at ?? "");
      if (Number.isFinite(at)) {
        woke[i] = at;
        return;
      }
      if (tries > 600) throw new Error(`${id}/${execId} never woke`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
  return woke;
}

/**
 * Each execution's due time, `entity/execId` → ms, from its sleep's pending timer (a wait timer's id
 * is `$wf:` + JSON of [exec id, kind, name, position]). The sleep's own turn set it, so lateness
 * is counted from then, not from the start call, which queued behind thousands of others.
 */
async function sleepDueTimes(runner: Runner, entities: readonly string[]): Promise<Map<string, number>> {
  const due = new Map<string, number>();
  for (const id of entities) {
    for (const t of await runner.cluster.operator.timers({ type: "ApprovalTest", id, limit: PER_ENTITY })) {
      const [execId, kind] = JSON.parse(t.timerId.slice("$wf:".length)) as [string, string];
      if (kind === "sleep") due.set(`${id}/${execId}`, t.fireAt.getTime());
    }
  }
  return due;
}

/** The case on one runner: on Postgres when a URL is given, else on PGlite. */
async function measureBackend(postgresUrl: string | undefined, n: number): Promise<SleepRow> {
  const dataDir = mkdtempSync(join(tmpdir(), "bench-sleeps-"));
  const env: Record<string, string> = { LISTEN_ADDR: "127.0.0.1:0", DATA_DIR: dataDir };
  if (postgresUrl) env.POSTGRES_URL = postgresUrl;
  const runner = await startRunner(loadConfig(env), silentLogger);
  try {
    return await measure(runner, postgresUrl ? "postgres" : "pglite", n);
  } finally {
    await runner.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * One row per backend: PGlite always, Postgres when `postgresUrl` is given. Each is measured in a
 * process of its own, as a runner runs: in one process, the Postgres case inherited the PGlite
 * case's garbage and allocator state (p99 285 ms after it, 33–40 ms alone, on the same machine).
 */
export async function measureSleeps(postgresUrl: string | undefined, n = SLEEPERS): Promise<SleepRow[]> {
  const rows: SleepRow[] = [];
  for (const url of postgresUrl ? [undefined, postgresUrl] : [undefined]) {
    const args = [...process.execArgv, fileURLToPath(import.meta.url), String(n)];
    const env = { ...process.env, SLEEPS_POSTGRES_URL: url ?? "" };
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    const lines = out.trimEnd().split("\n");
    const last = lines.pop();
    for (const line of lines) console.log(line);
    if (code !== 0 || !last) throw new Error(`the sleeps case on ${url ? "postgres" : "pglite"} exited with ${code}`);
    rows.push(JSON.parse(last) as SleepRow);
  }
  return rows;
}

// Run as a script by measureSleeps: one backend's case; its row is the last line of stdout.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const row = await measureBackend(process.env.SLEEPS_POSTGRES_URL || undefined, Number(process.argv[2] ?? SLEEPERS));
  console.log(JSON.stringify(row));
  process.exit(0);
}
