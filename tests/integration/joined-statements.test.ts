/**
 * The set forms of the turns' statements (storage/joined-statements.ts) against real storage: a
 * commit of several wake-ups, suspends, journal entries, signal reads and timer writes sends them
 * as one statement per kind, with the effect, and the rows for each, of running them one by one.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Storage } from "../../src/cluster/index.ts";
import { joinStatements } from "../../src/cluster/storage/joined-statements.ts";
import type { Statement } from "../../src/cluster/storage/statement.ts";
import { sqlTimerWrites } from "../../src/cluster/storage/timers/sql.ts";
import { SqlWorkflowStore } from "../../src/cluster/storage/workflows/sql.ts";
import type { ExecutionKey, WokenExecution } from "../../src/cluster/storage/workflows/store.ts";
import { STORAGE_BACKENDS } from "../support/storage-backends.ts";
import { uniqueId } from "../support/unique-id.ts";

for (const backend of STORAGE_BACKENDS) {
  const it = suite<{ storage: Storage; dispose: () => void }>(`Joined statements [${backend.name}]`);
  it.before(async (ctx) => {
    Object.assign(ctx, await backend.open());
  });
  it.after(async ({ storage, dispose }) => {
    await storage.statement("delete from entity_timers where entity_type = 'Joined'")([]);
    await storage.close();
    dispose();
  });

  /** Claimed executions `names` of a new entity (attempt 1, running). */
  const started = async (storage: Storage, ...names: string[]) => {
    const store = new SqlWorkflowStore(storage);
    const id = uniqueId("joined");
    const keys = names.map((execId): ExecutionKey => ({ type: "Joined", id, execId }));
    for (const key of keys) await store.claim(key, "flow", "{}");
    return { store, keys };
  };
  /** Runs `batch` as a commit's writes, after checking that it joins into `statements` statements. */
  const commit = async (storage: Storage, statements: number, batch: Statement[]) => {
    assert.is(joinStatements(batch).length, statements, "joined");
    await storage.pipeline(batch);
  };
  const statusOf = async (store: SqlWorkflowStore, key: ExecutionKey) => (await store.get(key))?.status;

  it("suspends and wake-ups of several executions: each its own, with its own journal", async ({ storage }) => {
    const { store, keys } = await started(storage, "a", "b", "c");
    const [a, b, c] = keys as [ExecutionKey, ExecutionKey, ExecutionKey];
    await store.recordStep(a, 1, "first", 0, '"done"');
    await commit(storage, 1, [store.suspend(a, 1, undefined), store.suspend(b, 1, undefined), store.suspend(c, 9, undefined)]);
    assert.equal([await statusOf(store, a), await statusOf(store, b), await statusOf(store, c)], ["suspended", "suspended", "running"]);

    const woken = new Map<string, WokenExecution | undefined>();
    const journaled = new Map<string, boolean>();
    const entry = { name: "nap", seq: 1, result: "null", runs: 1 };
    const wake = (k: ExecutionKey) => [
      store.wake(k, (w) => woken.set(k.execId, w)),
      store.recordUnlessSignalled(k, entry, (done) => journaled.set(k.execId, done)),
    ];
    await commit(storage, 2, [...wake(a), ...wake(b)]);
    assert.equal(woken.get("a")?.claim.attempt, 2);
    assert.equal(woken.get("a")?.claim.journal, [{ name: "first", seq: 0, result: '"done"', runs: 1 }]);
    assert.equal(woken.get("b")?.claim.journal, []);
    assert.equal(
      [...journaled],
      [
        ["a", true],
        ["b", true],
      ],
    );
    assert.equal(
      (await store.journal(b)).map((e) => e.name),
      ["nap"],
    );

    // c is running, not suspended: nothing to wake.
    await commit(storage, 1, [store.wake(c, (w) => woken.set("c", w)), store.wake(a, (w) => woken.set("a2", w))]);
    assert.is(woken.get("c"), undefined);
    assert.is(woken.get("a2"), undefined, "a runs already");
  });

  it("a statement on an execution stays behind the earlier ones on it: wake, suspend, wake again", async ({ storage }) => {
    const { store, keys } = await started(storage, "f", "g");
    const [f, g] = keys as [ExecutionKey, ExecutionKey];
    await commit(storage, 1, [store.suspend(f, 1, undefined), store.suspend(g, 1, undefined)]);
    const attempts: number[] = [];
    const woke = (w: WokenExecution | undefined) => attempts.push(w?.claim.attempt ?? 0);
    await commit(storage, 3, [store.wake(f, woke), store.suspend(f, 2, undefined), store.wake(f, woke), store.wake(g, woke)]);
    assert.equal(attempts, [2, 3, 2]);
    assert.is(await statusOf(store, f), "running");
  });

  it("signal waits: a delivered signal keeps its execution running and is read back; the others suspend", async ({ storage }) => {
    const { store, keys } = await started(storage, "d", "e");
    const [d, e] = keys as [ExecutionKey, ExecutionKey];
    await store.deliver(d, "go", '{"ok":true}');
    const read = new Map<string, string | undefined>();
    const wait = (k: ExecutionKey) => [store.suspend(k, 1, "go"), store.readSignal(k, "go", (p) => read.set(k.execId, p))];
    await commit(storage, 2, [...wait(d), ...wait(e)]);
    assert.equal(
      [...read],
      [
        ["d", '{"ok":true}'],
        ["e", undefined],
      ],
    );
    assert.equal([await statusOf(store, d), await statusOf(store, e)], ["running", "suspended"]);
  });

  it("activity entries and timer writes of one commit", async ({ storage }) => {
    const { store, keys } = await started(storage, "h", "i");
    const [h, i] = keys as [ExecutionKey, ExecutionKey];
    const entry = (name: string) => ({ name, seq: 0, result: `"${name}"`, runs: 1 });
    const now = new Date();
    const later = new Date(now.getTime() + 60_000);
    const timer = (timerId: string) => ({ type: "Joined", id: h.id, timerId });
    const writes = [sqlTimerWrites.upsert(timer("t1"), now, later), sqlTimerWrites.upsert(timer("t2"), now, later)] as Statement[];
    await commit(storage, 2, [store.recordActivity(h, entry("x"), 1), store.recordActivity(i, entry("y"), 1), ...writes]);
    assert.equal(
      (await store.journal(h)).map((e) => e.result),
      ['"x"'],
    );
    assert.equal(
      (await store.journal(i)).map((e) => e.result),
      ['"y"'],
    );
    const timers = storage.statement<{ timer_id: string; fire_at: Date | string }>(
      "select timer_id, fire_at from entity_timers where entity_type = 'Joined' and entity_id = $1 order by timer_id",
    );
    const rows = await timers([h.id]);
    assert.equal(
      rows.map((r) => [r.timer_id, new Date(r.fire_at).getTime()]),
      [
        ["t1", later.getTime()],
        ["t2", later.getTime()],
      ],
    );
    // Removed, then one scheduled again, in one commit: the upsert stays behind its remove.
    const again = [sqlTimerWrites.remove(timer("t1")), sqlTimerWrites.remove(timer("t2")), sqlTimerWrites.upsert(timer("t1"), now, now)];
    await commit(storage, 2, again as Statement[]);
    assert.equal(
      (await timers([h.id])).map((r) => r.timer_id),
      ["t1"],
    );
  });

  it.run();
}
