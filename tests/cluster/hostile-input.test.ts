import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ClusterHarness } from "../support/cluster.ts";
import { type HostileCase, hostileCorpus } from "../support/hostile-corpus.ts";
import { rawRequest } from "../support/raw-http.ts";
import { uniqueId } from "../support/unique-id.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const it = suite("Hostile input");

/** Longest a runner may take over any hostile request (the 9 MiB bodies included). */
const ANSWER_TIMEOUT_MS = 15_000;
const CONCURRENCY = 8;

it("a corpus of malformed, oversized, mistyped and injection-shaped requests to every route: 4xx only, no hang, state unchanged, every runner alive", async () => {
  const targets = {
    counter: uniqueId("fuzz-counter"),
    kv: uniqueId("fuzz-kv"),
    kvKey: "known",
    cross: uniqueId("fuzz-cross"),
    other: uniqueId("fuzz-other"),
    suffix: `-${uniqueId("h")}`,
    adminToken: cluster.adminToken,
  };
  const api = cluster.client(1);
  await api.counter.increment({ id: targets.counter, amount: 42 });
  await api.kv.set({ id: targets.kv, key: targets.kvKey, value: { nested: [1, "two", null] } });
  await api.kv.set({ id: targets.kv, key: "fuzz", value: "seeded" });
  await api.cross.receive({ id: targets.cross, from: "seed", message: "hello" });
  const checksum = async () => {
    const keys = await api.kv.keys({ id: targets.kv });
    const values = await Promise.all(keys.map((key) => api.kv.get({ id: targets.kv, key })));
    const messages = await api.cross.messages({ id: targets.cross });
    return JSON.stringify([await api.counter.get({ id: targets.counter }), keys, values, messages.length]);
  };
  const before = await checksum();
  const sequence = await api.singleton.nextSequence({});
  const pids = cluster.indexes().map((i) => cluster.pid(i));

  const corpus = hostileCorpus(targets);
  const runners = cluster.indexes().map((i) => new URL(cluster.url(i)));
  const problems: string[] = [];
  const statuses = new Map<number, number>();
  const check = async (c: HostileCase, k: number) => {
    const url = runners[k % runners.length] as URL;
    try {
      const { status, body } = await rawRequest(url.hostname, Number(url.port), c.request, ANSWER_TIMEOUT_MS);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (c.expect.kind === "reject" && (status < 400 || status > 499)) problems.push(`${c.name} → ${status} ${body.slice(0, 160)}`);
      if (c.expect.kind === "read" && (status !== 200 || body !== JSON.stringify(c.expect.body))) {
        problems.push(`${c.name} → ${status} ${body.slice(0, 160)} (expected 200 ${JSON.stringify(c.expect.body)})`);
      }
    } catch (error) {
      problems.push(`${c.name} → ${String(error)}`);
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < corpus.length) {
        const k = next++;
        await check(corpus[k] as HostileCase, k);
      }
    }),
  );
  const summary = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${n}×${s}`);
  console.log(`    ${corpus.length} hostile requests over ${runners.length} runners: ${summary.join(", ")}`);

  assert.ok(corpus.length >= 500, `corpus of ${corpus.length} requests`);
  assert.equal(problems, [], `${problems.length} requests were not refused cleanly:\n  ${problems.slice(0, 25).join("\n  ")}`);
  assert.is(await checksum(), before, "the seeded entities are unchanged");
  assert.is(await api.singleton.nextSequence({}), sequence + 1, "no hostile request moved the singleton's sequence");
  assert.equal(
    cluster.indexes().map((i) => cluster.pid(i)),
    pids,
    "every runner is still the same process",
  );
  for (const i of cluster.indexes()) assert.is((await cluster.client(i).system.health({})).status, "ok");
});

it.run();
