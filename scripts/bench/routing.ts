/**
 * Counter increments through the REST API of a live cluster, entering through the shard's owner
 * vs through a non-owner (one gRPC hop more).
 */

import { shardOf } from "../../src/cluster/index.ts";
import type { ClusterHarness } from "../../tests/support/cluster.ts";
import { CpuMeter, type CpuShare } from "./cpu.ts";
import { closedLoop, incrementer, type LoadResult, WARMUP_SECONDS } from "./lib.ts";

export interface RoutingResult {
  readonly entry: "owner" | "non-owner";
  readonly clients: number;
  readonly result: LoadResult;
  /** CPU per operation by process group, when measured. */
  readonly cpu: CpuShare | undefined;
}

/** Counter ids whose shard runner 1 owns. */
async function idsOwnedByFirst(cluster: ClusterHarness, count: number, shardCount: number): Promise<string[]> {
  const shards = await cluster.client(1).system.shards({});
  const owned = new Set(shards.filter((s) => s.owner === cluster.id(1)).map((s) => s.shard_id));
  const ids: string[] = [];
  for (let n = 0; ids.length < count; n++) if (owned.has(shardOf(`bench-${n}`, shardCount))) ids.push(`bench-${n}`);
  return ids;
}

/** Each client increments its own counter (all owned by runner 1), through runner 1 or runner 2. */
export async function measureRouting(
  cluster: ClusterHarness,
  clientCounts: readonly number[],
  seconds: number,
  shardCount: number,
  cpuGroups?: ConstructorParameters<typeof CpuMeter>[0],
) {
  const ids = await idsOwnedByFirst(cluster, Math.max(...clientCounts), shardCount);
  const results: RoutingResult[] = [];
  for (const clients of clientCounts) {
    for (const [entry, index] of [
      ["owner", 1],
      ["non-owner", 2],
    ] as const) {
      const increment = incrementer(cluster.url(index), clients);
      const meter = cpuGroups && new CpuMeter(cpuGroups);
      const result = await closedLoop(clients, seconds, WARMUP_SECONDS, (c) => increment(ids[c] as string), meter);
      results.push({ entry, clients, result, cpu: meter?.share });
    }
  }
  return results;
}
