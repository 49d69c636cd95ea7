/**
 * The chaos harness: a mixed workload against a running cluster while faults are injected, then
 * the invariant checks and the report. Usually started by scripts/chaos/run.sh, which brings up a
 * throw-away cluster (--proxied, for slow links) and takes it down afterwards.
 *
 *   CLUSTER_STATE=DIR LEASE_TTL_MS=2000 node --import tsx scripts/chaos/main.ts \
 *     [--duration S] [--out FILE] [--seed N] [--fault-every MS] [--faults kill,pause,…] [--kinds counter,kv,…]
 *
 * Kinds: counter, kv, singleton, workflow, timer, durable (the last three switch on by themselves once their
 * routes stop answering 501; naming them in --kinds insists on them). Faults: kill, pause, etcd,
 * postgres, slow-link. Exits non-zero unless every check passes; the last line is `N passed, N failed`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { SINGLETON_NAME } from "../../contract/index.ts";
import type { Client } from "../../src/client.ts";
import type { OwnershipRecord } from "../../src/cluster/ownership/journal.ts";
import { ClusterHarness } from "../../tests/support/cluster.ts";
import { waitFor } from "../../tests/support/wait.ts";
import { FAULTS, FaultInjector, type FaultName } from "./faults.ts";
import { CounterWorkload } from "./kinds/counter.ts";
import { DurableWorkload } from "./kinds/durable.ts";
import { ForwardedWorkload } from "./kinds/forwarded.ts";
import { KvWorkload } from "./kinds/kv.ts";
import { SingletonWorkload } from "./kinds/singleton.ts";
import { TickerWorkload } from "./kinds/ticker.ts";
import { TimerWorkload } from "./kinds/timer.ts";
import { TransferWorkload } from "./kinds/transfer.ts";
import { WorkflowWorkload } from "./kinds/workflow.ts";
import { findOverlaps, type Interval } from "./overlaps.ts";
import { ownershipIntervals, parseJournal, unexplainedWake } from "./ownership-intervals.ts";
import { DelayProxy } from "./proxy.ts";
import { Random } from "./random.ts";
import { type ChaosReport, type KindOutcome, publish } from "./report.ts";
import {
  drive,
  type Endpoints,
  emptyStats,
  type KindStats,
  type Operation,
  readOutcome,
  type Verdict,
  type WorkloadKind,
} from "./workload.ts";

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "60" },
    out: { type: "string" },
    seed: { type: "string" },
    "fault-every": { type: "string", default: "2500" },
    faults: { type: "string", default: FAULTS.join(",") },
    kinds: { type: "string" },
  },
});

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up --proxied (scripts/chaos/run.sh does)");
const durationMs = Number(flags.duration) * 1000;
const seed = flags.seed === undefined ? Date.now() % 1_000_000 : Number(flags.seed);
const leaseTtlMs = Number(process.env.LEASE_TTL_MS ?? 5000);
const faultEveryMs = Number(flags["fault-every"]);
const out = flags.out ?? join(import.meta.dirname, "..", "..", "bench-results", "chaos.json");
const faultNames = (flags.faults as string).split(",").filter(Boolean) as FaultName[];
for (const f of faultNames) if (!FAULTS.includes(f)) throw new Error(`unknown fault ${f}; known: ${FAULTS.join(", ")}`);
// Two sources: the fault schedule replays with its seed whatever the workload's timing draws.
const faultRandom = new Random(seed);
const random = new Random(seed + 1);
const log = (message: string) => console.log(`[chaos +${((performance.now() - t0) / 1000).toFixed(1)}s] ${message}`);
const t0 = performance.now();

/** One proxy per runner whose peers reach it through RUNNER_<i>_GRPC while it binds RUNNER_<i>_GRPC_LISTEN. */
async function startProxies(): Promise<Map<number, DelayProxy>> {
  const env = cluster!.env();
  const proxies = new Map<number, DelayProxy>();
  const hostPort = (s: string) => ({ host: s.slice(0, s.lastIndexOf(":")), port: Number(s.slice(s.lastIndexOf(":") + 1)) });
  for (const i of cluster!.indexes()) {
    const advertised = env[`RUNNER_${i}_GRPC`];
    const bound = env[`RUNNER_${i}_GRPC_LISTEN`];
    if (!advertised || !bound || advertised === bound) continue;
    const proxy = new DelayProxy(hostPort(advertised), hostPort(bound));
    await proxy.start();
    proxies.set(i, proxy);
  }
  return proxies;
}

