/**
 * Durable workflows against real storage (PGlite, and Postgres when POSTGRES_URL is set), through a
 * whole single-runner Cluster (its timer service fires the durable sleeps): sleeps and signal waits
 * suspend the execution (no runner holds it), signals are exactly-once, compensations run in
 * reverse once each (also across a restart midway, and when an operator cancels the execution),
 * retries journal each failed attempt.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { Cluster, ClusterError, defineEntity, openStorage, type Storage, silentLogger } from "../../src/cluster/index.ts";
import { SqlWorkflowStore } from "../../src/cluster/storage/workflows/sql.ts";
import type { StoredExecution } from "../../src/cluster/storage/workflows/store.ts";
import { uniqueId } from "../support/unique-id.ts";
import { untilPast, waitFor } from "../support/wait.ts";

/**
 * `kind:name[:n]` operations: `act` (an activity appending `name`, compensated by appending
 * `undo:name`), `sleep` (n ms), `wait` (signal `name`, timeout n ms, or none), `retry` (an activity
 * failing its first n attempts, retried up to 5 times with a durable backoff of 50 ms), `fail`
 * (a step that always throws), `hold` (a step that runs until its run is stopped), `cfail` (an
 * activity whose compensation throws), `gate` (a compensation that blocks, the first time it runs,
 * until the test opens it, to crash midway).
 */
const Op = z.string().regex(/^(act|sleep|wait|retry|fail|hold|cfail|gate):[^:]+(:\d+)?$/);

const protocol = {
  type: "Trip",
  rpcs: {
    script: { kind: "mutation", workflow: true, args: z.object({ exec_id: z.string(), ops: z.array(Op) }), output: z.array(z.string()) },
    items: { kind: "query", args: z.object({}), output: z.array(z.string()) },
  },
} as const;

const attempts = new Map<string, number>();
/** Compensations of `gate` ops blocked the first time they ran, with what releases them. */
const blocked = new Map<string, () => void>();

const Trip = defineEntity(protocol, {
  state: z.object({ items: z.array(z.string()) }),
  initial: () => ({ items: [] }),
  handlers: { items: (s) => [...s.items] },
  workflows: {
    script: {
      execId: (a) => a.exec_id,
      run: async (wf, { exec_id, ops }) => {
        const out: string[] = [];
        for (const op of ops) {
          const [kind, name, n] = op.split(":") as [string, string, string?];
          const num = n === undefined ? undefined : Number(n);
          const key = `${wf.self.id}/${exec_id}/${name}`;
          if (kind === "act" || kind === "cfail" || kind === "gate") {
            const undo = async (s: { items: string[] }) => {
              if (kind === "cfail") throw new Error(`cannot undo ${name}`);
              if (kind === "gate" && !blocked.has(key)) await new Promise<void>((resolve) => blocked.set(key, resolve));
              s.items.push(`undo:${name}`);
              return null;
            };
            const act = (s: { items: string[] }) => {
              s.items.push(name);
              return name;
            };
            out.push(await wf.activity(name, act, { compensate: undo }));
          } else if (kind === "sleep") {
            await wf.sleep(name, num ?? 0);
            out.push(name);
          } else if (kind === "wait") {
            out.push(await wf.signal<string>(name).wait(num));
          } else if (kind === "retry") {
            const body = (s: { items: string[] }) => {
              const k = (attempts.get(key) ?? 0) + 1;
              attempts.set(key, k);
              if (k <= (num ?? 0)) throw new Error(`attempt ${k} refused`);
              s.items.push(name);
              return name;
            };
            out.push(await wf.activity(name, body, { retry: { maxAttempts: 5, initialMs: 50, factor: 2, maxMs: 200 } }));
          } else if (kind === "hold") {
            await wf.step(
              name,
              (signal) => new Promise<null>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
            );
          } else {
            await wf.step(name, () => {
              throw new Error(`${name} always fails`);
            });
          }
        }
        return out;
      },
    },
  },
});

