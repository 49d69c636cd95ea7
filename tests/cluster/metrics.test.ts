import { suite } from "uvu";
import * as assert from "uvu/assert";
import { silentLogger } from "../../src/cluster/index.ts";
import { GrpcTransport } from "../../src/cluster/transport/grpc.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { Scrape } from "../support/prometheus.ts";
import { uniqueId } from "../support/unique-id.ts";
import { waitFor } from "../support/wait.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const it = suite("Metrics (GET /metrics on every runner)");

const scrapeAll = () => Promise.all(cluster.indexes().map((i) => Scrape.of(cluster.url(i))));
/** `after − before` of one metric on each runner. */
const deltas = (before: Scrape[], after: Scrape[], name: string, labels: Record<string, string> = {}) =>
  after.map((a, i) => a.value(name, labels) - (before[i] as Scrape).value(name, labels));
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Runs `op` on `items`, at most `width` at a time. */
async function pool<T>(items: readonly T[], width: number, op: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await op(items[next++] as T);
    }),
  );
}

it("each counter's delta equals the calls made, each histogram's count matches, on the runner that saw them", async () => {
  const OWN = 20;
  const FORWARDED = 15;
  const ids = await cluster.idsOwnedBy(1, OWN + FORWARDED, "metrics-counter");
  const [owner, other] = [cluster.client(1), cluster.client(2)];
  const increment = { entity_type: "Counter", rpc: "increment" };
  const before = await scrapeAll();
  // One at a time: each turn commits its own batch of one row.
  for (const id of ids.slice(0, OWN)) await owner.counter.increment({ id, amount: 1 });
  for (const id of ids.slice(OWN)) await other.counter.increment({ id, amount: 1 });
  const after = await scrapeAll();

  assert.equal(deltas(before, after, "cluster_calls_total", { ...increment, outcome: "ok" }), [OWN, FORWARDED, 0]);
  assert.equal(deltas(before, after, "cluster_call_duration_seconds_count", increment), [OWN, FORWARDED, 0]);
  assert.equal(deltas(before, after, "cluster_forwarded_calls_total", increment), [0, FORWARDED, 0]);
  assert.equal(deltas(before, after, "cluster_turn_duration_seconds_count", increment), [OWN + FORWARDED, 0, 0]);
  assert.equal(deltas(before, after, "cluster_entity_activations_total", { entity_type: "Counter" }), [OWN + FORWARDED, 0, 0]);
  assert.equal(deltas(before, after, "cluster_call_retries_total"), [0, 0, 0]);
  const route = { method: "POST", route: "/counter/:id/increment", status: "200" };
  assert.equal(deltas(before, after, "cluster_http_requests_total", route), [OWN, FORWARDED, 0]);
  assert.equal(deltas(before, after, "cluster_http_request_duration_seconds_count", { method: "POST", route: route.route }), [
    OWN,
    FORWARDED,
    0,
  ]);
  // Each increment committed (sequential calls, distinct entities: one row each). The cluster's
  // own entities (the ticker, the cron test's schedule) may commit on runner 1 meanwhile: at most
  // one row per call served, timer fired, activity run, or workflow run (its wait turn) there.
  const on1 = (name: string) => deltas(before, after, name)[0] ?? 0;
  const background =
    on1("cluster_turn_duration_seconds_count") -
    (OWN + FORWARDED) +
    on1("cluster_timer_fires_total") +
    on1("cluster_workflow_step_duration_seconds_count") +
    on1("cluster_workflows_started_total") +
    on1("cluster_workflows_resumed_total");
  const rows = deltas(before, after, "cluster_commit_batch_rows_sum")[0] ?? 0;
  assert.ok(rows >= OWN + FORWARDED && rows <= OWN + FORWARDED + background, `${rows} rows committed, background turns ${background}`);
  for (const name of ["cluster_commit_batch_rows_count", "cluster_commit_duration_seconds_count"]) {
    const commits = deltas(before, after, name)[0] ?? 0;
    assert.ok(commits <= rows && commits >= OWN + FORWARDED - background, `${name}: ${commits} for ${rows} rows`);
  }
  assert.equal(deltas(before, after, "cluster_commit_conflicts_total"), [0, 0, 0]);
});

it("workflows: started, completed, failed and step durations match the runs; timers: fires and lateness match the timers", async () => {
  const RUNS = 4;
  const api = cluster.client(1);
  const id = uniqueId("metrics-wf");
  const timerId = uniqueId("metrics-timer");
  const TIMERS = 5;
  const before = await scrapeAll();
  for (let n = 0; n < RUNS; n++) await api.workflow.runSimple({ id, exec_id: `ok-${n}` });
  const failed = await api.workflow.runFailing({ id, exec_id: "fails", fail_at: 2 }).catch((e: unknown) => e);
  assert.instance(failed, Error);
  for (let n = 0; n < TIMERS; n++) await api.timer.schedule({ id: timerId, timer_id: `t${n}`, delay_ms: 50 });
  await waitFor("the timers to fire", async () => ((await api.timer.fires({ id: timerId })).length === TIMERS ? true : undefined));
  // The fire's turn commits before its metrics are recorded, a moment later.
  const after = await waitFor("the fires to be counted", async () => {
    const now = await scrapeAll();
    return sum(deltas(before, now, "cluster_timer_fires_total")) === TIMERS ? now : undefined;
  });

  const wf = (name: string) => ({ workflow: name });
  assert.is(sum(deltas(before, after, "cluster_workflows_started_total", wf("runSimple"))), RUNS);
  assert.is(sum(deltas(before, after, "cluster_workflows_completed_total", wf("runSimple"))), RUNS);
  assert.is(sum(deltas(before, after, "cluster_workflows_failed_total", wf("runSimple"))), 0);
  assert.is(sum(deltas(before, after, "cluster_workflows_started_total", wf("runFailing"))), 1);
  assert.is(sum(deltas(before, after, "cluster_workflows_failed_total", wf("runFailing"))), 1);
  assert.is(sum(deltas(before, after, "cluster_workflows_running")), 0);
  assert.is(sum(deltas(before, after, "cluster_workflow_step_duration_seconds_count", { workflow: "runSimple", kind: "step" })), RUNS * 3);
  assert.is(
    deltas(before, after, "cluster_calls_total", { entity_type: "WorkflowTest", rpc: "runFailing", outcome: "WORKFLOW_FAILED" })[0],
    1,
  );
  assert.is(sum(deltas(before, after, "cluster_timer_fire_lateness_seconds_count")), TIMERS);
  assert.is(sum(deltas(before, after, "cluster_timers_pending")), 0);
});