function workloads(run: string): WorkloadKind[] {
  return [
    new CounterWorkload(run, 6, 12),
    new KvWorkload(run, 3, 6),
    new SingletonWorkload(2),
    new WorkflowWorkload(run, 2, 6),
    new TimerWorkload(run, 2, 6),
    new TransferWorkload(run, 2, 6),
    new TickerWorkload(1),
    new DurableWorkload(run, 2, 6),
    new ForwardedWorkload(run, 2, 6),
  ];
}

/** Kinds to run: those asked for by --kinds (which must be served), or every kind the cluster serves. */
async function chooseKinds(all: WorkloadKind[], api: Client): Promise<{ kinds: WorkloadKind[]; skipped: string[] }> {
  const wanted = flags.kinds?.split(",").filter(Boolean);
  for (const name of wanted ?? []) if (!all.some((k) => k.name === name)) throw new Error(`unknown workload kind ${name}`);
  const kinds: WorkloadKind[] = [];
  const skipped: string[] = [];
  for (const kind of all) {
    if (wanted && !wanted.includes(kind.name)) continue;
    if (await kind.available(api)) kinds.push(kind);
    else if (wanted) throw new Error(`--kinds names ${kind.name}, but the cluster answers 501 on its routes`);
    else skipped.push(kind.name);
  }
  return { kinds, skipped };
}

/** Waits until every runner is up and agrees that every shard has an owner. */
async function settled(clients: readonly Client[]): Promise<void> {
  await waitFor(
    "every shard to have an owner on every runner",
    async () => {
      for (const api of clients) if ((await api.system.shards({})).some((s) => s.owner === null)) return undefined;
      return true;
    },
    30_000,
    100,
  );
}

/** Every record of the runners' ownership journals. */
function journals(): OwnershipRecord[] {
  return readdirSync(cluster!.state)
    .filter((d) => d.startsWith("runner-"))
    .flatMap((d) => {
      try {
        return parseJournal(readFileSync(join(cluster!.state, d, "ownership.jsonl"), "utf8"));
      } catch {
        return [];
      }
    });
}

/** The singleton's run intervals on this cluster's runners (singleton_runs in Postgres). */
async function singletonIntervals(runners: readonly string[]): Promise<Interval[]> {
  const sql = postgres(cluster!.env().POSTGRES_URL as string, { max: 1, onnotice: () => {} });
  try {
    const runs = await sql<{ runner: string; started: Date; ended: Date }[]>`
      select runner, started_at as started, coalesce(stopped_at, last_seen_at) as ended
      from singleton_runs where name = ${SINGLETON_NAME} and runner in ${sql(runners)}`;
    return runs.map((r) => ({ resource: SINGLETON_NAME, holder: r.runner, start: r.started.getTime(), end: r.ended.getTime() }));
  } finally {
    await sql.end();
  }
}

async function main(): Promise<number> {
  const proxies = await startProxies();
  const injector = new FaultInjector({ cluster: cluster!, proxies, random: faultRandom, leaseTtlMs, log });
  const stop = () => {
    injector.heal();
    process.exit(130);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    return await chaos(proxies, injector);
  } finally {
    injector.heal();
    for (const proxy of proxies.values()) await proxy.stop();
  }
}

