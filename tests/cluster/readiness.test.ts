import postgres from "postgres";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DelayProxy } from "../../scripts/chaos/proxy.ts";
import { silentLogger } from "../../src/cluster/index.ts";
import { loadConfig } from "../../src/config.ts";
import { startRunner } from "../../src/runner.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { freePort } from "../support/free-port.ts";
import { waitFor } from "../support/wait.ts";

/**
 * `ready` on /health (and GET /ready) is false until the runner holds its lease. A runner of a
 * cluster of its own (its own database and etcd prefix on the shared services) reaches etcd
 * through a slow link while it joins, so its HTTP API answers well before the lease is granted.
 * (False while draining is checked by the operator API's drain test.)
 */
const shared = ClusterHarness.fromEnv();
if (!shared) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const env = shared.env();

test("ready is false before the lease and true once the runner has joined", async () => {
  const database = `ready_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(env.POSTGRES_URL as string, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${database}`);
  const etcd = new URL((env.ETCD_ENDPOINTS as string).split(",")[0] as string);
  const proxyPort = await freePort();
  const proxy = new DelayProxy({ host: "127.0.0.1", port: proxyPort }, { host: etcd.hostname, port: Number(etcd.port) });
  // Each round trip to etcd takes 2 s while the runner joins: its lease comes seconds after its HTTP API.
  proxy.latencyMs = 1_000;
  await proxy.start();
  const pg = new URL(env.POSTGRES_URL as string);
  pg.pathname = `/${database}`;
  const port = await freePort();
  const config = loadConfig({
    LISTEN_ADDR: `127.0.0.1:${port}`,
    POSTGRES_URL: pg.toString(),
    ETCD_ENDPOINTS: `http://127.0.0.1:${proxyPort}`,
    ETCD_PREFIX: `/${database}/`,
    RUNNER_ADDRESS: `127.0.0.1:${await freePort()}`,
    SHARD_COUNT: "8",
    LEASE_TTL_MS: "6000",
    LOG_LEVEL: "silent",
  });
  const starting = startRunner(config, silentLogger);
  try {
    const url = `http://127.0.0.1:${port}`;
    const early = await waitFor(
      "the runner's HTTP API",
      () =>
        fetch(`${url}/health`)
          .then((r) => r.json())
          .catch(() => undefined),
      60_000,
      20,
    );
    assert.is((early as { ready: boolean }).ready, false, "no lease yet: not ready");
    assert.is((await fetch(`${url}/ready`)).status, 503);
    proxy.latencyMs = 0;
    const runner = await starting;
    try {
      const health = (await (await fetch(`${url}/health`)).json()) as { ready: boolean; shards_owned: number };
      assert.is(health.ready, true, "joined: ready");
      assert.is((await fetch(`${url}/ready`)).status, 200);
    } finally {
      await runner.stop();
    }
  } finally {
    await starting.then(
      () => {},
      () => {},
    );
    await proxy.stop();
    await admin.unsafe(`drop database if exists ${database} with (force)`).catch(() => {});
    await admin.end();
  }
});

test.run();
