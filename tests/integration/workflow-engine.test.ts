/**
 * The workflow engine against real storage (PGlite, and Postgres when POSTGRES_URL is set), with a
 * workflow whose steps the tests script: steps, activities, injected failures, and gates that
 * hold a step until the test opens them. Every body counts its runs, so the tests can tell what
 * ran how often.
 */
import { and, eq } from "drizzle-orm";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { workflowJournal } from "../../drizzle/schema.ts";
import { EntityRuntime } from "../../src/cluster/entity/runtime.ts";
import { ClusterError, defineEntity, type Storage, silentLogger } from "../../src/cluster/index.ts";
import { SqlStateStore } from "../../src/cluster/storage/entity-state/sql.ts";
import { SqlWorkflowStore } from "../../src/cluster/storage/workflows/sql.ts";
import { callOf } from "../support/call.ts";
import { STORAGE_BACKENDS } from "../support/storage-backends.ts";
import { uniqueId } from "../support/unique-id.ts";
import { waitFor } from "../support/wait.ts";

/**
 * `kind:name` operations: `step` (returns its name), `act` (an activity appending its name to the
 * state), `actfail` (appends, then throws, on the first attempt), `fail` (a step that throws on the
 * first attempt), `gate` (a step that waits until the test opens its gate, or the run is stopped).
 */
const Op = z.string().regex(/^(step|act|actfail|fail|gate):.+$/);

const protocol = {
  type: "Ledger",
  rpcs: {
    script: { kind: "mutation", workflow: true, args: z.object({ exec_id: z.string(), ops: z.array(Op) }), output: z.array(z.string()) },
    items: { kind: "query", args: z.object({}), output: z.array(z.string()) },
  },
} as const;

/** Runs of each body, by `entityId/execId/name`. */
const runs = new Map<string, number>();
const gates = new Map<string, { opened: Promise<void>; open: () => void; entered: number }>();

function gate(name: string) {
  let entry = gates.get(name);
  if (!entry) {
    let open = () => {};
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    entry = { opened, open, entered: 0 };
    gates.set(name, entry);
  }
  return entry;
}

const count = (key: string) => runs.set(key, (runs.get(key) ?? 0) + 1);
const ran = (id: string, execId: string, name: string) => runs.get(`${id}/${execId}/${name}`) ?? 0;

const Ledger = defineEntity(protocol, {
  state: z.object({ items: z.array(z.string()) }),
  initial: () => ({ items: [] }),
  handlers: { items: (s) => [...s.items] },
  workflows: {
    script: {
      execId: (a) => a.exec_id,
      run: async (wf, { exec_id, ops }) => {
        const out: string[] = [];
        for (const op of ops) {
          const [kind, name] = op.split(":") as [string, string];
          const key = `${wf.self.id}/${exec_id}/${name}`;
          if (kind === "act" || kind === "actfail") {
            out.push(
              await wf.activity(name, (s) => {
                count(key);
                s.items.push(name);
                if (kind === "actfail" && wf.attempt === 1) throw new Error(`${name} refuses after changing state`);
                return name;
              }),
            );
          } else {
            out.push(
              await wf.step(name, async (signal) => {
                count(key);
                if (kind === "fail" && wf.attempt === 1) throw new Error(`${name} fails on the first attempt`);
                if (kind === "gate") {
                  const g = gate(key);
                  g.entered++;
                  const stopped = new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
                  await Promise.race([g.opened, stopped]);
                }
                return name;
              }),
            );
          }
        }
        return out;
      },
    },
  },
});

const address = (id: string) => ({ type: "Ledger", id, shard: 0 });

function runtimeOn(storage: Storage, mayCommit?: () => boolean, sweepMs?: number): EntityRuntime {
  const runtime = new EntityRuntime({
    store: new SqlStateStore(storage),
    log: silentLogger,
    mayCommit,
    idleMs: 60_000,
    workflows: { store: new SqlWorkflowStore(storage), address: (_type, id) => address(id), sweepMs },
  });
  runtime.register(Ledger);
  return runtime;
}

async function failure(promise: Promise<unknown>): Promise<ClusterError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(error, ClusterError, "expected the call to fail");
  return error as ClusterError;
}

