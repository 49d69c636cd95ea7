/**
 * What exactly-once costs: the same increments with and without a request id, through REST
 * (Idempotency-Key, owner entry; and non-owner entry, whose forwarded calls carry a minted id) and
 * in process (cluster.call with and without `requestId`), each with what it costs Postgres. The
 * cases run in interleaved rounds, so that the ratios compare cases measured side by side.
 */
import { randomUUID } from "node:crypto";
import { shardOf, silentLogger } from "../../src/cluster/index.ts";
import { loadConfig } from "../../src/config.ts";
import { startRunner } from "../../src/runner.ts";
import type { ClusterHarness } from "../../tests/support/cluster.ts";
import { closedLoop, incrementer, type LoadResult, WARMUP_SECONDS } from "./lib.ts";
import { type PgCost, PgMeter } from "./pg-meter.ts";

export interface ReplyCase {
  readonly name: string;
  readonly result: LoadResult;
  readonly cost: PgCost;
}

/** `count` counter ids whose shard runner 1 owns. */
async function ownedByFirst(cluster: ClusterHarness, prefix: string, count: number, shardCount: number): Promise<string[]> {
  const shards = await cluster.client(1).system.shards({});
  const owned = new Set(shards.filter((s) => s.owner === cluster.id(1)).map((s) => s.shard_id));
  const ids: string[] = [];
  for (let n = 0; ids.length < count; n++) if (owned.has(shardOf(`${prefix}-${n}`, shardCount))) ids.push(`${prefix}-${n}`);
  return ids;
}

/** Rounds of every case, interleaved: the machine's speed drifts, and a ratio of cases measured minutes apart measures the drift. */
const ROUNDS = 3;

interface Case {
  readonly name: string;
  readonly op: (client: number) => Promise<void>;
}

/** Each case warmed up once, then `ROUNDS` interleaved rounds; a case reports its median round, and its cost over all rounds. */
async function interleaved(cases: readonly Case[], pgUrl: string, clients: number, seconds: number): Promise<ReplyCase[]> {
  for (const c of cases) await closedLoop(clients, WARMUP_SECONDS, 0, c.op);
  const rounds = cases.map(() => [] as { result: LoadResult; cost: PgCost }[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, c] of cases.entries()) {
      const meter = new PgMeter(pgUrl);
      const result = await closedLoop(clients, seconds, 0, c.op, meter);
      rounds[i]?.push({ result, cost: await meter.cost() });
    }
  }
  return cases.map((c, i) => {
    const all = rounds[i] ?? [];
    const median = [...all].sort((a, b) => a.result.throughput - b.result.throughput)[all.length >> 1];
    const ops = all.reduce((n, r) => n + r.result.ops, 0);
    const per = (k: keyof PgCost) => all.reduce((n, r) => n + r.cost[k] * r.result.ops, 0) / ops;
    const cost = {
      walBytesPerOp: per("walBytesPerOp"),
      statementsPerOp: per("statementsPerOp"),
      rowsWrittenPerOp: per("rowsWrittenPerOp"),
    };
    return { name: c.name, result: (median ?? all[0])?.result as LoadResult, cost };
  });
}

export async function measureReplies(cluster: ClusterHarness, pgUrl: string, clients: number, seconds: number, shardCount: number) {
  const cases: Case[] = [];
  // REST: each client its own counter, all owned by runner 1.
  const ids = await ownedByFirst(cluster, "replies", clients, shardCount);
  const run = randomUUID();
  let n = 0;
  for (const [name, index, keyed] of [
    ["REST, owner entry, no key", 1, false],
    ["REST, owner entry, Idempotency-Key", 1, true],
    ["REST, non-owner entry (minted ids)", 2, false],
    ["REST, non-owner entry, Idempotency-Key", 2, true],
  ] as const) {
    const increment = incrementer(cluster.url(index), clients);
    cases.push({ name, op: (c) => increment(ids[c] as string, keyed ? `${run}-${n++}` : undefined) });
  }
  // In process: one runner in this process on the same Postgres, 1,000 counters.
  const runner = await startRunner(loadConfig({ LISTEN_ADDR: "127.0.0.1:0", POSTGRES_URL: pgUrl }), silentLogger);
  try {
    const counters = 1_000;
    let next = 0;
    for (const [name, keyed] of [
      ["in process, no request id", false],
      ["in process, request ids", true],
    ] as const) {
      const op = async () => {
        const i = next++;
        const requestId = keyed ? `${run}-p${i}` : undefined;
        await runner.cluster.call("Counter", `replies-p${i % counters}`, "increment", { amount: 1 }, { requestId });
      };
      cases.push({ name, op });
    }
    return await interleaved(cases, pgUrl, clients, seconds);
  } finally {
    await runner.stop();
  }
}