/** The run itself: workload and faults, then the checks. Returns the number of failed checks. */
async function chaos(proxies: ReadonlyMap<number, DelayProxy>, injector: FaultInjector): Promise<number> {
  const clients = cluster!.indexes().map((i) => cluster!.client(i));
  const runners = cluster!.indexes().map((i) => cluster!.id(i));
  const enabledFaults = faultNames.filter((f) => f !== "slow-link" || proxies.size > 0);
  if (enabledFaults.length < faultNames.length) log("no proxies (cluster not --proxied): slow-link faults are off");

  const { kinds, skipped } = await chooseKinds(workloads(`${seed}-${Date.now().toString(36)}`), clients[0] as Client);
  await settled(clients);
  log(`workload ${kinds.map((k) => `${k.name}×${k.loops}`).join(", ")} for ${durationMs / 1000} s; faults ${enabledFaults.join(", ")}`);

  const end = Date.now() + durationMs;
  const running = () => Date.now() < end;
  const stats = new Map<string, KindStats>(kinds.map((k) => [k.name, emptyStats()]));
  const rejected: string[] = [];
  const loops = kinds.flatMap((kind) =>
    Array.from({ length: kind.loops }, async (_, loop) => {
      const s = stats.get(kind.name) as KindStats;
      while (running()) {
        const op = kind.next(loop, random);
        s.operations++;
        try {
          if (await drive(op, clients, random, s, running)) s.acknowledged++;
        } catch (error) {
          rejected.push(`${kind.name} ${op.key}: ${String(error)}`);
        }
      }
    }),
  );

  const injected: Partial<Record<FaultName, number>> = {};
  const crashes: number[] = [];
  const schedule = (async () => {
    const order = faultRandom.shuffle(enabledFaults);
    // A calm start, and no fault so late that it would still be going on when the workload stops.
    await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, durationMs / 10)));
    for (let n = 0; Date.now() + faultEveryMs < end; n++) {
      crashes.push(...(await injector.reviveCrashed()));
      const fault = order[n % order.length] as FaultName;
      await injector.inject(fault);
      injected[fault] = (injected[fault] ?? 0) + 1;
      await new Promise((resolve) => setTimeout(resolve, Math.min(faultEveryMs, Math.max(0, end - Date.now()))));
    }
  })();

  await schedule;
  await Promise.all(loops);
  log("faults over; settling the cluster");
  crashes.push(...(await injector.reviveCrashed()));
  await settled(clients);

  const endpoints: Endpoints = {
    clients,
    settle: (op: Operation, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      return drive(op, clients, random, undefined, () => Date.now() < deadline).catch((error: unknown) => {
        throw new Error(`${op.key} was answered ${String(error)}`, { cause: error });
      });
    },
    read: (query) => readOutcome(query, clients, random),
  };
  const outcomes: KindOutcome[] = [];
  for (const kind of kinds) {
    // A verification cut short is that kind's failure, reported with why; the other kinds still run.
    const verdict = await kind
      .verify(endpoints)
      .catch((error: unknown): Verdict => ({ lost: 0, duplicated: 0, anomalies: [`verification stopped: ${String(error)}`] }));
    const own = rejected.filter((r) => r.startsWith(`${kind.name} `));
    outcomes.push({
      name: kind.name,
      stats: stats.get(kind.name) as KindStats,
      verdict: { ...verdict, anomalies: [...verdict.anomalies, ...own] },
    });
  }
  const records = journals();
  const shards = ownershipIntervals(records);
  const serving = injector.wakes.flatMap((probe) => {
    const unexplained = unexplainedWake(records, probe);
    return unexplained.length === 0
      ? []
      : [`${probe.runner} woke serving shards ${unexplained.slice(0, 5).join(", ")} it had not acquired again`];
  });
  const singletonRuns = await singletonIntervals(runners);

  const report: ChaosReport = {
    seed,
    durationS: durationMs / 1000,
    leaseTtlMs,
    runners,
    faults: injected,
    kinds: outcomes,
    skippedKinds: skipped,
    shardOverlaps: findOverlaps(shards),
    shardIntervals: shards.length,
    singletonOverlaps: findOverlaps(singletonRuns),
    singletonRuns: singletonRuns.length,
    crashes,
    zombies: { woken: injector.wakes.length, serving },
  };
  return publish(report, out);
}

main().then(
  (failed) => process.exit(failed === 0 ? 0 : 1),
  (error: unknown) => {
    console.error(error);
    console.log("0 passed, 1 failed");
    process.exit(1);
  },
);
