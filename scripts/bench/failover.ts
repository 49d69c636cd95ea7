/**
 * Failover time: from SIGKILL (or SIGTERM) of a shard's owner to the first successful call on
 * that shard through another runner. The call is issued once the victim is gone and completes as
 * soon as a survivor serves the shard (the router retries internally).
 */

import { shardOf } from "../../src/cluster/index.ts";
import type { ClusterHarness } from "../../tests/support/cluster.ts";

/** An id whose shard runner `i` owns right now. */
async function idOwnedBy(cluster: ClusterHarness, i: number, shardCount: number): Promise<string> {
  const shards = await cluster.client(i === 1 ? 2 : 1).system.shards({});
  const owned = new Set(shards.filter((s) => s.owner === cluster.id(i)).map((s) => s.shard_id));
  for (let n = 0; ; n++) if (owned.has(shardOf(`failover-${Date.now()}-${n}`, shardCount))) return `failover-${Date.now()}-${n}`;
}

async function waitUntilOwning(cluster: ClusterHarness, i: number): Promise<void> {
  for (;;) {
    const health = await cluster
      .client(i)
      .system.health({})
      .catch(() => undefined);
    if (health && health.shards_owned > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Milliseconds from just before the signal (script overhead included: the figure errs high). */
export async function measureFailover(cluster: ClusterHarness, rounds: number, shardCount: number) {
  const samples: Record<"kill" | "term", number[]> = { kill: [], term: [] };
  for (let round = 0; round < rounds; round++) {
    for (const signal of ["kill", "term"] as const) {
      const victim = (round % cluster.size) + 1;
      const via = (victim % cluster.size) + 1;
      const id = await idOwnedBy(cluster, victim, shardCount);
      await cluster.client(via).counter.increment({ id, amount: 1 });
      const t0 = performance.now();
      await cluster.control(signal, victim);
      await cluster.client(via).counter.increment({ id, amount: 1 });
      samples[signal].push(performance.now() - t0);
      await cluster.control("start", victim);
      await waitUntilOwning(cluster, victim);
    }
  }
  return samples;
}