interface Backend {
  readonly name: string;
  /** Opens the backend's storage; each call after a shutdown sees the same data. */
  open(): Promise<Storage>;
  dispose(): void;
}

function backends(): Backend[] {
  const dir = mkdtempSync(join(tmpdir(), "durable-it-"));
  const list: Backend[] = [
    {
      name: "pglite",
      open: () => openStorage({ postgresUrl: undefined, dataDir: dir, log: silentLogger }),
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    },
  ];
  const url = process.env.POSTGRES_URL;
  if (url)
    list.push({ name: "postgres", open: () => openStorage({ postgresUrl: url, dataDir: "", log: silentLogger }), dispose: () => {} });
  return list;
}

/** A single-runner cluster on the backend; `restart` shuts it down (its executions stay as storage has them) and starts another. */
class Node {
  cluster!: Cluster;
  storage!: Storage;
  constructor(private readonly backend: Backend) {}

  /** Starts on `shared` storage (another node's), or opens the backend's. */
  async start(shared?: Storage): Promise<void> {
    this.storage = shared ?? (await this.backend.open());
    this.cluster = await Cluster.create({
      mode: "single",
      runnerId: "it",
      shardCount: 4,
      entityIdleMs: 60_000,
      storage: this.storage,
      log: silentLogger,
      entities: [Trip],
    });
    await this.cluster.start();
  }

  async restart(): Promise<void> {
    await this.cluster.shutdown();
    await this.start();
  }

  run(id: string, execId: string, ops: string[]): Promise<unknown> {
    return settle(this.cluster.call("Trip", id, "script", { exec_id: execId, ops }));
  }

  items(id: string): Promise<unknown> {
    return this.cluster.call("Trip", id, "items", {});
  }

  record(id: string, execId: string) {
    return new SqlWorkflowStore(this.storage).get({ type: "Trip", id, execId });
  }

  /** An operator's cancel (POST /admin/workflows/Trip/{id}/{execId}/cancel): the execution it answers, or the error's code. */
  cancel(id: string, execId: string): Promise<unknown> {
    return settle(this.cluster.operator.cancelExecution({ type: "Trip", id, execId }));
  }

  private pendingTimers(id: string) {
    return this.cluster.operator.timers({ type: "Trip", id, limit: 100 });
  }

  /** The ids of the entity's pending timers. */
  async timers(id: string): Promise<string[]> {
    return (await this.pendingTimers(id)).map((t) => t.timerId);
  }

  /** When the entity's one pending timer is due (epoch ms). */
  async dueAt(id: string): Promise<number> {
    const [timer, ...more] = await this.pendingTimers(id);
    assert.ok(timer && more.length === 0, "one timer pending");
    return timer.fireAt.getTime();
  }

  /** Waits until the execution has ended (any status but running, suspended, compensating). */
  ended(id: string, execId: string) {
    return waitFor(`${execId} to end`, async () => {
      const r = await this.record(id, execId);
      return r && !["running", "suspended", "compensating"].includes(r.status) ? r : undefined;
    });
  }
}

/** A call's result, or the code of the ClusterError it failed with. */
async function settle(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => value,
    (error: unknown) => {
      if (error instanceof ClusterError) return process.env.DEBUG_SETTLE ? `${error.code}: ${error.message}` : error.code;
      throw error;
    },
  );
}

const names = (r: { steps: readonly { name: string }[] } | undefined) => r?.steps.map((s) => s.name);

