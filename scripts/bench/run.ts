/**
 * `npm run bench`: starts what it needs (throw-away Postgres + etcd, a 3-runner cluster, single
 * runners), measures each case after a warm-up, and prints one table — baseline, ours, ratio,
 * target, pass/fail — then writes it as JSON to bench-results/bench.json.
 *
 *   npm run bench [-- --seconds 8] [-- --only throughput,routing,replies,overload,failover,embedded,memory,metrics,sleeps]
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { silentLogger } from "../../src/cluster/index.ts";
import { loadConfig } from "../../src/config.ts";
import { startRunner } from "../../src/runner.ts";
import { ClusterHarness } from "../../tests/support/cluster.ts";
import { freePort } from "../../tests/support/free-port.ts";
import { measureUpsertBaseline } from "./baseline.ts";
import { CpuMeter, type CpuShare, withChildren } from "./cpu.ts";
import { measureFailover } from "./failover.ts";
import { closedLoop, incrementer, percentile, printTable, WARMUP_SECONDS, writeResults } from "./lib.ts";
import { measureMetricsCost } from "./metrics.ts";
import { measureOverload, OVERLOAD_ENV, overloadVerdicts } from "./overload.ts";
import { rssBytes, spawnRunner } from "./process.ts";
import { measureReplies } from "./replies.ts";
import { measureRouting } from "./routing.ts";
import { measureSleeps, SLEEPERS } from "./sleeps.ts";

const run = promisify(execFile);
const repo = join(import.meta.dirname, "..", "..");
const argSeconds = process.argv.indexOf("--seconds");
const SECONDS = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 6;
const argOnly = process.argv.indexOf("--only");
/** The sections to run (all by default): for A/B runs of one case. */
const only = argOnly > 0 ? new Set((process.argv[argOnly + 1] ?? "").split(",")) : undefined;
const want = (section: string) => !only || only.has(section);
const SHARDS = 300;
const LEASE_TTL_MS = 2000;
const CLIENTS = 64;
const ENTITIES = 100_000;

interface Row {
  case: string;
  baseline: string;
  ours: string;
  ratio: string;
  target: string;
  result: "pass" | "FAIL";
}
const rows: Row[] = [];
const raw: Record<string, unknown> = {};
const cpuRows: Record<string, string>[] = [];
const replyRows: Record<string, string>[] = [];
const fmt = (n: number, unit: string) => `${n.toFixed(n >= 100 ? 0 : 2)} ${unit}`;
function record(name: string, baseline: string, ours: string, ratio: number | undefined, target: string, pass: boolean) {
  rows.push({ case: name, baseline, ours, ratio: ratio === undefined ? "–" : ratio.toFixed(2), target, result: pass ? "pass" : "FAIL" });
  console.log(`  ${name}: ${ours} (${pass ? "pass" : "FAIL"})`);
}

const state = mkdtempSync(join(tmpdir(), "bench-"));
const sh = (script: string, ...args: string[]) =>
  run("bash", [join(repo, "scripts", script), ...args], {
    cwd: repo,
    env: { ...process.env, LEASE_TTL_MS: String(LEASE_TTL_MS), LOG_LEVEL: "warn", ...OVERLOAD_ENV },
  });

