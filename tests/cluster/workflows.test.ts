/**
 * Durable workflows on a live cluster: a runner that dies (SIGKILL) or leaves (SIGTERM) in the
 * middle of a workflow, and duplicate runs of one exec id entering through every runner.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { WorkflowExecution } from "../../contract/index.ts";
import { shardOf } from "../../src/cluster/index.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { uniqueId } from "../support/unique-id.ts";
import { waitFor } from "../support/wait.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const it = suite("Cluster workflows");

const STEPS = 50;
const STEP_DELAY_MS = 60;
const stepNames = Array.from({ length: STEPS }, (_, k) => `step${k + 1}`);

/**
 * A fresh WorkflowTest id whose shard runner `i` serves, once every runner agrees on the shard
 * table (a runner restarted by an earlier test may still be taking its share back).
 */
async function idServedBy(i: number): Promise<string> {
  const served = await waitFor(
    "the runners to agree on the shard table",
    async () => {
      const tables = await Promise.all(cluster!.indexes().map((k) => cluster!.client(k).system.shards({})));
      const owners = tables.map((t) => JSON.stringify(t.map((s) => s.owner)));
      if (owners.some((o) => o !== owners[0])) return undefined;
      const local = new Set((tables[i - 1] ?? []).filter((s) => s.local).map((s) => s.shard_id));
      return local.size > 0 ? local : undefined;
    },
    20_000,
  );
  const shardCount = (await cluster!.client(i).system.shards({})).length;
  for (let n = 0; ; n++) {
    const id = uniqueId(`wf-${i}-${n}`);
    if (served.has(shardOf(id, shardCount))) return id;
  }
}

/** Waits until runner `i` serves shards again after a restart. */
async function waitUntilServing(i: number): Promise<void> {
  await waitFor(
    `runner ${i} to serve shards again`,
    async () => ((await cluster!.client(i).system.health({})).shards_owned > 0 ? true : undefined),
    20_000,
  );
}

function assertRanOnce(execution: WorkflowExecution): void {
  assert.is(execution.status, "completed");
  assert.equal(execution.steps_completed, stepNames, "every step appears once, in order");
  for (const step of stepNames) assert.is(execution.step_runs[step], 1, `${step} ran once`);
}

/**
 * Starts a 50-step workflow on an entity of runner `victim` (entering through another runner, whose
 * connection survives), stops the victim with `signal` once a third of the steps are done, and
 * checks that the caller still gets the result and that no step ran twice.
 */
async function interrupt(victim: number, signal: "kill" | "term"): Promise<WorkflowExecution> {
  const via = victim === 1 ? 2 : 1;
  const api = cluster!.client(via);
  const id = await idServedBy(victim);
  const run = api.workflow.runLong({ id, exec_id: "crash", steps: STEPS, step_delay_ms: STEP_DELAY_MS });
  const before = await waitFor("a third of the steps", async () => {
    const x = await api.workflow.execution({ id, exec_id: "crash" }).catch(() => undefined);
    return x && x.steps_completed.length >= STEPS / 3 ? x : undefined;
  });
  await cluster!.control(signal, victim);
  assert.ok(before.steps_completed.length < STEPS, "the victim was stopped mid-way");
  // The caller's router retries the call at the new owner, which has resumed the execution.
  assert.is(await run, `completed ${STEPS} steps`);
  const after = await api.workflow.execution({ id, exec_id: "crash" });
  assertRanOnce(after);
  assert.ok(after.attempts >= 2, `resumed elsewhere (attempts ${after.attempts})`);
  await cluster!.control("start", victim);
  await waitUntilServing(victim);
  return after;
}

it("SIGKILL of the runner running a 50-step workflow: it completes on another runner, every step ran once", async () => {
  await interrupt(2, "kill");
});

it("SIGTERM of the runner running a workflow: it is handed over at once and completes, every step ran once", async () => {
  await interrupt(3, "term");
});

it("duplicate runs of one exec id through every runner execute it once and all get its result", async () => {
  const id = uniqueId("wf-dup");
  const results = await Promise.all(
    Array.from({ length: 30 }, (_, k) =>
      cluster.client((k % cluster.size) + 1).workflow.runLong({ id, exec_id: "dup", steps: 10, step_delay_ms: 10 }),
    ),
  );
  assert.equal(new Set(results), new Set(["completed 10 steps"]));
  const execution = await cluster.client(1).workflow.execution({ id, exec_id: "dup" });
  assert.is(execution.attempts, 1);
  assert.equal(Object.values(execution.step_runs), Array(10).fill(1));
});

it.run();