for (const backend of backends()) {
  const it = suite<{ node: Node }>(`Durable workflows [${backend.name}]`);
  it.before(async (ctx) => {
    ctx.node = new Node(backend);
    await ctx.node.start();
  });
  it.after(async ({ node }) => {
    await node.cluster.shutdown();
    backend.dispose();
  });

  it("a sleep suspends the execution (held in no memory) and a timer wakes it, also after a restart", async ({ node }) => {
    const id = uniqueId("trip");
    assert.is(await node.run(id, "s1", ["act:a", "sleep:nap:2000", "act:b"]), "SUSPENDED");
    assert.is((await node.record(id, "s1"))?.status, "suspended");
    assert.is(node.cluster.activeExecutionCount, 0, "a sleeping execution is held by no runner");
    await node.restart();
    const done = await node.ended(id, "s1");
    assert.is(done.status, "completed");
    assert.equal(done.result, ["a", "nap", "b"]);
    assert.equal(await node.items(id), ["a", "b"]);
    assert.ok(done.steps.every((s) => s.runs === 1));
    assert.equal(await node.run(id, "s1", ["act:a", "sleep:nap:2000", "act:b"]), done.result, "running it again returns its result");
  });

  it("a sleep whose due time passed while no runner was up wakes at once on return", async ({ node }) => {
    const id = uniqueId("trip");
    assert.is(await node.run(id, "s2", ["sleep:nap:1000", "act:b"]), "SUSPENDED");
    const due = await node.dueAt(id);
    await node.cluster.shutdown();
    // The due time passes while no runner is up.
    await untilPast(due + 100);
    await node.start();
    const started = Date.now();
    assert.is((await node.ended(id, "s2")).status, "completed");
    const woke = Date.now() - started;
    assert.ok(woke < 5_000, `woke ${woke} ms after the start, not at its next due time (there is none: it is overdue)`);
  });

  it("signals: one delivered before the wait and one after both resume the execution exactly once", async ({ node }) => {
    const id = uniqueId("trip");
    await node.cluster.signal("Trip", id, "g1", "early", "e-payload");
    assert.is(await node.run(id, "g1", ["wait:early", "wait:late"]), "SUSPENDED");
    assert.equal(names(await node.record(id, "g1")), ["early"], "the early signal was consumed at once");
    await node.cluster.signal("Trip", id, "g1", "late", "l-payload");
    const done = await node.ended(id, "g1");
    assert.equal(done.result, ["e-payload", "l-payload"]);
    assert.ok(done.steps.every((s) => s.runs === 1));
    const dup = await settle(node.cluster.signal("Trip", id, "g1", "late", "other"));
    assert.is(dup, "ALREADY_EXISTS", "a second delivery is refused");
    assert.equal((await node.record(id, "g1"))?.result, ["e-payload", "l-payload"], "the first payload stands");
  });

  it("the reads of signal waits asked together (a mailbox batch's) each get their own entry and signal", async ({ node }) => {
    const id = uniqueId("trip");
    await node.cluster.signal("Trip", id, "r1", "x", "x-payload");
    assert.is(await node.run(id, "r1", ["wait:x", "wait:y"]), "SUSPENDED");
    await node.cluster.signal("Trip", id, "r2", "y", "y-payload");
    const store = new SqlWorkflowStore(node.storage);
    const key = (execId: string) => ({ type: "Trip", id, execId });
    const [consumed, awaited, early, unknown] = await Promise.all([
      store.waited(key("r1"), "x"),
      store.waited(key("r1"), "y"),
      store.waited(key("r2"), "y"),
      store.waited(key("r1"), "z"),
    ]);
    assert.equal(consumed, { entry: { name: "x", seq: 0, result: '{"signal":"x-payload"}', runs: 1 }, signal: '"x-payload"' });
    assert.equal(awaited, {}, "suspended at y, nothing delivered");
    assert.equal(early, { signal: '"y-payload"' }, "delivered before its execution started");
    assert.equal(unknown, {});
  });

  it("a signal timeout fails the workflow and its compensations run in reverse, once each", async ({ node }) => {
    const id = uniqueId("trip");
    assert.is(await node.run(id, "t1", ["act:a", "act:b", "wait:ok:150", "act:c"]), "SUSPENDED");
    const done = await node.ended(id, "t1");
    assert.is(done.status, "compensated");
    assert.match(done.error ?? "", /signal ok timed out/);
    assert.equal(await node.items(id), ["a", "b", "undo:b", "undo:a"]);
    assert.is(await settle(node.cluster.signal("Trip", id, "t1", "ok", "late")), "ALREADY_EXISTS", "too late: the wait timed out");
    assert.is(await node.run(id, "t1", ["act:a", "act:b", "wait:ok:150", "act:c"]), "WORKFLOW_FAILED", "a compensated execution stays so");
    assert.equal(await node.items(id), ["a", "b", "undo:b", "undo:a"]);
  });

  it("a compensation that throws ends the execution as compensation_failed", async ({ node }) => {
    const id = uniqueId("trip");
    assert.is(await node.run(id, "c1", ["act:a", "cfail:b", "act:c", "fail:x"]), "WORKFLOW_FAILED");
    const done = await node.record(id, "c1");
    assert.is(done?.status, "compensation_failed");
    assert.match(done?.error ?? "", /compensation of b failed: .*cannot undo b/);
    assert.equal(await node.items(id), ["a", "b", "c", "undo:c"]);
  });

  it("compensations survive a takeover in the middle: each runs once, the zombie's repeats are refused", async ({ node }) => {
    const id = uniqueId("trip");
    const key = `${id}/m1/g`;
    // The first run's compensation of g blocks (a runner stalled mid-compensation); a second cluster
    // on the same storage then resumes the compensating execution, as a new owner would.
    const first = node.run(id, "m1", ["act:a", "gate:g", "act:c", "fail:x"]);
    await waitFor("the compensation of g to block", () => (blocked.has(key) ? true : undefined));
    const second = new Node(backend);
    await second.start({ ...node.storage, close: async () => {} }); // the first node closes it
    const done = await second.ended(id, "m1");
    assert.is(done.status, "compensated");
    blocked.get(key)?.();
    // Fenced out (NOT_OWNER), its caller is retried by the router and finds the execution ended.
    assert.is(await first, "WORKFLOW_FAILED");
    assert.equal(await second.items(id), ["a", "g", "c", "undo:c", "undo:g", "undo:a"]);
    const record = await second.record(id, "m1");
    assert.equal(names(record)?.slice(-3), ["$compensate:c", "$compensate:g", "$compensate:a"], "journaled in reverse");
    assert.ok(record?.steps.every((s) => s.runs === 1));
    await second.cluster.shutdown();
  });

  it("an operator's cancel of a suspended execution runs its compensations in reverse once each; its sleep never fires", async ({
    node,
  }) => {
    const id = uniqueId("trip");
    const ops = ["act:a", "act:b", "sleep:nap:2000", "act:c"];
    assert.is(await node.run(id, "x1", ops), "SUSPENDED");
    assert.is((await node.timers(id)).length, 1, "the sleep's timer is pending");
    const due = await node.dueAt(id);
    const cancelled = (await node.cancel(id, "x1")) as StoredExecution;
    assert.is(cancelled.status, "compensated", "it answers once the compensations ran");
    assert.is(cancelled.error, "cancelled by an operator");
    assert.equal(await node.items(id), ["a", "b", "undo:b", "undo:a"]);
    const record = await node.record(id, "x1");
    assert.equal(names(record), ["a", "b", "$cancel", "$compensate:b", "$compensate:a"], "journaled in reverse, after the cancel");
    assert.ok(record?.steps.every((s) => s.runs === 1));
    assert.equal(await node.timers(id), [], "the cancel took the sleep's timer with it");
    assert.is(await node.cancel(id, "x1"), "ALREADY_EXISTS", "a second cancel is refused (409)");
    assert.is(await node.run(id, "x1", ops), "WORKFLOW_FAILED", "a retried start answers as for any compensated execution (422)");
    await untilPast(due + 300);
    assert.equal(await node.record(id, "x1"), record, "nothing changed since");
    assert.equal(await node.items(id), ["a", "b", "undo:b", "undo:a"]);
  });

  it("an execution with nothing to compensate is cancelled (suspended, failed or running); an ended one keeps its answer", async ({
    node,
  }) => {
    const id = uniqueId("trip");
    assert.is(await node.run(id, "n1", ["wait:go:60000"]), "SUSPENDED");
    assert.is(((await node.cancel(id, "n1")) as StoredExecution).status, "cancelled");
    assert.equal(await node.timers(id), [], "the signal's timeout timer went with it");
    assert.is(await node.run(id, "n1", ["wait:go:60000"]), "ALREADY_EXISTS", "a cancelled execution never runs again (409)");
    assert.is(await node.cancel(id, "n1"), "ALREADY_EXISTS", "a second cancel is refused (409)");

    assert.is(await node.run(id, "n2", ["fail:x"]), "WORKFLOW_FAILED");
    assert.is((await node.record(id, "n2"))?.status, "failed");
    const failed = (await node.cancel(id, "n2")) as StoredExecution;
    assert.equal([failed.status, failed.error], ["cancelled", "cancelled by an operator"]);

    // A running one: its caller learns of the cancel, and the activity it got past is undone.
    const running = node.run(id, "n3", ["act:r", "hold:h", "act:never"]);
    await waitFor("n3 to hold", async () => ((await node.items(id)) as string[]).includes("r") || undefined);
    assert.is(((await node.cancel(id, "n3")) as StoredExecution).status, "compensated");
    assert.is(await running, "ALREADY_EXISTS", "its caller is told it was cancelled (409)");
    assert.equal(await node.items(id), ["r", "undo:r"]);
    assert.equal(names(await node.record(id, "n3")), ["r", "$cancel", "$compensate:r"]);

    assert.equal(await node.run(id, "n4", ["act:d"]), ["d"]);
    const before = await node.record(id, "n4");
    assert.is(await node.cancel(id, "n4"), "ALREADY_EXISTS", "a completed execution keeps its result (409)");
    assert.equal(await node.record(id, "n4"), before);
    assert.is(await node.cancel(id, "no-such-exec"), "NOT_FOUND");
    assert.is(await settle(node.cluster.operator.cancelExecution({ type: "NoSuchType", id, execId: "n1" })), "NOT_FOUND");
  });

  it("a cancel's compensations survive a takeover in the middle: each runs once, on the new owner", async ({ node }) => {
    const id = uniqueId("trip");
    const key = `${id}/x2/g`;
    assert.is(await node.run(id, "x2", ["act:a", "gate:g", "wait:go"]), "SUSPENDED");
    // The cancel answers once the compensations ran: the compensation of g blocks it (a runner
    // stalled mid-compensation) until another cluster on the same storage has taken over.
    const cancelling = node.cancel(id, "x2");
    await waitFor("the compensation of g to block", () => (blocked.has(key) ? true : undefined));
    const second = new Node(backend);
    await second.start({ ...node.storage, close: async () => {} }); // the first node closes it
    const done = await second.ended(id, "x2");
    assert.equal([done.status, done.error], ["compensated", "cancelled by an operator"]);
    blocked.get(key)?.();
    assert.is(((await cancelling) as StoredExecution).status, "compensated");
    assert.equal(await second.items(id), ["a", "g", "undo:g", "undo:a"]);
    const record = await second.record(id, "x2");
    assert.equal(names(record), ["a", "g", "$cancel", "$compensate:g", "$compensate:a"]);
    assert.ok(record?.steps.every((s) => s.runs === 1));
    await second.cluster.shutdown();
  });

  it("retries: each failed attempt is journaled with its error, and the backoff waits survive a restart", async ({ node }) => {
    const id = uniqueId("trip");
    assert.is(await node.run(id, "r1", ["retry:charge:2"]), "SUSPENDED", "the first backoff wait suspends the execution");
    await node.restart();
    const done = await node.ended(id, "r1");
    assert.is(done.status, "completed");
    assert.equal(names(done), ["charge#1", "charge#1.backoff", "charge#2", "charge#2.backoff", "charge"]);
    assert.equal(JSON.parse(done.steps[0]?.result ?? "null"), { error: "attempt 1 refused" });
    assert.equal(JSON.parse(done.steps[2]?.result ?? "null"), { error: "attempt 2 refused" });
    assert.equal(await node.items(id), ["charge"]);
  });

  it.run();
}