try {
  console.log(`benchmarks: ${SECONDS}s per load case, ${CLIENTS} clients, state in ${state}`);
  await sh("cluster.sh", "up", "--runners", "3", "--state", state);
  const cluster = new ClusterHarness(state);
  const pgUrl = cluster.env().POSTGRES_URL as string;

  // Who uses the cores during a load case: the runners, Postgres, and this process generating load.
  const postmaster = Number(new ClusterHarness(join(state, "services")).env().SERVICES_PG_PID);
  const groups = {
    runners: () => cluster.indexes().map((i) => Number(cluster.env()[`RUNNER_${i}_PID`])),
    postgres: () => withChildren(postmaster),
  };
  const cpuRow = (name: string, share: CpuShare | undefined) => {
    if (share) cpuRows.push({ case: name, ...Object.fromEntries(Object.entries(share).map(([k, v]) => [`${k} µs/op`, v.toFixed(0)])) });
  };

  // 1. Persisted increments through the cluster's REST API vs the database's own UPSERT limit.
  if (want("throughput")) {
    const upsertCpu = new CpuMeter(groups);
    const upsert = await measureUpsertBaseline(pgUrl, CLIENTS, SECONDS, upsertCpu);
    const entries = cluster.indexes().map((i) => incrementer(cluster.url(i), CLIENTS));
    const spreadCpu = new CpuMeter(groups);
    const spread = await closedLoop(
      CLIENTS,
      SECONDS,
      WARMUP_SECONDS,
      (c) => (entries[c % entries.length] as (id: string) => Promise<void>)(`spread-${c}`),
      spreadCpu,
    );
    raw.throughput = { upsert, cluster: spread, cpu: { upsert: upsertCpu.share, cluster: spreadCpu.share } };
    cpuRow(`direct UPSERTs, ${CLIENTS} clients`, upsertCpu.share);
    cpuRow(`increments, ${CLIENTS} clients, entry spread`, spreadCpu.share);
    const ratio = spread.throughput / upsert.throughput;
    record(
      `increments/s, ${CLIENTS} clients, entry spread over 3 runners`,
      fmt(upsert.throughput, "upserts/s"),
      fmt(spread.throughput, "ops/s"),
      ratio,
      "≥ 0.50",
      ratio >= 0.5,
    );
  }

  // 2. Entering through a non-owner costs one gRPC hop.
  if (want("routing")) {
    const routing = await measureRouting(cluster, [1, CLIENTS], SECONDS, SHARDS, groups);
    raw.routing = routing;
    for (const r of routing) if (r.clients === CLIENTS) cpuRow(`increments, ${CLIENTS} clients, ${r.entry} entry`, r.cpu);
    const find = (entry: string, clients: number) => routing.find((r) => r.entry === entry && r.clients === clients)?.result;
    const owner1 = find("owner", 1);
    const other1 = find("non-owner", 1);
    const owner64 = find("owner", CLIENTS);
    const other64 = find("non-owner", CLIENTS);
    if (owner1 && other1 && owner64 && other64) {
      record(
        "p50 latency, non-owner vs owner entry, 1 client",
        fmt(owner1.p50, "ms"),
        fmt(other1.p50, "ms"),
        other1.p50 / owner1.p50,
        "≤ owner + 0.5 ms",
        other1.p50 <= owner1.p50 + 0.5,
      );
      const r = other64.throughput / owner64.throughput;
      record(
        `throughput, non-owner vs owner entry, ${CLIENTS} clients`,
        fmt(owner64.throughput, "ops/s"),
        fmt(other64.throughput, "ops/s"),
        r,
        "≥ 0.80",
        r >= 0.8,
      );
    }
  }

  // 2b. Exactly-once: the same increments with and without request ids, and what each costs Postgres.
  if (want("replies")) {
    const cases = await measureReplies(cluster, pgUrl, CLIENTS, SECONDS, SHARDS);
    raw.replies = cases;
    for (const c of cases) {
      replyRows.push({
        case: c.name,
        "ops/s": c.result.throughput.toFixed(0),
        "p50 ms": c.result.p50.toFixed(2),
        "p99 ms": c.result.p99.toFixed(2),
        errors: String(c.result.errors),
        "WAL bytes/op": c.cost.walBytesPerOp.toFixed(0),
        "statements/op": c.cost.statementsPerOp.toFixed(3),
        "rows written/op": c.cost.rowsWrittenPerOp.toFixed(2),
      });
    }
    const ops = (name: string) => cases.find((c) => c.name === name)?.result.throughput ?? Number.NaN;
    const compare = (label: string, base: string, ours: string, target: number) => {
      const r = ops(ours) / ops(base);
      record(label, fmt(ops(base), "ops/s"), fmt(ops(ours), "ops/s"), r, `≥ ${target.toFixed(2)}`, r >= target);
    };
    compare(
      `REST with vs without Idempotency-Key, ${CLIENTS} clients, owner entry`,
      "REST, owner entry, no key",
      "REST, owner entry, Idempotency-Key",
      0.8,
    );
    compare(`in process, with vs without request ids, ${CLIENTS} callers`, "in process, no request id", "in process, request ids", 0.7);
    compare(
      `non-owner (minted ids) vs owner entry, ${CLIENTS} clients`,
      "REST, owner entry, no key",
      "REST, non-owner entry (minted ids)",
      0.8,
    );
  }

  // 2b. Three times the sustained load for 60 s: refusals keep the admitted calls fast.
  if (want("overload")) {
    const overload = await measureOverload(cluster, CLIENTS, SECONDS, 60);
    raw.overload = overload;
    for (const v of overloadVerdicts(overload)) record(v.name, "–", v.ours, undefined, v.target, v.pass);
  }

  // 3. Failover and hand-off.
  if (want("failover")) {
    const failover = await measureFailover(cluster, 3, SHARDS);
    raw.failover = failover;
    const killP50 = percentile(
      [...failover.kill].sort((a, b) => a - b),
      50,
    );
    const termP50 = percentile(
      [...failover.term].sort((a, b) => a - b),
      50,
    );
    record(`failover p50 (SIGKILL, LEASE_TTL_MS=${LEASE_TTL_MS})`, "–", fmt(killP50, "ms"), undefined, "≤ 3000 ms", killP50 <= 3000);
    record("hand-off p50 (SIGTERM)", "–", fmt(termP50, "ms"), undefined, "≤ 500 ms", termP50 <= 500);
  }
  await sh("cluster.sh", "down", "--state", state);

  // 4. Embedded cold start and resident memory. The first start on an empty DATA_DIR also runs
  // PGlite's initdb (once per data directory); the target is for every start after that.
  if (want("embedded")) {
    const dataDir = mkdtempSync(join(tmpdir(), "bench-cold-"));
    const first = await spawnRunner({ DATA_DIR: dataDir }, await freePort());
    const firstRss = rssBytes(first.child.pid as number);
    await first.stop();
    const starts: number[] = [];
    let rss = 0;
    for (let i = 0; i < 3; i++) {
      const runner = await spawnRunner({ DATA_DIR: dataDir }, await freePort());
      starts.push(runner.startMs);
      rss = Math.max(rss, rssBytes(runner.child.pid as number));
      await runner.stop();
    }
    rmSync(dataDir, { recursive: true, force: true });
    const coldP50 = percentile(
      [...starts].sort((a, b) => a - b),
      50,
    );
    raw.coldStart = { firstStartMs: first.startMs, firstRssBytes: firstRss, samplesMs: starts, rssBytes: rss };
    record("embedded first start on an empty DATA_DIR (incl. initdb)", "–", fmt(first.startMs, "ms"), undefined, "info", true);
    record("embedded cold start (spawn to /health 200)", "–", fmt(coldP50, "ms"), undefined, "≤ 2000 ms", coldP50 <= 2000);
    record("embedded resident memory after start", "–", fmt(rss / 2 ** 20, "MiB"), undefined, "≤ 400 MiB", rss <= 400 * 2 ** 20);
  }

  // 5. Memory per active entity: 100,000 counters kept active on one runner (single mode, in this
  // process so the heap can be measured after a full GC; the load generator's garbage is collected).
  // The cases from here on use a Postgres of their own (the cluster's went down with it).
  await sh("services.sh", "up", join(state, "services"));
  const servicesEnv = new ClusterHarness(join(state, "services")).env();
  if (want("memory")) {
    const services = new ClusterHarness(join(state, "services"));
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error("run with node --expose-gc (npm run bench does)");
    const single = await startRunner(
      loadConfig({ LISTEN_ADDR: "127.0.0.1:0", POSTGRES_URL: services.env().POSTGRES_URL as string, ENTITY_IDLE_MS: "3600000" }),
      silentLogger,
    );
    const increment = incrementer(single.url, CLIENTS);
    const activate = async (from: number, to: number) => {
      let next = from;
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (next < to) await increment(`mem-${next++}`);
        }),
      );
    };
    await activate(0, 1_000);
    gc();
    const before = process.memoryUsage();
    await activate(1_000, ENTITIES + 1_000);
    gc();
    const after = process.memoryUsage();
    const active = single.cluster.activeEntityCount;
    await single.stop();
    const perEntity = (after.heapUsed - before.heapUsed) / ENTITIES;
    raw.entityMemory = { before, after, active, perEntityHeapBytes: perEntity, perEntityRssBytes: (after.rss - before.rss) / ENTITIES };
    record(
      `heap per active entity (${active.toLocaleString("en")} active; RSS ${fmt((after.rss - before.rss) / ENTITIES, "bytes")})`,
      "–",
      fmt(perEntity, "bytes"),
      undefined,
      "≤ 2048 bytes",
      perEntity <= 2048 && active >= ENTITIES,
    );
  }

  // 6. What instrumentation costs: the same load with metrics on and with METRICS=off.
  if (want("metrics")) {
    const servicesPg = Number(servicesEnv.SERVICES_PG_PID);
    const cost = await measureMetricsCost(servicesEnv.POSTGRES_URL as string, servicesPg, CLIENTS, SECONDS / 2, freePort);
    raw.metricsCost = cost;
    cpuRow(`increments, ${CLIENTS} clients, owner entry, metrics on`, cost.cpu.on);
    cpuRow(`increments, ${CLIENTS} clients, owner entry, METRICS=off`, cost.cpu.off);
    const rate = (list: { ops: number; seconds: number }[]) =>
      list.reduce((a, r) => a + r.ops, 0) / list.reduce((a, r) => a + r.seconds, 0);
    record(
      `throughput, metrics on vs METRICS=off, owner entry, ${CLIENTS} clients`,
      fmt(rate(cost.off), "ops/s"),
      fmt(rate(cost.on), "ops/s"),
      cost.ratio,
      "≥ 0.95",
      cost.ratio >= 0.95,
    );
  }

  // 7. Durable sleeps: 10,000 executions suspended at once, held in no runner's memory.
  if (want("sleeps")) {
    const sleeps = await measureSleeps(servicesEnv.POSTGRES_URL);
    raw.sleeps = sleeps;
    for (const r of sleeps) {
      const growth = r["RSS growth MiB"] as number;
      const p99 = r["p99 ms"] as number;
      const what = `${SLEEPERS.toLocaleString("en")} executions sleeping at once (${r.backend}, ${r["active executions"]} held in memory)`;
      record(`${what}: RSS growth over idle`, "–", fmt(growth, "MiB"), undefined, "≤ 50 MiB", growth <= 50);
      record(
        `${what}: wake-up lateness p99 (due over 10 s; p50 ${r["p50 ms"]} ms)`,
        "–",
        fmt(p99, "ms"),
        undefined,
        "≤ 100 ms",
        p99 <= 100,
      );
    }
  }
} finally {
  await sh("cluster.sh", "down", "--state", state).catch(() => {});
  await sh("services.sh", "down", join(state, "services")).catch(() => {});
  rmSync(state, { recursive: true, force: true });
}

printTable(
  "Benchmarks (same machine, same Postgres; targets are ratios where a baseline exists)",
  rows as unknown as Record<string, string>[],
);
printTable(
  `Exactly-once cost (${CLIENTS} clients; Postgres per operation: WAL from pg_current_wal_lsn(), statements and rows from pg_stat_database)`,
  replyRows,
);
printTable(
  `CPU per operation by process group (${availableParallelism()} cores; "machine available" = cores × wall time / operations)`,
  cpuRows,
);
console.log(`results: ${writeResults("bench", { seconds: SECONDS, rows, raw })}`);
