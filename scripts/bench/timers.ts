/**
 * Timer lateness: how long after its due time (scheduled_at + delay) each timer's fire is recorded,
 * with 1,000 and 10,000 timers pending at once, 10 per TimerTest entity. Two patterns:
 * - spread: due times spread evenly over a 5 s window (steady load);
 * - burst: all due at the same instant (the figure is then mostly the drain time).
 * Runs an in-process runner on PGlite, and on Postgres too when POSTGRES_URL is set.
 *
 *   node --import tsx scripts/bench/timers.ts [sizes, default 1000,10000]
 *   POSTGRES_URL=postgres://… node --import tsx scripts/bench/timers.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TimerFire } from "../../contract/index.ts";
import { silentLogger } from "../../src/cluster/index.ts";
import { loadConfig } from "../../src/config.ts";
import { type Runner, startRunner } from "../../src/runner.ts";
import { percentile, printTable, writeResults } from "./lib.ts";

const sizes = (process.argv[2] ?? "1000,10000").split(",").map(Number);
const TIMERS_PER_ENTITY = 10;
const WINDOW_MS = 5_000;
/** Schedule calls in flight at once. */
const CONCURRENCY = 200;

type Pattern = "spread" | "burst";

interface Row extends Record<string, string | number> {
  backend: string;
  pending: number;
  pattern: Pattern;
  "pending at first due": number;
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

async function measure(runner: Runner, backend: string, n: number, pattern: Pattern): Promise<Row> {
  const cluster = runner.cluster;
  const run = `${pattern}-${n}-${Date.now().toString(36)}`;
  const entities = Array.from({ length: n / TIMERS_PER_ENTITY }, (_, e) => `bench-${run}-${e}`);
  // Far enough ahead that every timer is pending before the first falls due (checked below).
  const firstDue = Date.now() + 2_000 + n;
  const timers = entities.flatMap((id, e) =>
    Array.from({ length: TIMERS_PER_ENTITY }, (_, t) => {
      const i = e * TIMERS_PER_ENTITY + t;
      return { id, timerId: `t${t}`, due: pattern === "burst" ? firstDue : firstDue + Math.floor((i / Math.max(1, n - 1)) * WINDOW_MS) };
    }),
  );
  const delays = new Map<string, number>();
  let pendingAtFirstDue = 0;
  await runAll(timers, async ({ id, timerId, due }) => {
    const delay = Math.max(0, due - Date.now());
    delays.set(`${id}/${timerId}`, delay);
    await cluster.call("TimerTest", id, "schedule", { timer_id: timerId, delay_ms: delay });
    if (Date.now() <= firstDue) pendingAtFirstDue++;
  });

  const lastDue = firstDue + (pattern === "burst" ? 0 : WINDOW_MS);
  const deadline = lastDue + 120_000;
  const lateness: number[] = [];
  for (const id of entities) {
    for (;;) {
      const fires = (await cluster.call("TimerTest", id, "fires", {})) as TimerFire[];
      if (fires.length >= TIMERS_PER_ENTITY) {
        // Due = scheduled_at + the delay sent; fired_at is recorded by the fire's own turn.
        for (const f of fires)
          lateness.push(Date.parse(f.fired_at) - Date.parse(f.scheduled_at) - (delays.get(`${id}/${f.timer_id}`) ?? 0));
        break;
      }
      if (Date.now() > deadline) throw new Error(`${id}: ${fires.length} of ${TIMERS_PER_ENTITY} fires after the deadline`);
      await new Promise((resolve) => setTimeout(resolve, Math.max(20, lastDue - Date.now())));
    }
  }
  if (lateness.length !== n) throw new Error(`${lateness.length} fires for ${n} timers`);
  lateness.sort((a, b) => a - b);
  return {
    backend,
    pending: n,
    pattern,
    "pending at first due": pendingAtFirstDue,
    "p50 ms": percentile(lateness, 50),
    "p99 ms": percentile(lateness, 99),
    "max ms": lateness.at(-1) ?? Number.NaN,
  };
}

async function bench(backend: "pglite" | "postgres"): Promise<Row[]> {
  const dataDir = mkdtempSync(join(tmpdir(), "bench-timers-"));
  const env: Record<string, string> = { LISTEN_ADDR: "127.0.0.1:0", DATA_DIR: dataDir };
  if (backend === "postgres") env.POSTGRES_URL = process.env.POSTGRES_URL as string;
  const runner = await startRunner(loadConfig(env), silentLogger);
  const rows: Row[] = [];
  try {
    for (const n of sizes) for (const pattern of ["spread", "burst"] as const) rows.push(await measure(runner, backend, n, pattern));
  } finally {
    await runner.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

const rows = [...(await bench("pglite")), ...(process.env.POSTGRES_URL ? await bench("postgres") : [])];
printTable("Timer lateness: fired_at − due (ms)", rows);
console.log(`\nresults: ${writeResults("timers", { sizes, timersPerEntity: TIMERS_PER_ENTITY, windowMs: WINDOW_MS, rows })}`);
