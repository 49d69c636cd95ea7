import { randomUUID } from "node:crypto";
import { Etcd3 } from "etcd3";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type ShardId, silentLogger } from "../../src/cluster/index.ts";
import { EtcdOwnership } from "../../src/cluster/ownership/etcd-ownership.ts";
import { Topology } from "../../src/cluster/ownership/topology.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { waitFor } from "../support/wait.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const it = suite("Shard ownership (etcd)");

const SHARDS = 8;
const endpoints = (cluster.env().ETCD_ENDPOINTS ?? "").split(",");

it("a shard listener that fails: its work is undone and the locks freed while the runner lives; a retry takes the shards", async () => {
  const prefix = `/ownership-test-${randomUUID()}/`;
  const etcd = new Etcd3({ hosts: endpoints });
  const runner = new EtcdOwnership({
    endpoints,
    prefix,
    runnerId: "127.0.0.1:1",
    shardCount: SHARDS,
    leaseTtlMs: 2_000,
    log: silentLogger,
  });
  const released: ShardId[][] = [];
  let failing = true;
  let attempts = 0;
  runner.subscribe({
    acquired: async () => {
      attempts++;
      if (failing) throw new Error("storage is down");
    },
    released: (shards) => void released.push([...shards]),
  });
  try {
    await runner.start();
    assert.equal(released[0]?.length, SHARDS, "the failed acquisition was undone");
    // Between two failed attempts (retried every 500 ms) no lock is held: nothing is stuck.
    await waitFor(
      "the unserved shards' locks to be freed",
      async () => ((await etcd.getAll().prefix(`${prefix}shards/`).keys()).length === 0 && attempts >= 2 ? true : undefined),
      5_000,
    );
    assert.is(runner.ownedCount(), 0);
    failing = false;
    await waitFor("a retry to take every shard", () => (runner.ownedCount() === SHARDS ? true : undefined), 5_000);
    assert.is((await etcd.getAll().prefix(`${prefix}shards/`).keys()).length, SHARDS);
  } finally {
    await runner.stop();
    etcd.close();
  }
});

it("a lease lost while acquired shards were being announced leaves none of them served without a lock", async () => {
  const prefix = `/ownership-test-${randomUUID()}/`;
  const runnerId = "127.0.0.1:1";
  const etcd = new Etcd3({ hosts: endpoints });
  const ownership = new EtcdOwnership({ endpoints, prefix, runnerId, shardCount: SHARDS, leaseTtlMs: 2_000, log: silentLogger });
  let first = true;
  ownership.subscribe({
    // The first announcement outlives the lease it was acquired under: revoked from outside (as if
    // it had expired), and the runner has joined again under a new one by the time it returns.
    acquired: async () => {
      if (!first) return;
      first = false;
      const key = Topology.runnerKey(prefix, runnerId);
      const lease = (await etcd.get(key).exec()).kvs[0]?.lease as string;
      await etcd.leaseClient.leaseRevoke({ ID: lease });
      await waitFor("the runner to join again", async () => {
        const now = (await etcd.get(key).exec()).kvs[0]?.lease;
        return now && now !== lease ? true : undefined;
      });
    },
  });
  try {
    await ownership.start();
    // Every shard it calls its own must be locked in etcd under its current lease.
    await waitFor(
      "every local shard to be locked under the current lease",
      async () => {
        const runnerLease = (await etcd.get(Topology.runnerKey(prefix, runnerId)).exec()).kvs[0]?.lease;
        const locks = await etcd.getAll().prefix(`${prefix}shards/`).exec();
        const locked = new Set(
          locks.kvs.filter((kv) => kv.lease === runnerLease).map((kv) => Number(kv.key.toString().slice(prefix.length + 7))),
        );
        const local = Array.from({ length: SHARDS }, (_, s) => s).filter((s) => ownership.isLocal(s));
        return local.length === SHARDS && local.every((s) => locked.has(s)) ? true : undefined;
      },
      10_000,
    );
    for (let s = 0; s < SHARDS; s++) assert.ok(ownership.isLocal(s));
  } finally {
    await ownership.stop();
    await etcd.delete().prefix(prefix).exec();
    etcd.close();
  }
});

it.run();