it("gauges: every shard owned once, three live runners seen by each, one singleton running", async () => {
  const scrapes = await scrapeAll();
  assert.is(sum(scrapes.map((s) => s.value("cluster_shards_owned"))), Number(process.env.SHARD_COUNT ?? 300));
  assert.equal(
    scrapes.map((s) => s.value("cluster_runners_live")),
    [3, 3, 3],
  );
  assert.is(sum(scrapes.map((s) => s.value("cluster_singletons_running", { singleton: "SingletonTest" }))), 1);
  // The default process metrics, on Node and on Deno (the last runner) alike.
  for (const s of scrapes) {
    assert.ok(s.value("nodejs_heap_size_used_bytes") > 0);
    assert.ok(s.series("nodejs_eventloop_lag_seconds") > 0);
    assert.ok(s.value("process_cpu_seconds_total") > 0);
    assert.ok(s.value("process_resident_memory_bytes") > 0);
  }
});

it("cardinality is bounded: the series count after 10,000 ids (and 200 unregistered names) equals the one after 10", async () => {
  const prefix = uniqueId("metrics-card");
  const via = cluster.client(2);
  // A peer's-eye view: wire calls naming types and RPCs no runner registered, to entities runner 2 owns.
  const peer = new GrpcTransport({ address: "127.0.0.1:1", secret: process.env.CLUSTER_SECRET, log: silentLogger });
  const [target] = await cluster.idsOwnedBy(2, 1, prefix);
  // Calls refused as not registered reached the owner's runtime (not NOT_OWNER, were a shard moving).
  const reached = { type: 0, rpc: 0 };
  const hostile = (n: number) =>
    Promise.all(
      [
        [`NoSuchType-${n}`, `rpc-${n}`],
        ["Counter", `NoSuchRpc-${n}`],
      ].map(([type, rpc]) =>
        peer
          .call(cluster.id(2), {
            address: { type: type as string, id: target as string, shard: 0 },
            rpc: rpc as string,
            args: {},
            requestId: undefined,
            fresh: false,
            callChain: [],
            deadline: Date.now() + 5_000,
          })
          .then(
            () => assert.unreachable("an unregistered name was served"),
            (error: { code?: string }) => {
              if (error.code === "NOT_IMPLEMENTED") reached.type++;
              if (error.code === "BAD_REQUEST") reached.rpc++;
            },
          ),
      ),
    );
  const start = await Scrape.of(cluster.url(2));
  try {
    // Ten ids spread so that every runner owns some, entering through runner 2 (local and forwarded calls).
    const first = (await Promise.all(cluster.indexes().map((i) => cluster.idsOwnedBy(i, 4, prefix, 2)))).flat().slice(0, 10);
    for (const id of first) await via.counter.increment({ id, amount: 1 });
    for (let n = 0; n < 10; n++) await hostile(n);
    // Let the first entities be evicted (ENTITY_IDLE_MS), so that series exists before counting.
    await waitFor(
      "idle evictions on every runner",
      async () =>
        (await scrapeAll()).every((s) => s.value("cluster_entity_evictions_total", { entity_type: "Counter", reason: "idle" }) > 0)
          ? true
          : undefined,
      15_000,
    );
    const small = (await scrapeAll()).map((s) => new Set(s.seriesKeys("cluster_")));

    const many = Array.from({ length: 10_000 }, (_, n) => `${prefix}-${n}`);
    await pool(many, 32, (id) => via.counter.increment({ id, amount: 1 }));
    await pool(
      Array.from({ length: 100 }, (_, n) => n + 10),
      8,
      hostile,
    );
    const scrapes = await scrapeAll();
    // Named, so that a failure says which series appeared. Other entity types' series may appear
    // meanwhile (the shared cluster's timers, evictions of other suites' entities): not this load's.
    const ours = (key: string) => !/entity_type="(?!Counter")/.test(key);
    assert.equal(
      scrapes.map((s, i) => s.seriesKeys("cluster_").filter((key) => !small[i]?.has(key) && ours(key))),
      scrapes.map(() => []),
    );
    for (const s of scrapes) {
      const values = s.samples.flatMap((x) => Object.values(x.labels));
      assert.not.ok(
        values.some((v) => v.includes(prefix) || v.includes("NoSuch")),
        "no id, unregistered name or raw path in a label",
      );
    }
    const turns = (labels: Record<string, string>) =>
      (scrapes[1] as Scrape).value("cluster_turn_duration_seconds_count", labels) -
      start.value("cluster_turn_duration_seconds_count", labels);
    assert.ok(reached.type > 0 && reached.rpc > 0, "hostile calls reached the owner");
    assert.is(turns({ entity_type: "other", rpc: "other" }), reached.type);
    assert.is(turns({ entity_type: "Counter", rpc: "other" }), reached.rpc);
  } finally {
    await peer.close();
  }
});

it.run();
