/**
 * Deno (2.9.6) under Postgres restarts, without HTTP/2: the runner's Postgres pool (postgres-js as
 * the runner opens it, patched by `npm ci`) under load while a throw-away Postgres restarts again
 * and again. It shows that Postgres restarts alone do not abort Deno: the `free(): invalid pointer`
 * seen in chaos runs while Postgres restarted came from Deno's HTTP/2 GOAWAY bug
 * (scripts/repro/deno-goaway.ts), which had freed memory before.
 *
 *   node_modules/.bin/deno run -A scripts/repro/deno-pg-restart.ts [--restarts N]
 *
 * Brings up its own Postgres (scripts/services.sh, in a temporary directory), runs 40 clients
 * (half of them transactions sent as the runner's pipeline sends them) through N restarts
 * (default 100), counts what answered and what failed, and takes the services down. One check: the
 * process lived and the pool answers after the last restart. Ends with `N passed, N failed`.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { backoffDelay } from "../../src/cluster/backoff.ts";

const { values: flags } = parseArgs({ options: { restarts: { type: "string", default: "100" } } });
const repo = fileURLToPath(new URL("../..", import.meta.url));
const services = (...args: string[]) =>
  new Promise<void>((resolve, reject) =>
    execFile("bash", [join(repo, "scripts/services.sh"), ...args], (error) => (error ? reject(error) : resolve())),
  );

const dir = mkdtempSync(join(tmpdir(), "deno-pg-restart."));
let passed = 0;
let failed = 0;
try {
  await services("up", dir);
  const url = /POSTGRES_URL=(\S+)/.exec(readFileSync(join(dir, "env"), "utf8"))?.[1];
  if (!url) throw new Error(`no POSTGRES_URL in ${dir}/env`);
  // As src/cluster/storage/database.ts opens it.
  const backoff = (retries: number) => backoffDelay(retries, { firstMs: 50, maxMs: 1_000, jitter: true }) / 1000;
  const sql = postgres(url, { max: 10, onnotice: () => {}, backoff, fetch_types: false });
  let answered = 0;
  const errors = new Map<string, number>();
  let stop = false;
  // Resolved once `answered` reaches its count.
  let waiter: { count: number; resolve: () => void } | undefined;
  const untilAnswered = (count: number, ms: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the pool answered nothing for ${ms} ms after a restart`)), ms);
      waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
    });
  const client = async (i: number) => {
    while (!stop) {
      try {
        if (i % 2) await sql.begin((tx) => [tx.unsafe("select $1::int as x", [String(i)], { prepare: true }), tx.unsafe("select 1")]);
        else await sql.unsafe("select $1::text as y", [String(i)], { prepare: true });
        answered++;
        if (waiter && answered >= waiter.count) {
          waiter.resolve();
          waiter = undefined;
        }
      } catch (error) {
        const kind = (error as Error).message.replace(/[\d.:]+/g, "#");
        errors.set(kind, (errors.get(kind) ?? 0) + 1);
      }
    }
  };
  const clients = Array.from({ length: 40 }, (_, i) => client(i));
  const restarts = Number(flags.restarts);
  for (let r = 1; r <= restarts; r++) {
    await services("restart-postgres", dir);
    // Let the pool reconnect and work a little before the next restart.
    await untilAnswered(answered + 1_000, 30_000);
    console.log(`restart ${r}/${restarts}: ${answered} queries answered so far`);
  }
  stop = true;
  await Promise.all(clients);
  const ok = (await sql<{ ok: number }[]>`select 1 as ok`)[0]?.ok;
  await sql.end({ timeout: 5 });
  console.log("failed queries, by error:", Object.fromEntries(errors));
  if (ok === 1) passed++;
  else failed++;
  console.log(
    `${ok === 1 ? "PASS" : "FAIL"}: Deno ${process.versions.deno} lived through ${restarts} Postgres restarts, ${answered} queries`,
  );
} catch (error) {
  failed++;
  console.log(`FAIL: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await services("down", dir).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
// After a failure the clients may still be retrying against the stopped Postgres.
process.exit(failed ? 1 : 0);
