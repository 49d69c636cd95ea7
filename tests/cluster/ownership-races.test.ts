import { Etcd3 } from "etcd3";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EtcdOwnership } from "../../src/cluster/etcd-ownership.ts";
import { silentLogger } from "../../src/cluster/log.ts";
import { Topology } from "../../src/cluster/topology.ts";
import { uniqueId } from "../support/backends.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { waitFor } from "../support/wait.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const endpoints = (cluster.env().ETCD_ENDPOINTS as string).split(",");
const it = suite("Ownership races");

it("a lease lost while acquired shards were being announced leaves none of them served without a lock", async () => {
  const prefix = `/${uniqueId("race")}/`;
  const runnerId = "127.0.0.1:1";
  const shardCount = 8;
  const etcd = new Etcd3({ hosts: endpoints });
  const ownership = new EtcdOwnership({ endpoints, prefix, runnerId, shardCount, leaseTtlMs: 2_000, log: silentLogger });
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
        const local = Array.from({ length: shardCount }, (_, s) => s).filter((s) => ownership.isLocal(s));
        return local.length === shardCount && local.every((s) => locked.has(s)) ? true : undefined;
      },
      10_000,
    );
    for (let s = 0; s < shardCount; s++) assert.ok(ownership.isLocal(s));
  } finally {
    await ownership.stop();
    await etcd.delete().prefix(prefix).exec();
    etcd.close();
  }
});

it.run();
