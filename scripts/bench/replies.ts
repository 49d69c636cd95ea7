/**
 * What exactly-once costs: the same increments with and without a request id, through REST
 * (Idempotency-Key, owner entry; and non-owner entry, whose forwarded calls carry a minted id) and
 * in process (cluster.call with and without `requestId`), each with what it costs Postgres.
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

async function measured(name: string, pgUrl: string, clients: number, seconds: number, op: (c: number) => Promise<void>) {
  const meter = new PgMeter(pgUrl);
  const result = await closedLoop(clients, seconds, WARMUP_SECONDS, op, meter);
  return { name, result, cost: await meter.cost() };
}

export async function measureReplies(cluster: ClusterHarness, pgUrl: string, clients: number, seconds: number, shardCount: number) {
  const cases: ReplyCase[] = [];
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
    const op = (c: number) => increment(ids[c] as string, keyed ? `${run}-${n++}` : undefined);
    cases.push(await measured(name, pgUrl, clients, seconds, op));
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
      cases.push(await measured(name, pgUrl, clients, seconds, op));
    }
  } finally {
    await runner.stop();
  }
  return cases;
}
