/**
 * The operator API (/admin) on a live cluster: cluster-wide answers through every runner, workflow
 * cancel and resume, timer cancel, drain and undrain under load, and the admin token.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { procedureList } from "../../contract/index.ts";
import { ApiError } from "../../src/client.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { uniqueId } from "../support/unique-id.ts";
import { waitFor } from "../support/wait.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const it = suite("Cluster operator API");
const leaseTtlMs = Number(process.env.LEASE_TTL_MS ?? 5000);

/** The HTTP status a call failed with (or 200). */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof ApiError) return error.status;
    throw error;
  }
}

it("every /admin route answers 401 without the token (and with a wrong one), and works with it", async () => {
  const token = cluster.adminToken;
  assert.ok(token, "the shared test cluster runs with ADMIN_TOKEN set");
  const base = cluster.url(1);
  const admin = procedureList().filter((p) => p.group === "admin");
  assert.ok(admin.length >= 9, `${admin.length} admin routes`);
  for (const { procedure } of admin) {
    const path = procedure.path.replace(/\{(\w+)\}/g, "x");
    for (const authorization of [undefined, "Bearer wrong", `Basic ${token}`, `Bearer ${token}x`]) {
      const response = await fetch(`${base}${path}`, { method: procedure.method, headers: authorization ? { authorization } : {} });
      assert.is(response.status, 401, `${procedure.method} ${path} with ${authorization ?? "no Authorization"}`);
      assert.type(((await response.json()) as { error: unknown }).error, "string");
    }
  }
  const trpc = await fetch(`${base}/trpc/admin.runners`);
  assert.is(trpc.status, 401, "the admin procedures over tRPC need the token too");

  const runners = await cluster.client(2).admin.runners({});
  assert.equal(
    runners.map((r) => r.address).sort(),
    cluster
      .indexes()
      .map((i) => cluster.id(i))
      .sort(),
  );
  assert.ok(runners.some((r) => r.runtime === "deno") && runners.some((r) => r.runtime === "node"), "node and deno runners");
  for (const r of runners) {
    assert.ok(r.shards_owned > 0 && r.ready && !r.draining, `${r.address} serves`);
    assert.ok(r.last_keepalive_at && r.fencing_deadline, `${r.address} reports its lease`);
    assert.ok(Date.parse(r.fencing_deadline as string) > Date.now(), "its fencing deadline is ahead");
  }
  const total = runners.reduce((n, r) => n + r.shards_owned, 0);
  assert.is(total, (await cluster.client(1).system.shards({})).length, "the runners' shards add up to the table");
});

it("a long run-long shows as running through every runner; cancel stops it within one step, everywhere; its exec id answers 409", async () => {
  const id = uniqueId("adm-wf");
  const args = { id, exec_id: "long", steps: 400, step_delay_ms: 40 };
  const run = statusOf(cluster.client(1).workflow.runLong(args));
  await waitFor("a few steps", async () => {
    const x = await cluster
      .client(1)
      .workflow.execution({ id, exec_id: "long" })
      .catch(() => undefined);
    return x && x.steps_completed.length >= 3 ? true : undefined;
  });
  for (const i of cluster.indexes()) {
    const page = await cluster.client(i).admin.workflows({ status: "running", workflow: "runLong", entity_type: "WorkflowTest" });
    assert.ok(
      page.executions.some((x) => x.entity_id === id && x.exec_id === "long" && x.status === "running"),
      `runner ${i} lists it as running`,
    );
  }
  const key = { entity_type: "WorkflowTest", entity_id: id, exec_id: "long" };
  // Through a runner that may not own it: the cancel is a turn at the owner, which stops the run there;
  // run-long registers no compensation, so the execution ends cancelled and the cancel answers so.
  const cancelled = await cluster.client(3).admin.cancelWorkflow(key);
  assert.is(cancelled.status, "cancelled");
  const atCancel = (await cluster.client(3).admin.workflow(key)).journal.length;
  assert.is(await run, 409, "the caller learns that the execution was cancelled");
  for (const i of cluster.indexes()) {
    const detail = await cluster.client(i).admin.workflow(key);
    assert.is(detail.execution.status, "cancelled", `cancelled as runner ${i} sees it`);
    assert.ok(detail.journal.length <= atCancel + 1, `stopped within one step (${detail.journal.length} vs ${atCancel} at cancel)`);
    assert.ok(detail.journal.length < args.steps);
    assert.is((await cluster.client(i).workflow.execution({ id, exec_id: "long" })).status, "cancelled");
  }
  try {
    await cluster.client(2).workflow.runLong(args);
    assert.unreachable("a cancelled execution ran again");
  } catch (error) {
    assert.instance(error, ApiError);
    assert.is((error as ApiError).status, 409);
    assert.match((error as ApiError).message, /cancel/);
  }
  assert.is(await statusOf(cluster.client(1).admin.cancelWorkflow(key)), 409, "cancelling twice is a conflict");
  assert.is(await statusOf(cluster.client(1).admin.resumeWorkflow(key)), 409, "a cancelled execution does not resume");
  const final = await cluster.client(1).admin.workflow(key);
  assert.is(final.journal.length, (await cluster.client(2).admin.workflow(key)).journal.length, "nothing ran since");
});

