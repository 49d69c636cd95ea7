/**
 * Exactly once across ownership changes: a keyed call retried after a handover is answered by the
 * new owner from the replies it loaded with the state, and one retried through a stale owner (a
 * runner stopped past its lease, then woken) is never applied twice.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ClusterHarness } from "../support/cluster.ts";
import { uniqueId } from "../support/unique-id.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const leaseTtlMs = Number(process.env.LEASE_TTL_MS ?? 5000);
const it = suite("Cluster replies");

/** Brings runner `i` back and waits until it serves shards again: the later suites need every runner. */
async function restore(i: number): Promise<void> {
  await cluster!.control("start", i);
  await cluster!.waitForShards(cluster!.id(i), (n) => n > 0, cluster!.indexes(), 15_000);
}

it("a retry after a handover (SIGTERM) reaches the new owner and gets the reply committed by the old one", async () => {
  const victim = 2;
  const [id] = await cluster.idsOwnedBy(victim, 1, "handover");
  const api = cluster.client(1);
  const key = uniqueId("key");
  assert.is(await api.counter.increment({ id: id as string, amount: 5 }, { idempotencyKey: key }), 5);
  try {
    await cluster.control("term", victim);
    await cluster.waitForShards(cluster.id(victim), (n) => n === 0, [1, 3], leaseTtlMs * 3);
    // The reply was "lost": the client retries through the same entry, now routed to the new owner.
    assert.is(await api.counter.increment({ id: id as string, amount: 5 }, { idempotencyKey: key }), 5);
    assert.is(await api.counter.increment({ id: id as string, amount: 1 }, { idempotencyKey: uniqueId("key") }), 6);
    assert.is(await cluster.client(3).counter.get({ id: id as string }), 6);
  } finally {
    await restore(victim);
  }
});

it("a retry through a zombie (stopped past its lease, then woken) is answered once, with the new owner's reply", async () => {
  const victim = 3;
  const survivors = [1, 2];
  const [id] = await cluster.idsOwnedBy(victim, 1, "zombie");
  const target = { id: id as string, amount: 1 };
  const [before, during] = [uniqueId("before"), uniqueId("during")];
  // The victim owns the entity, holds it active and knows the reply to `before` in its index.
  assert.is(await cluster.client(victim).counter.increment(target, { idempotencyKey: before }), 1);
  assert.ok(cluster.signal(victim, "SIGSTOP"), "the victim runs");
  try {
    await cluster.waitForShards(cluster.id(victim), (n) => n === 0, survivors, leaseTtlMs * 4);
    // The new owner loads the state (and `before`), and commits `during`: the zombie's copy is stale.
    const api = cluster.client(1);
    assert.is(await api.counter.increment({ ...target, amount: 10 }, { idempotencyKey: during }), 11);
    assert.is(await api.counter.increment(target, { idempotencyKey: before }), 1);
  } finally {
    cluster.signal(victim, "SIGCONT");
  }
  // Retries through the woken runner, at once: whichever runner answers, each key counts once.
  const zombie = cluster.client(victim);
  const retries = await Promise.all([
    zombie.counter.increment({ ...target, amount: 10 }, { idempotencyKey: during }),
    zombie.counter.increment(target, { idempotencyKey: before }),
  ]);
  assert.equal(retries, [11, 1]);
  assert.is(await cluster.client(1).counter.get({ id: id as string }), 11);
  await cluster.waitForShards(cluster.id(victim), (n) => n > 0, cluster.indexes(), 15_000);
  assert.is(await zombie.counter.get({ id: id as string }), 11);
  assert.is(await zombie.counter.increment({ ...target, amount: 100 }, { idempotencyKey: during }), 11);
});

it.run();
