/**
 * The reply index: a retried call is answered from memory (or, beyond the index, by the commit's
 * check and storage) and never applied twice, across a lost reply, a new owner, eviction and a
 * stale owner.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ReplyIndex, replyExpiry } from "../../src/cluster/entity/reply-index.ts";
import type { EntityRuntime } from "../../src/cluster/entity/runtime.ts";
import type { ClusterError } from "../../src/cluster/index.ts";
import { limits } from "../../src/cluster/limits.ts";
import { callOf } from "../support/call.ts";
import { MemoryStore } from "../support/memory-store.ts";
import { tallyAt, tallyRuntime } from "../support/tally.ts";

const add = (runtime: EntityRuntime, id: string, n: number, requestId?: string, extra = {}) =>
  runtime.call(callOf(tallyAt(id), "add", { n }, { requestId, ...extra }));
const reply = (requestId: string, json = "1", expiresAt = Date.now() + 60_000) => ({ requestId, json, expiresAt });

test("index: knows what it holds; complete until it drops a live reply for room (count or bytes)", () => {
  const index = new ReplyIndex([reply("a"), reply("b")], true, 3, 10_000);
  assert.is(index.get("a"), "1");
  assert.is(index.mayMiss("zzz"), false);
  index.add([reply("c"), reply("d")]);
  assert.is(index.size, 3);
  assert.is(index.get("a"), undefined);
  assert.is(index.mayMiss("a"), true);
  assert.is(index.mayMiss("d"), false);
  const small = new ReplyIndex([], true, 100, 200);
  small.add([reply("x", "y".repeat(40)), reply("z", "y".repeat(40))]);
  assert.is(small.get("x"), undefined);
  assert.is(small.get("z"), "y".repeat(40));
  assert.is(small.mayMiss("x"), true);
  // Loaded with more stored than fit: nothing can be ruled out.
  assert.is(new ReplyIndex([reply("a")], false).mayMiss("b"), true);
});

test("index: an expired reply leaves without making the index incomplete", () => {
  const index = new ReplyIndex([reply("old", "1", Date.now() - 1)], true, 1, 10_000);
  index.add([reply("new")]);
  assert.is(index.get("old"), undefined);
  assert.is(index.mayMiss("old"), false);
});

test("minted ids expire shortly after their deadline; client keys after 24 h", () => {
  const deadline = Date.now() + 30_000;
  const call = callOf(tallyAt("x"), "add", { n: 1 }, { requestId: "m", deadline, minted: { router: "r", seq: 0, settledBelow: 0 } });
  assert.is(replyExpiry(call), deadline + limits.mintedReplyGraceMs);
  const client = replyExpiry({ ...call, minted: undefined });
  assert.ok(Math.abs(client - (Date.now() + limits.retentionMs)) < 1_000);
});

test("a retry after the reply was lost is answered from the index: no read, applied once", async () => {
  const store = new MemoryStore();
  const runtime = tallyRuntime(store);
  assert.is(await add(runtime, "lost", 7, "r1"), 1);
  assert.is(await add(runtime, "lost", 7, "r1"), 1);
  assert.is(await add(runtime, "lost", 8, "r2"), 2);
  assert.equal(await runtime.call(callOf(tallyAt("lost"), "read", {})), [7, 8]);
  assert.equal(
    { loads: store.loads, finds: store.finds, checked: store.checked, commits: store.commits },
    { loads: 1, finds: 0, checked: 0, commits: 2 },
  );
});

test("a retry beyond the index is answered from storage: the commit's check refuses the second application", async () => {
  const store = new MemoryStore();
  const runtime = tallyRuntime(store);
  const many = limits.replyIndexEntries + 6;
  for (let n = 0; n < many; n++) await add(runtime, "deep", n, `k${n}`);
  // k0 was dropped from the index for room: its retry is applied, refused by the commit, read back.
  assert.is(await add(runtime, "deep", 0, "k0"), 1);
  assert.is(store.duplicates, 1);
  assert.is(store.finds, 1);
  // A failed retry (the handler refuses what it already did) gets the stored reply too.
  await runtime.call(callOf(tallyAt("deep"), "claim", { n: 1000 }, { requestId: "c" }));
  for (let n = 0; n < many; n++) await add(runtime, "deep", -n, `more${n}`);
  assert.is(await runtime.call(callOf(tallyAt("deep"), "claim", { n: 1000 }, { requestId: "c" })), many + 1);
  const items = (await runtime.call(callOf(tallyAt("deep"), "read", {}))) as number[];
  assert.is(items.length, 2 * many + 1);
  // A freshly minted id cannot have been applied: no check.
  const checked = store.checked;
  await add(runtime, "deep", 1, "minted-now", { fresh: true, minted: { router: "r", seq: 0, settledBelow: 0 } });
  assert.is(store.checked, checked);
});

test("a retry at a new owner (another runtime on the same storage) is answered from the replies loaded with the state", async () => {
  const store = new MemoryStore();
  assert.is(await add(tallyRuntime(store), "moved", 3, "h1"), 1);
  const next = tallyRuntime(store);
  assert.is(await add(next, "moved", 3, "h1"), 1);
  assert.equal(await next.call(callOf(tallyAt("moved"), "read", {})), [3]);
  assert.is(store.finds, 0);
});

test("a retry after eviction is answered from the replies reloaded with the state", async () => {
  const store = new MemoryStore();
  const runtime = tallyRuntime(store, 20);
  runtime.start();
  assert.is(await add(runtime, "evicted", 4, "e1"), 1);
  while (runtime.activeCount > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.is(await add(runtime, "evicted", 4, "e1"), 1);
  assert.equal(await runtime.call(callOf(tallyAt("evicted"), "read", {})), [4]);
  assert.equal({ loads: store.loads, finds: store.finds }, { loads: 2, finds: 0 });
  await runtime.stop();
});

test("a stale owner (zombie) whose index misses a reply the new owner committed: its commit fails, it reloads, the retry gets that reply", async () => {
  const store = new MemoryStore();
  const zombie = tallyRuntime(store);
  assert.is(await add(zombie, "z", 1, "before"), 1);
  const owner = tallyRuntime(store);
  assert.is(await add(owner, "z", 2, "during"), 2);
  // The zombie's copy is stale: its turn is refused by the compare-and-set, nothing is written.
  const refused = await add(zombie, "z", 2, "during").catch((e: unknown) => e);
  assert.is((refused as ClusterError).code, "CONFLICT");
  // Its retry (the router retries CONFLICT) finds the new owner's reply in the reloaded index.
  assert.is(await add(zombie, "z", 2, "during"), 2);
  assert.equal(await owner.call(callOf(tallyAt("z"), "read", {})), [1, 2]);
  assert.equal(JSON.parse(store.rows.get("Tally/z")?.json ?? "").items, [1, 2]);
});

test.run();