it("a failed run-failing execution resumes from its failed step through /admin/…/resume", async () => {
  const id = uniqueId("adm-fail");
  const key = { entity_type: "WorkflowTest", entity_id: id, exec_id: "f" };
  assert.is(await statusOf(cluster.client(1).workflow.runFailing({ id, exec_id: "f", fail_at: 2 })), 422);
  const failed = await cluster.client(2).admin.workflows({ status: "failed", entity_type: "WorkflowTest", workflow: "runFailing" });
  assert.ok(
    failed.executions.some((x) => x.entity_id === id),
    "listed as failed",
  );
  const resumed = await cluster.client(3).admin.resumeWorkflow(key);
  assert.is(resumed.status, "completed");
  assert.is(resumed.attempts, 2);
  const { journal } = await cluster.client(2).admin.workflow(key);
  assert.equal(
    journal.map((e) => [e.name, e.position, e.kind, e.attempt, e.runs]),
    [
      ["step1", 0, "step", 1, 1],
      ["step2", 1, "step", 2, 1],
      ["step3", 2, "step", 2, 1],
    ],
  );
  assert.is(await statusOf(cluster.client(1).admin.resumeWorkflow(key)), 409, "a completed execution does not resume");
});

it("executions page newest first with an opaque cursor; a bad cursor is a 400", async () => {
  const api = cluster.client(1);
  const id = uniqueId("adm-page");
  for (const exec_id of ["p1", "p2", "p3"]) await api.workflow.runSimple({ id, exec_id });
  const seen: string[] = [];
  let cursor: string | undefined;
  const since = new Date(Date.now() - 60_000).toISOString();
  for (let page = 0; page < 1000; page++) {
    const res = await cluster.client((page % 3) + 1).admin.workflows({ entity_type: "WorkflowTest", since, limit: "2", cursor });
    assert.ok(res.executions.length <= 2);
    seen.push(...res.executions.filter((x) => x.entity_id === id).map((x) => x.exec_id));
    const starts = res.executions.map((x) => Date.parse(x.started_at));
    assert.equal(
      starts,
      [...starts].sort((a, b) => b - a),
      "newest first",
    );
    if (!res.next_cursor) break;
    cursor = res.next_cursor;
  }
  assert.equal(seen, ["p3", "p2", "p1"]);
  assert.is(await statusOf(api.admin.workflows({ cursor: "not-a-cursor" })), 400);
});

