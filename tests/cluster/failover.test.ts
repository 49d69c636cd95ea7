import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Client } from "../../src/client.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { uniqueId } from "../support/unique-id.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const leaseTtlMs = Number(process.env.LEASE_TTL_MS ?? 5000);
const it = suite("Cluster failover");

/** Counters spread over all shards, with known values, written through every runner. */
async function seedCounters(n: number): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  await Promise.all(
    Array.from({ length: n }, async (_, k) => {
      const id = uniqueId(`fo-${k}`);
      const api = cluster!.client((k % cluster!.size) + 1);
      await api.counter.increment({ id, amount: k + 1 });
      values.set(id, k + 1);
    }),
  );
  return values;
}

it("500 concurrent increments spread over every runner's API give the exact total", async () => {
  const id = uniqueId("spread");
  const clients = cluster.indexes().map((i) => cluster.client(i));
  await Promise.all(Array.from({ length: 500 }, (_, k) => (clients[k % clients.length] as Client).counter.increment({ id, amount: 1 })));
  for (const api of clients) assert.is(await api.counter.get({ id }), 500);
});

it("SIGKILL: the dead runner's shards are served by the others after the lease TTL; every value is kept", async () => {
  const victim = cluster.size;
  const victimId = cluster.id(victim);
  const survivors = cluster.indexes().filter((i) => i !== victim);
  const values = await seedCounters(120);
  const active = await cluster.client(1).system.entities({});
  assert.ok(
    active.some((e) => e.runner === victimId),
    "some seeded counters live on the victim",
  );

  await cluster.control("kill", victim);
  const api = cluster.client(survivors[0] as number);
  // Every read succeeds: calls for the dead runner's shards wait (retrying) until the lease expires.
  for (const [id, value] of values) assert.is(await api.counter.get({ id }), value, id);
  await cluster.waitForShards(victimId, (n) => n === 0, survivors, leaseTtlMs * 3);
  const increments = await Promise.all([...values.keys()].map((id) => api.counter.increment({ id, amount: 1000 })));
  assert.equal(
    increments,
    [...values.values()].map((v) => v + 1000),
  );

  await cluster.control("start", victim);
  // It rejoins and gets its share back (bounded-load rendezvous: within ±10% of an even split).
  await cluster.waitForShards(victimId, (n) => Math.abs(n - 300 / cluster.size) <= 30 / cluster.size + 1, cluster.indexes(), 15_000);
  for (const [id, value] of values) assert.is(await cluster.client(victim).counter.get({ id }), value + 1000, id);
});

it("SIGTERM: the shards move at once (lease revoked), not after the TTL", async () => {
  const victim = 1;
  const victimId = cluster.id(victim);
  const survivors = cluster.indexes().filter((i) => i !== victim);
  const values = await seedCounters(60);
  await cluster.control("term", victim);
  // Well under the lease TTL: only a revoked lease frees the shards this fast.
  await cluster.waitForShards(victimId, (n) => n === 0, survivors, leaseTtlMs / 2);
  const api = cluster.client(survivors[0] as number);
  for (const [id, value] of values) assert.is(await api.counter.get({ id }), value, id);
  await cluster.control("start", victim);
  await cluster.waitForShards(victimId, (n) => n > 0, cluster.indexes(), 15_000);
});

it("exactly once through failover: keyed increments retried across a SIGKILL each count once", async () => {
  const id = uniqueId("once");
  const victim = 2;
  const survivors = cluster.indexes().filter((i) => i !== victim);
  const keys = Array.from({ length: 300 }, (_, k) => uniqueId(`key-${k}`));
  let killed = false;
  const send = async (key: string, k: number) => {
    // Retry with the same key through another runner, with a pause, as a careful client would.
    for (let attempt = 0; ; attempt++) {
      const via = attempt === 0 && !killed ? (k % cluster.size) + 1 : (survivors[attempt % survivors.length] as number);
      try {
        return await cluster.client(via).counter.increment({ id, amount: 1 }, { idempotencyKey: key });
      } catch (error) {
        if (attempt > 30) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * Math.min(attempt + 1, 10)));
      }
    }
  };
  try {
    const sends = keys.map((key, k) => new Promise((resolve) => setTimeout(resolve, k * 3)).then(() => send(key, k)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    killed = true;
    await cluster.control("kill", victim);
    await Promise.all(sends);
    assert.is(await cluster.client(survivors[0] as number).counter.get({ id }), keys.length);
  } finally {
    // The later suites need every runner back, whatever happened here.
    await cluster.control("start", victim);
    await cluster.waitForShards(cluster.id(victim), (n) => n > 0, cluster.indexes(), 15_000);
  }
});

it.run();