for (const backend of STORAGE_BACKENDS) {
  const it = suite<{ storage: Storage; runtime: EntityRuntime; dispose: () => void }>(`Workflow engine [${backend.name}]`);
  it.before(async (ctx) => {
    const { storage, dispose } = await backend.open();
    ctx.storage = storage;
    ctx.dispose = dispose;
    ctx.runtime = runtimeOn(storage);
  });
  it.after(async (ctx) => {
    await ctx.runtime.stop();
    await ctx.storage.close();
    ctx.dispose();
  });

  const journalOf = (storage: Storage, id: string, execId: string) =>
    storage.db
      .select({ name: workflowJournal.name, runs: workflowJournal.runs })
      .from(workflowJournal)
      .where(and(eq(workflowJournal.entityId, id), eq(workflowJournal.execId, execId)))
      .orderBy(workflowJournal.seq);

  it("steps and activities run once; running a completed exec id again returns its stored result", async ({ runtime }) => {
    const id = uniqueId("ledger");
    const args = { exec_id: "e1", ops: ["step:a", "act:b", "step:c"] };
    assert.equal(await runtime.call(callOf(address(id), "script", args)), ["a", "b", "c"]);
    assert.equal(await runtime.call(callOf(address(id), "script", args)), ["a", "b", "c"]);
    assert.equal([ran(id, "e1", "a"), ran(id, "e1", "b"), ran(id, "e1", "c")], [1, 1, 1]);
    assert.equal(await runtime.call(callOf(address(id), "items", {})), ["b"]);
  });

  it("an activity that throws after changing state leaves neither the change nor a journal entry", async ({ runtime, storage }) => {
    const id = uniqueId("ledger");
    const args = { exec_id: "e2", ops: ["act:a", "actfail:b", "step:c"] };
    const error = await failure(runtime.call(callOf(address(id), "script", args)));
    assert.is(error.code, "WORKFLOW_FAILED");
    assert.match(error.message, /b failed: b refuses after changing state/);
    assert.equal(await runtime.call(callOf(address(id), "items", {})), ["a"], "the state change of b was rolled back");
    assert.equal(await journalOf(storage, id, "e2"), [{ name: "a", runs: 1 }], "b left no journal entry");
    const record = await new SqlWorkflowStore(storage).get({ type: "Ledger", id, execId: "e2" });
    assert.is(record?.status, "failed");

    // The retry resumes at b: a is not run again, b commits once.
    assert.equal(await runtime.call(callOf(address(id), "script", args)), ["a", "b", "c"]);
    assert.equal(await runtime.call(callOf(address(id), "items", {})), ["a", "b"]);
    assert.equal([ran(id, "e2", "a"), ran(id, "e2", "b"), ran(id, "e2", "c")], [1, 2, 1]);
    assert.equal(await journalOf(storage, id, "e2"), [
      { name: "a", runs: 1 },
      { name: "b", runs: 1 },
      { name: "c", runs: 1 },
    ]);
  });

  it("a failed execution resumes from the failed step on its next run", async ({ runtime, storage }) => {
    const id = uniqueId("ledger");
    const args = { exec_id: "e3", ops: ["step:a", "fail:b", "step:c"] };
    assert.is((await failure(runtime.call(callOf(address(id), "script", args)))).code, "WORKFLOW_FAILED");
    assert.equal(await runtime.call(callOf(address(id), "script", args)), ["a", "b", "c"]);
    assert.equal([ran(id, "e3", "a"), ran(id, "e3", "b"), ran(id, "e3", "c")], [1, 2, 1]);
    const record = await new SqlWorkflowStore(storage).get({ type: "Ledger", id, execId: "e3" });
    assert.is(record?.status, "completed");
    assert.is(record?.attempts, 2);
    assert.is(record?.error, null);
  });

  it("concurrent duplicate runs of one exec id execute it once and all get its result", async ({ runtime, storage }) => {
    const id = uniqueId("ledger");
    const args = { exec_id: "e4", ops: ["step:a", "gate:g", "act:b"] };
    const calls = Array.from({ length: 50 }, () => runtime.call(callOf(address(id), "script", args)));
    await waitFor("the gate to be reached", () => (gate(`${id}/e4/g`).entered > 0 ? true : undefined));
    const late = Array.from({ length: 10 }, () => runtime.call(callOf(address(id), "script", args)));
    gate(`${id}/e4/g`).open();
    const results = await Promise.all([...calls, ...late]);
    for (const r of results) assert.equal(r, ["a", "g", "b"]);
    assert.equal([ran(id, "e4", "a"), ran(id, "e4", "g"), ran(id, "e4", "b")], [1, 1, 1]);
    assert.is((await new SqlWorkflowStore(storage).get({ type: "Ledger", id, execId: "e4" }))?.attempts, 1);
  });

  it("an exec id is refused with other arguments, while running and once completed", async ({ runtime }) => {
    const id = uniqueId("ledger");
    const first = runtime.call(callOf(address(id), "script", { exec_id: "e5", ops: ["gate:g"] }));
    await waitFor("the gate to be reached", () => (gate(`${id}/e5/g`).entered > 0 ? true : undefined));
    const whileRunning = await failure(runtime.call(callOf(address(id), "script", { exec_id: "e5", ops: ["step:other"] })));
    assert.is(whileRunning.code, "ALREADY_EXISTS");
    gate(`${id}/e5/g`).open();
    assert.equal(await first, ["g"]);
    const afterwards = await failure(runtime.call(callOf(address(id), "script", { exec_id: "e5", ops: ["step:other"] })));
    assert.is(afterwards.code, "ALREADY_EXISTS");
    assert.is(ran(id, "e5", "other"), 0);
  });

  it("release stops a run where it is (still running); resume finishes it without re-running journaled steps", async ({
    runtime,
    storage,
  }) => {
    const id = uniqueId("ledger");
    const args = { exec_id: "e6", ops: ["step:a", "act:b", "gate:g", "step:c"] };
    const call = runtime.call(callOf(address(id), "script", args));
    await waitFor("the gate to be reached", () => (gate(`${id}/e6/g`).entered > 0 ? true : undefined));
    await runtime.release(new Set([0]));
    const stopped = await failure(call);
    assert.is(stopped.code, "NOT_OWNER");
    const store = new SqlWorkflowStore(storage);
    assert.is((await store.get({ type: "Ledger", id, execId: "e6" }))?.status, "running");

    runtime.resume([0]);
    await waitFor("the resumed run to reach the gate again", () => (gate(`${id}/e6/g`).entered > 1 ? true : undefined));
    gate(`${id}/e6/g`).open();
    const record = await waitFor("the resumed run to complete", async () => {
      const r = await store.get({ type: "Ledger", id, execId: "e6" });
      return r?.status === "completed" ? r : undefined;
    });
    assert.equal(record.result, ["a", "b", "g", "c"]);
    assert.is(record.attempts, 2);
    assert.equal(
      record.steps.map((s) => [s.name, s.runs]),
      [
        ["a", 1],
        ["b", 1],
        ["g", 1],
        ["c", 1],
      ],
    );
    // The gate's body was interrupted once and completed once; nothing journaled ran again.
    assert.equal([ran(id, "e6", "a"), ran(id, "e6", "b"), ran(id, "e6", "g"), ran(id, "e6", "c")], [1, 1, 2, 1]);
    assert.equal(await runtime.call(callOf(address(id), "items", {})), ["b"]);
  });

  it("a run superseded by a newer attempt (another runner) cannot write: it stops at its next journal write", async ({
    runtime,
    storage,
  }) => {
    const id = uniqueId("ledger");
    const args = { exec_id: "e7", ops: ["step:a", "gate:g", "step:c"] };
    const older = runtime.call(callOf(address(id), "script", args));
    await waitFor("the first run to reach the gate", () => (gate(`${id}/e7/g`).entered > 0 ? true : undefined));
    // A second runtime on the same storage believes it owns the entity too (a split brain).
    const other = runtimeOn(storage);
    try {
      const newer = other.call(callOf(address(id), "script", args));
      await waitFor("the second run to reach the gate", () => (gate(`${id}/e7/g`).entered > 1 ? true : undefined));
      gate(`${id}/e7/g`).open();
      assert.equal(await newer, ["a", "g", "c"]);
      const fenced = await failure(older);
      assert.is(fenced.code, "NOT_OWNER");
      assert.match(fenced.message, /superseded/);
      const record = await new SqlWorkflowStore(storage).get({ type: "Ledger", id, execId: "e7" });
      assert.is(record?.attempts, 2);
      assert.equal(
        record?.steps.map((s) => [s.name, s.runs]),
        [
          ["a", 1],
          ["g", 1],
          ["c", 1],
        ],
      );
      assert.is(ran(id, "e7", "a"), 1, "the newer attempt replayed a from the journal");
      assert.is(ran(id, "e7", "c"), 1, "the older attempt stopped before c");
    } finally {
      await other.stop();
    }
  });

  it("a run the fence stopped for a moment, with no caller left, is driven again once the fence is back", async ({ storage }) => {
    let fenced = false;
    const runtime = runtimeOn(storage, () => !fenced, 100);
    try {
      const id = uniqueId("ledger");
      const call = runtime.call(callOf(address(id), "script", { exec_id: "e9", ops: ["step:a", "gate:g", "act:b"] }));
      await waitFor("the gate to be reached", () => (gate(`${id}/e9/g`).entered > 0 ? true : undefined));
      // The lease's fence goes down (an etcd restart, say) while the run is at its gate: its activity cannot commit.
      fenced = true;
      gate(`${id}/e9/g`).open();
      assert.is((await failure(call)).code, "NOT_OWNER");
      const store = new SqlWorkflowStore(storage);
      assert.is((await store.get({ type: "Ledger", id, execId: "e9" }))?.status, "running");
      // The shard never moved, so no resume comes, and its caller is gone: the engine's sweep drives it on.
      fenced = false;
      const record = await waitFor("the abandoned run to be driven to completion", async () => {
        const r = await store.get({ type: "Ledger", id, execId: "e9" });
        return r?.status === "completed" ? r : undefined;
      });
      assert.equal(record.result, ["a", "g", "b"]);
      assert.is(record.attempts, 2);
      assert.equal([ran(id, "e9", "a"), ran(id, "e9", "g"), ran(id, "e9", "b")], [1, 1, 1]);
      assert.equal(await runtime.call(callOf(address(id), "items", {})), ["b"]);
    } finally {
      await runtime.stop();
    }
  });

  it("a workflow that reaches a journaled step at another position fails with a clear error", async ({ runtime }) => {
    const id = uniqueId("ledger");
    const error = await failure(runtime.call(callOf(address(id), "script", { exec_id: "e8", ops: ["step:a", "step:a"] })));
    assert.is(error.code, "WORKFLOW_FAILED");
    assert.match(error.message, /nondeterministic workflow: "a" was journaled as step 1 but is now reached as step 2/);
  });

  it.run();
}
