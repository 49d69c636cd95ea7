/**
 * The timer rows (storage/timers/sql.ts) against real storage: a fire deletes its pending row, and
 * a row that a runner of before marked `fired` (as it may during a rolling upgrade) is neither
 * loaded nor listed as pending, is rescheduled like any other, and is pruned after a day.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { TxWrite } from "../../src/cluster/entity/context.ts";
import type { Storage } from "../../src/cluster/index.ts";
import { isStatement } from "../../src/cluster/storage/statement.ts";
import { sqlTimerWrites as rows, SqlTimerStore } from "../../src/cluster/storage/timers/sql.ts";
import { STORAGE_BACKENDS } from "../support/storage-backends.ts";
import { uniqueId } from "../support/unique-id.ts";

const SHARDS = 4;

for (const backend of STORAGE_BACKENDS) {
  const it = suite<{ storage: Storage; dispose: () => void }>(`Timer rows [${backend.name}]`);
  it.before(async (ctx) => {
    Object.assign(ctx, await backend.open());
  });
  it.after(async ({ storage, dispose }) => {
    // Its pending rows would otherwise fall to the runners that later stages start on this
    // Postgres, which retry a fire no entity type handles for ever.
    await storage.statement("delete from entity_timers where entity_type = 'Rows'")([]);
    await storage.close();
    dispose();
  });

  const key = (id: string, timerId: string) => ({ type: "Rows", id, timerId });
  const timersOf = async (storage: Storage, id: string) =>
    (await new SqlTimerStore(storage.db, SHARDS).listPending({ type: "Rows", id, limit: 10 })).map((t) => t.timerId);
  /** The entity's rows as `timer_id:status`, whatever their status. */
  const rowsOf = async (storage: Storage, id: string) =>
    (
      await storage.statement<{ timer_id: string; status: string }>(
        "select timer_id, status from entity_timers where entity_type = 'Rows' and entity_id = $1 order by timer_id",
      )([id])
    ).map((r) => `${r.timer_id}:${r.status}`);
  /** Runs timer writes as a turn's commit would (they are all fixed statements). */
  const write = (storage: Storage, ...writes: TxWrite[]) => {
    const statements = writes.filter(isStatement);
    assert.is(statements.length, writes.length);
    return storage.pipeline(statements);
  };

  it("a fire (or a cancel) deletes the timer's pending row", async ({ storage }) => {
    const id = uniqueId("rows");
    const now = new Date();
    await write(storage, rows.upsert(key(id, "a"), now, now), rows.upsert(key(id, "b"), now, new Date(now.getTime() + 60_000)));
    assert.equal(await timersOf(storage, id), ["a", "b"]);
    await write(storage, rows.remove(key(id, "a")));
    assert.equal(await rowsOf(storage, id), ["b:pending"]);
  });

  it("a row an older runner marked fired is not pending, is scheduled anew like any, and is pruned after a day", async ({ storage }) => {
    const id = uniqueId("rows");
    const now = new Date();
    await write(storage, rows.upsert(key(id, "old"), now, now), rows.upsert(key(id, "again"), now, now));
    const dayAgo = new Date(now.getTime() - 25 * 3600 * 1000).toISOString();
    // What a runner of before did on a fire.
    await storage.statement(
      "update entity_timers set status = 'fired', fired_at = $2::timestamptz where entity_type = 'Rows' and entity_id = $1",
    )([id, dayAgo]);
    const store = new SqlTimerStore(storage.db, SHARDS);
    assert.equal(await timersOf(storage, id), []);
    const loaded = await store.loadPending([0, 1, 2, 3]);
    assert.not.ok(
      loaded.some((t) => t.entityId === id),
      "not loaded as pending",
    );
    await write(storage, rows.remove(key(id, "old")));
    assert.equal(await rowsOf(storage, id), ["again:fired", "old:fired"], "a fire's delete leaves it alone (it is not pending)");
    await write(storage, rows.upsert(key(id, "again"), now, now));
    assert.equal(await timersOf(storage, id), ["again"], "scheduled anew");
    await store.pruneFired(new Date(now.getTime() - 24 * 3600 * 1000));
    assert.equal(await rowsOf(storage, id), ["again:pending"]);
  });

  it.run();
}
