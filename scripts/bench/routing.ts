/**
 * Counter increments through the REST API of a live cluster, entering through the shard's owner
 * vs through a non-owner (one gRPC hop more), at 1 and 64 concurrent clients.
 *
 *   CLUSTER_STATE=.run/cluster node --import tsx scripts/bench/routing.ts [seconds]
 */

import { createClient } from "../../src/client.ts";
import { shardOf } from "../../src/cluster/shard.ts";
import { ClusterHarness } from "../../tests/support/cluster.ts";
import { closedLoop, printTable, writeResults } from "./lib.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("set CLUSTER_STATE to a cluster started by scripts/cluster.sh up");
const seconds = Number(process.argv[2] ?? 5);
const shardCount = Number(process.env.SHARD_COUNT ?? 300);

const owner = cluster.client(1);
const ownerId = cluster.id(1);
const shards = await owner.system.shards({});
const owned = new Set(shards.filter((s) => s.owner === ownerId).map((s) => s.shard_id));
/** Counter ids whose shard runner 1 owns, one per client. */
const ids: string[] = [];
for (let n = 0; ids.length < 64; n++) if (owned.has(shardOf(`bench-${n}`, shardCount))) ids.push(`bench-${n}`);

const rows: Record<string, string | number>[] = [];
for (const clients of [1, 64]) {
  for (const [entry, index] of [
    ["owner", 1],
    ["non-owner", 2],
  ] as const) {
    const api = createClient(cluster.url(index));
    const r = await closedLoop(clients, seconds, 1, async (c) => {
      await api.counter.increment({ id: ids[c] as string, amount: 1 });
    });
    rows.push({ entry, clients, "ops/s": Math.round(r.throughput), "p50 ms": r.p50, "p99 ms": r.p99, errors: r.errors });
  }
}
printTable(`Counter increments through the REST API (${cluster.size} runners, ${seconds}s per case)`, rows);
console.log(`results: ${writeResults("routing", { rows })}`);
