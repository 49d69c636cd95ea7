import postgres from "postgres";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { SINGLETON_NAME } from "../../contract/index.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { waitFor } from "../support/wait.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const leaseTtlMs = Number(process.env.LEASE_TTL_MS ?? 5000);
const it = suite("Cluster singleton");

it("1,000 concurrent next-sequence calls through every runner return 1,000 distinct values", async () => {
  const clients = cluster.indexes().map((i) => cluster.client(i));
  const values = await Promise.all(
    Array.from({ length: 1000 }, (_, k) => clients[k % clients.length]?.singleton.nextSequence({}) as Promise<number>),
  );
  assert.is(new Set(values).size, 1000);
});

it("SIGKILL of the host: another runner takes over within the lease TTL + margin; the sequence never repeats", async () => {
  const survivor = cluster.client(1);
  const host = await survivor.singleton.currentRunner({});
  const victim = cluster.indexes().find((i) => cluster.id(i) === host);
  assert.ok(victim, `host ${host} is one of the runners`);
  const survivors = cluster.indexes().filter((i) => i !== victim);
  const before = await Promise.all(Array.from({ length: 50 }, () => cluster.client(survivors[0] as number).singleton.nextSequence({})));
  const highest = Math.max(...before);

  await cluster.control("kill", victim as number);
  const killedAt = Date.now();
  const api = cluster.client(survivors[0] as number);
  const next = await waitFor(
    "a new singleton host",
    async () => {
      const runner = await api.singleton.currentRunner({});
      return runner !== host ? runner : undefined;
    },
    leaseTtlMs + 5_000,
  );
  assert.ok(
    survivors.some((i) => cluster.id(i) === next),
    `${next} is a surviving runner`,
  );
  console.log(`    singleton moved ${host} → ${next} in ${Date.now() - killedAt} ms (lease TTL ${leaseTtlMs} ms)`);

  const history = await api.singleton.leaderHistory({});
  const last = history.at(-1);
  const previous = history.at(-2);
  assert.is(last?.runner_id, next);
  assert.is(last?.lost_leadership_at, null);
  assert.is(previous?.runner_id, host);
  assert.ok(previous?.lost_leadership_at, "the previous leader's end is recorded");

  const after = await Promise.all(Array.from({ length: 50 }, () => api.singleton.nextSequence({})));
  assert.ok(Math.min(...after) > highest, `values after failover (${Math.min(...after)}…) continue above ${highest}`);
  assert.is(new Set([...before, ...after]).size, 100);

  await cluster.control("start", victim as number);
});

it("no two runners ever ran the singleton at once (run intervals recorded in Postgres never overlap)", async () => {
  const sql = postgres(cluster.env().POSTGRES_URL as string, { max: 1, onnotice: () => {} });
  try {
    const runners = cluster.indexes().map((i) => cluster.id(i));
    const runs = await sql<{ runner: string; started: Date; ended: Date }[]>`
      select runner, started_at as started, coalesce(stopped_at, last_seen_at) as ended
      from singleton_runs where name = ${SINGLETON_NAME} and runner in ${sql(runners)}
      order by started_at`;
    assert.ok(runs.length >= 2, `runs recorded: ${runs.length}`);
    for (let i = 1; i < runs.length; i++) {
      const prev = runs[i - 1] as { runner: string; ended: Date };
      const cur = runs[i] as { runner: string; started: Date };
      assert.ok(
        cur.started.getTime() >= prev.ended.getTime(),
        `run on ${cur.runner} started ${cur.started.toISOString()} before the run on ${prev.runner} ended ${prev.ended.toISOString()}`,
      );
    }
  } finally {
    await sql.end();
  }
});

it.run();
