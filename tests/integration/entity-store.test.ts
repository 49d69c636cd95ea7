/**
 * The entity store against real storage (PGlite, and Postgres when POSTGRES_URL is set): commits
 * made at the same time share one statement, and each keeps its own compare-and-set.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Storage } from "../../src/cluster/storage/database.ts";
import { EntityStore } from "../../src/cluster/storage/entity-store.ts";
import { uniqueId } from "../support/backends.ts";
import { STORAGE_BACKENDS } from "../support/storage-backends.ts";

for (const backend of STORAGE_BACKENDS) {
  const it = suite<{ storage: Storage; store: EntityStore; dispose: () => void }>(`Entity store [${backend.name}]`);
  it.before(async (ctx) => {
    const { storage, dispose } = await backend.open();
    ctx.storage = storage;
    ctx.dispose = dispose;
    ctx.store = new EntityStore(storage);
  });
  it.after(async (ctx) => {
    await ctx.storage.close();
    ctx.dispose();
  });

  it("300 concurrent first commits all land, each as version 1", async ({ store }) => {
    const ids = Array.from({ length: 300 }, () => uniqueId("many"));
    const versions = await Promise.all(ids.map((id, n) => store.commit("Counter", id, 0, JSON.stringify({ value: n }), [])));
    assert.equal(
      versions,
      ids.map(() => 1),
    );
    const loaded = await Promise.all(ids.map((id) => store.load("Counter", id)));
    assert.equal(
      loaded.map((s) => s && { json: s.json, version: Number(s.version) }),
      ids.map((_, n) => ({ json: JSON.stringify({ value: n }), version: 1 })),
    );
  });

  it("in one batch, a stale commit fails alone and its replies are not stored", async ({ store }) => {
    const [fresh, stale] = [uniqueId("fresh"), uniqueId("stale")];
    await Promise.all([store.commit("Counter", fresh, 0, "1", []), store.commit("Counter", stale, 0, "1", [])]);
    const [good, bad] = await Promise.all([
      store.commit("Counter", fresh, 1, "2", [{ requestId: "r-good", json: "2" }]),
      store.commit("Counter", stale, 0, "99", [{ requestId: "r-bad", json: "99" }]),
    ]);
    assert.is(good, 2);
    assert.is(bad, undefined);
    assert.equal([...(await store.findReplies("Counter", fresh, ["r-good"]))], [["r-good", "2"]]);
    assert.is((await store.findReplies("Counter", stale, ["r-bad"])).size, 0);
    assert.is((await store.load("Counter", stale))?.json, "1");
  });

  it("the same entity twice at once: exactly one compare-and-set wins", async ({ store }) => {
    const id = uniqueId("twice");
    const results = await Promise.all([store.commit("Counter", id, 0, "a", []), store.commit("Counter", id, 0, "b", [])]);
    assert.equal(
      results.filter((v) => v === 1),
      [1],
    );
    assert.ok(results.includes(undefined));
    const winner = results[0] === 1 ? "a" : "b";
    assert.is((await store.load("Counter", id))?.json, winner);
  });

  it("state text round-trips byte for byte: 1 MiB, quotes, backslashes, astral characters", async ({ store }) => {
    const id = uniqueId("big");
    const json = JSON.stringify({ value: `"\\\n😀é${"x".repeat(1 << 20)}` });
    assert.is(await store.commit("KVStore", id, 0, json, [{ requestId: "big", json }]), 1);
    assert.is((await store.load("KVStore", id))?.json, json);
    assert.is((await store.findReplies("KVStore", id, ["big"])).get("big"), json);
  });

  it.run();
}
