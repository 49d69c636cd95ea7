import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Client } from "../../src/client.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { assertFiredOnce, firesOf, settledFires } from "../support/timers.ts";
import { uniqueId } from "../support/unique-id.ts";
import { waitFor } from "../support/wait.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const leaseTtlMs = Number(process.env.LEASE_TTL_MS ?? 5000);
const it = suite("Cluster timers");

/** Brings runner `i` back and waits until it serves its share again. */
async function restore(i: number): Promise<void> {
  await cluster!.control("start", i);
  await cluster!.waitForShards(cluster!.id(i), (n) => n > 0, cluster!.indexes(), 15_000);
}

it("SIGKILL of a timer's owner: a 3 s timer fires once after recovery; one due during the outage fires promptly, once", async () => {
  const victim = cluster.size;
  const survivor = 1;
  const api = cluster.client(survivor);
  const [slow, due] = await cluster.idsOwnedBy(victim, 2, "tm-kill", survivor);
  await api.timer.schedule({ id: slow as string, timer_id: "t3s", delay_ms: 3_000 });
  await api.timer.schedule({ id: due as string, timer_id: "due", delay_ms: 1_000 });

  await cluster.control("kill", victim);
  const killedAt = Date.now();
  // `due` falls due while nobody serves its shard (the dead runner's lease runs for LEASE_TTL_MS).
  const [fire] = await firesOf(api, due as string, 1, leaseTtlMs * 5);
  const afterKill = Date.parse(fire?.fired_at ?? "") - killedAt;
  assert.ok(afterKill > 0, "the timer fell due after its owner was killed");
  assert.ok(afterKill < leaseTtlMs * 3, `the overdue timer fired ${afterKill} ms after the kill (lease TTL ${leaseTtlMs} ms)`);
  const [late] = await firesOf(api, slow as string, 1, leaseTtlMs * 5);
  assert.ok(Date.parse(late?.fired_at ?? "") > killedAt);
  assertFiredOnce(await settledFires(api, due as string), new Map([["due", 1_000]]));
  assertFiredOnce(await settledFires(api, slow as string), new Map([["t3s", 3_000]]));
  await restore(victim);
});

it("pending timers move with their shards when a runner rejoins (handover), and fire once on the new owner", async () => {
  const mover = 2;
  const others = cluster.indexes().filter((i) => i !== mover);
  const ids = await cluster.idsOwnedBy(mover, 5, "tm-move", others[0]);
  await cluster.control("term", mover);
  await cluster.waitForShards(cluster.id(mover), (n) => n === 0, others, leaseTtlMs * 3);
  const api = cluster.client(others[0] as number);
  // Scheduled on a survivor, which serves these shards until the mover is back and takes them.
  for (const id of ids) await api.timer.schedule({ id, timer_id: "moved", delay_ms: 4_000 });
  await restore(mover);
  const moverId = cluster.id(mover);
  await waitFor(
    "the timers' shards to be back on the rejoined runner",
    async () => ((await Promise.all(ids.map((id) => cluster.ownerOf(id, mover)))).every((o) => o === moverId) ? true : undefined),
    10_000,
  );
  assert.equal(await api.timer.fires({ id: ids[0] as string }), [], "moved before their due time");
  for (const id of ids) {
    await firesOf(api, id, 1);
    assertFiredOnce(await settledFires(api, id), new Map([["moved", 4_000]]));
  }
});

it("1,000 timers over 100 entities, scheduled through every runner, fire exactly once across a SIGKILL", async () => {
  const victim = 2;
  const survivors = cluster.indexes().filter((i) => i !== victim);
  const clients: Client[] = cluster.indexes().map((i) => cluster.client(i));
  const ids = Array.from({ length: 100 }, (_, e) => uniqueId(`tm-many-${e}`));
  const delays = new Map(Array.from({ length: 10 }, (_, t) => [`t${t}`, 500 + t * 400] as const));
  await Promise.all(
    ids.flatMap((id, e) =>
      [...delays].map(([timer_id, delay_ms]) => (clients[e % clients.length] as Client).timer.schedule({ id, timer_id, delay_ms })),
    ),
  );
  // Some have fired by now, most are pending; a third of them on the runner about to die.
  await cluster.control("kill", victim);
  const api = cluster.client(survivors[0] as number);
  await Promise.all(ids.map((id) => firesOf(api, id, delays.size, 30_000)));
  const settled = await Promise.all(ids.map((id) => settledFires(api, id, 30_000)));
  for (const fires of settled) assertFiredOnce(fires, delays);
  await restore(victim);
});

it.run();
