/**
 * Failover time: from SIGKILL (or SIGTERM) of a shard's owner to the first successful call on
 * that shard through another runner. The call is issued once the victim is gone and completes as
 * soon as a survivor serves the shard (the router retries internally).
 *
 *   CLUSTER_STATE=.run/cluster LEASE_TTL_MS=2000 node --import tsx scripts/bench/failover.ts [rounds]
 */
import { shardOf } from "../../src/cluster/shard.ts";
import { ClusterHarness } from "../../tests/support/cluster.ts";
import { percentile, printTable, writeResults } from "./lib.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("set CLUSTER_STATE to a cluster started by scripts/cluster.sh up");
const rounds = Number(process.argv[2] ?? 3);
const shardCount = Number(process.env.SHARD_COUNT ?? 300);

/** An id whose shard runner `i` owns right now. */
async function idOwnedBy(i: number): Promise<string> {
  const shards = await cluster!.client(1 === i ? 2 : 1).system.shards({});
  const owned = new Set(shards.filter((s) => s.owner === cluster!.id(i)).map((s) => s.shard_id));
  for (let n = 0; ; n++) if (owned.has(shardOf(`failover-${Date.now()}-${n}`, shardCount))) return `failover-${Date.now()}-${n}`;
}

async function waitUntilOwning(i: number): Promise<void> {
  for (;;) {
    const health = await cluster!
      .client(i)
      .system.health({})
      .catch(() => undefined);
    if (health && health.shards_owned > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const results: Record<"kill" | "term", number[]> = { kill: [], term: [] };
for (let round = 0; round < rounds; round++) {
  for (const signal of ["kill", "term"] as const) {
    const victim = (round % cluster.size) + 1;
    const via = (victim % cluster.size) + 1;
    const id = await idOwnedBy(victim);
    await cluster.client(via).counter.increment({ id, amount: 1 });
    // From just before the signal (script overhead included, so the figure errs high) to the
    // first success after the victim is gone.
    const t0 = performance.now();
    await cluster.control(signal, victim);
    await cluster.client(via).counter.increment({ id, amount: 1 });
    results[signal].push(performance.now() - t0);
    await cluster.control("start", victim);
    await waitUntilOwning(victim);
  }
}

const rows = (["kill", "term"] as const).map((signal) => {
  const sorted = [...results[signal]].sort((a, b) => a - b);
  return {
    signal: `SIG${signal.toUpperCase()}`,
    rounds: sorted.length,
    "p50 ms": percentile(sorted, 50),
    "max ms": sorted.at(-1) ?? Number.NaN,
  };
});
printTable(`Failover: signal to the first successful call on a moved shard (LEASE_TTL_MS=${process.env.LEASE_TTL_MS ?? "default"})`, rows);
console.log(`results: ${writeResults("failover", { leaseTtlMs: Number(process.env.LEASE_TTL_MS ?? 0), rows, samples: results })}`);