it("a pending timer is listed, cancelled through another runner, and never fires", async () => {
  const id = uniqueId("adm-timer");
  const api = cluster.client(1);
  await api.timer.schedule({ id, timer_id: "doomed", delay_ms: 3_000 });
  // Fires just after the cancelled one would have: once it has, the doomed one's time has passed.
  await api.timer.schedule({ id, timer_id: "witness", delay_ms: 3_500 });
  const listed = await cluster.client(2).admin.timers({ entity_type: "TimerTest", entity_id: id });
  assert.equal(
    listed.map((t) => t.timer_id),
    ["doomed", "witness"],
    "soonest first",
  );
  const dueSoon = await cluster.client(2).admin.timers({ entity_id: id, due_before: new Date(Date.now() + 3_250).toISOString() });
  assert.equal(
    dueSoon.map((t) => t.timer_id),
    ["doomed"],
  );
  const cancelled = await cluster.client(3).admin.cancelTimer({ entity_type: "TimerTest", entity_id: id, timer_id: "doomed" });
  assert.is(cancelled.timer_id, "doomed");
  assert.is(await statusOf(cluster.client(2).admin.cancelTimer({ entity_type: "TimerTest", entity_id: id, timer_id: "doomed" })), 404);
  assert.equal(
    (await api.timer.pending({ id })).map((t) => t.timer_id),
    ["witness"],
  );
  const fires = await waitFor("the witness timer to fire", async () => {
    const f = await api.timer.fires({ id });
    return f.length > 0 ? f : undefined;
  });
  assert.equal(
    fires.map((f) => f.timer_id),
    ["witness"],
    "the cancelled timer never fired",
  );
  assert.equal(await cluster.client(3).admin.timers({ entity_id: id }), []);
});

it("drain moves every shard off a runner while a load runs (0 failed calls); undrain brings them back", async () => {
  const target = cluster.size;
  const address = cluster.id(target);
  const ids = Array.from({ length: 40 }, (_, k) => uniqueId(`adm-load-${k}`));
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const load = Promise.all(
    Array.from({ length: 6 }, async (_, w) => {
      const api = cluster.client((w % cluster.size) + 1);
      for (let k = w; !stop && k < 100_000; k++) {
        try {
          await api.counter.increment({ id: ids[k % ids.length] as string, amount: 1 });
          ok++;
        } catch (error) {
          failures.push(String(error));
        }
      }
    }),
  );
  await waitFor("the load to run", async () => (ok >= 20 ? true : undefined));
  const drained = await cluster.client(1).admin.drain({ address });
  assert.is(drained.draining, true);
  await cluster.waitForShards(address, (n) => n === 0, cluster.indexes(), leaseTtlMs * 4);
  await waitFor("the drained runner to report no shards", async () =>
    (await cluster.client(target).system.health({})).shards_owned === 0 ? true : undefined,
  );
  const health = await cluster.client(target).system.health({});
  assert.is(health.ready, false, "a draining runner is not ready");
  assert.is((await fetch(`${cluster.url(target)}/ready`)).status, 503);
  const info = (await cluster.client(2).admin.runners({})).find((r) => r.address === address);
  assert.is(info?.draining, true);
  assert.is(info?.shards_owned, 0);
  const atDrain = ok;
  // The drained runner keeps serving HTTP (forwarding) while it drains.
  await waitFor("calls to go on during the drain", async () => (ok > atDrain + 20 ? true : undefined), 10_000);

  const undrained = await cluster.client(2).admin.undrain({ address });
  assert.is(undrained.draining, false);
  await cluster.waitForShards(address, (n) => n > 0, cluster.indexes(), leaseTtlMs * 4);
  await waitFor("the runner to be ready again", async () =>
    (await fetch(`${cluster.url(target)}/ready`)).status === 200 ? true : undefined,
  );
  stop = true;
  await load;
  assert.equal(failures, [], "no call failed");
  assert.ok(ok > 60, `${ok} calls during drain and undrain`);
  const counts = await Promise.all(ids.map((id) => cluster.client(1).counter.get({ id })));
  assert.is(
    counts.reduce((a, b) => a + b, 0),
    ok,
    "every call applied once",
  );
});

it.run();
