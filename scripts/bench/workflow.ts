/**
 * What durability costs a workflow: the wall time of a 1000-step `run-long` (every step journaled
 * before the next starts) next to 1000 plain sequential INSERTs (each its own transaction) on the
 * same Postgres, and their ratio. The runner is in single mode in this process; the workflow is
 * called through its REST API.
 *
 *   POSTGRES_URL=postgres://… node --import tsx scripts/bench/workflow.ts [rounds] [steps]
 *   (scripts/services.sh up DIR provides a throw-away Postgres: DIR/env has POSTGRES_URL)
 */
import postgres from "postgres";
import { createClient } from "../../src/client.ts";
import { silentLogger } from "../../src/cluster/index.ts";
import { loadConfig } from "../../src/config.ts";
import { startRunner } from "../../src/runner.ts";
import { percentile, printTable, writeResults } from "./lib.ts";

const url = process.env.POSTGRES_URL;
if (!url) throw new Error("set POSTGRES_URL (scripts/services.sh up DIR starts a throw-away Postgres)");
const rounds = Number(process.argv[2] ?? 5);
const steps = Number(process.argv[3] ?? 1000);

const runner = await startRunner(loadConfig({ LISTEN_ADDR: "127.0.0.1:0", POSTGRES_URL: url, LOG_LEVEL: "warn" }), silentLogger);
const api = createClient(runner.url);
const sql = postgres(url, { max: 1, onnotice: () => {} });
const table = `bench_inserts_${process.pid}`;

async function timed(op: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await op();
  return performance.now() - t0;
}

const workflowMs: number[] = [];
const insertMs: number[] = [];
try {
  await sql`create table ${sql(table)} (id bigserial primary key, name text not null, result text not null)`;
  // Warm-up: connections, prepared statements, JIT.
  const warmId = `bench-warm-${Date.now()}`;
  await api.workflow.runLong({ id: warmId, exec_id: "warm", steps: 100 });
  for (let i = 0; i < 100; i++) await sql`insert into ${sql(table)} (name, result) values (${`warm${i}`}, ${'"warm"'})`;

  for (let round = 0; round < rounds; round++) {
    const id = `bench-${Date.now()}-${round}`;
    workflowMs.push(
      await timed(async () => {
        const result = await api.workflow.runLong({ id, exec_id: "bench", steps });
        if (result !== `completed ${steps} steps`) throw new Error(`unexpected result ${result}`);
      }),
    );
    insertMs.push(
      await timed(async () => {
        for (let i = 1; i <= steps; i++) await sql`insert into ${sql(table)} (name, result) values (${`step${i}`}, ${`"step${i}"`})`;
      }),
    );
  }
} finally {
  await sql`drop table if exists ${sql(table)}`;
  await sql.end();
  await runner.stop();
}

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
const wf = median(workflowMs);
const ins = median(insertMs);
const rows = [
  { case: `run-long, ${steps} steps`, "median ms": wf, "min ms": Math.min(...workflowMs), "per step ms": wf / steps },
  { case: `${steps} sequential INSERTs`, "median ms": ins, "min ms": Math.min(...insertMs), "per step ms": ins / steps },
];
printTable(`Durable workflow vs plain INSERTs on the same Postgres (${rounds} rounds)`, rows);
console.log(`\nratio (workflow / inserts, medians): ${(wf / ins).toFixed(2)}`);
console.log(`results: ${writeResults("workflow", { steps, rounds, workflowMs, insertMs, ratio: wf / ins })}`);
