/**
 * Replies to forwarded calls (ids the router minted) live in the entity's state row, only until
 * the router says it has them: no reply row, and still applied once across a lost reply, a new
 * owner, eviction, a stale owner and a late copy of a settled call.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import type { Call, MintedId } from "../../src/cluster/call.ts";
import { ForwardedReplies } from "../../src/cluster/entity/forwarded-replies.ts";
import { EntityRuntime } from "../../src/cluster/entity/runtime.ts";
import { type ClusterError, defineEntity, silentLogger } from "../../src/cluster/index.ts";
import { limits } from "../../src/cluster/limits.ts";
import { MintedIds } from "../../src/cluster/minted-ids.ts";
import { SoleOwnership } from "../../src/cluster/ownership/ownership.ts";
import { Router } from "../../src/cluster/router.ts";
import type { GrpcTransport } from "../../src/cluster/transport/grpc.ts";
import { callOf } from "../support/call.ts";
import { MemoryStore } from "../support/memory-store.ts";
import { tallyAt, tallyRuntime } from "../support/tally.ts";

const minted = (seq: number, settledBelow = seq, router = "r1"): MintedId => ({ router, seq, settledBelow });
/** A forwarded call's attempt: `fresh` only for the first. */
const forwarded = (id: string, n: number, m: MintedId, fresh = true): Call =>
  callOf(tallyAt(id), "add", { n }, { requestId: `${m.router}.${m.seq}`, minted: m, fresh });
const read = (runtime: EntityRuntime, id: string) => runtime.call(callOf(tallyAt(id), "read", {}));
const stored = (store: MemoryStore, id: string) => ForwardedReplies.parse(store.rows.get(`Tally/${id}`)?.forwarded);

test("the router: an attempt says the lowest id it still waits for, per entity; settled ids leave no trace", () => {
  const ids = new MintedIds();
  const a = ids.mint("T/a");
  const b = ids.mint("T/a");
  const c = ids.mint("T/b");
  assert.equal(ids.id("T/a", b), { router: ids.router, seq: b, settledBelow: a });
  assert.equal(ids.id("T/b", c).settledBelow, c);
  ids.settle("T/a", a);
  assert.is(ids.id("T/a", b).settledBelow, b);
  assert.is(ids.requestId(b), `${ids.router}.${b}`);
  ids.settle("T/a", b);
  ids.settle("T/b", c);
  assert.is(ids.entities, 0);
  // Three at once, settled out of order: the lowest still waited for is what counts.
  const [x, y, z] = [ids.mint("T/c"), ids.mint("T/c"), ids.mint("T/c")];
  ids.settle("T/c", y);
  assert.is(ids.id("T/c", z).settledBelow, x);
  ids.settle("T/c", x);
  assert.is(ids.id("T/c", z).settledBelow, z);
  ids.settle("T/c", z);
  assert.is(ids.entities, 0);
  assert.is.not(new MintedIds().router, ids.router);
});

test("a router mints ids for the forwarded calls a retry could apply twice (mutations), not for queries", async () => {
  const sent: Call[] = [];
  const transport = { call: async (_peer: string, call: Call) => sent.push(call) } as unknown as GrpcTransport;
  const remote = Object.assign(new SoleOwnership("entry", 1), { isLocal: () => false, ownerOf: () => "owner" });
  const router = new Router(remote, tallyRuntime(new MemoryStore()), transport, silentLogger);
  await router.call(callOf(tallyAt("f"), "add", { n: 1 }));
  await router.call(callOf(tallyAt("f"), "read", {}));
  assert.ok(sent[0]?.minted && sent[0].requestId === `${router.minted.router}.${sent[0].minted.seq}` && sent[0].fresh);
  assert.equal([sent[1]?.requestId, sent[1]?.minted], [undefined, undefined]);
  assert.is(router.minted.entities, 0, "nothing left in flight");
});

test("the record: replies below what the router settled go, their late copies are stale, expired ones are left out", () => {
  const now = Date.now();
  const draft = ForwardedReplies.none.draft();
  draft.note(minted(5, 3), now + 1_000);
  draft.record(minted(5, 3), "5", now + 1_000);
  draft.note(minted(6, 5), now + 1_000);
  draft.record(minted(6, 5), "6", now + 1_000);
  assert.equal(draft.answer(minted(5)), { json: "5" });
  draft.note(minted(7, 6), now + 1_000);
  assert.is(draft.answer(minted(5)), "stale");
  assert.is(draft.answer(minted(4)), "stale");
  assert.is(draft.answer(minted(7)), undefined);
  assert.is(draft.answer(minted(0, 0, "another router")), undefined);
  const again = ForwardedReplies.parse(draft.serialize());
  assert.equal(again.answer(minted(6)), { json: "6" });
  assert.is(again.answer(minted(5)), "stale");
  // Past its calls' deadlines (and the grace), a router's record goes whole: nothing can arrive.
  assert.is(again.draft(now + 1_000).serialize(), "");
  assert.ok(ForwardedReplies.parse("").empty);
  assert.ok(ForwardedReplies.none.empty, "a draft never changes what it was drawn from");
  // What this version did not write is refused by name, not guessed at.
  for (const bad of ["{", "{}", '[["r", 1, 2]]', '[["r", 1, 2, [[1, 2, 3]]]]']) {
    assert.throws(() => ForwardedReplies.parse(bad), /unreadable forwarded_replies/);
  }
});

test("a forwarded call writes no reply row: its reply rides in the state row, and a retry after the reply was lost gets it from memory", async () => {
  const store = new MemoryStore();
  const runtime = tallyRuntime(store);
  assert.is(await runtime.call(forwarded("f", 7, minted(1))), 1);
  assert.is(store.replies.size, 0);
  const kept = stored(store, "f").answer(minted(1));
  assert.ok(kept !== undefined && kept !== "stale" && kept.json === "1");
  assert.is(await runtime.call(forwarded("f", 7, minted(1), false)), 1);
  assert.equal(await read(runtime, "f"), [7]);
  assert.equal({ commits: store.commits, finds: store.finds }, { commits: 1, finds: 0 });
});

test("once the router has its answer, the next call drops the reply: the state row keeps only what may still be asked for", async () => {
  const store = new MemoryStore();
  const runtime = tallyRuntime(store);
  for (let seq = 0; seq < 50; seq++) assert.is(await runtime.call(forwarded("busy", seq, minted(seq))), seq + 1);
  const row = stored(store, "busy");
  const last = row.answer(minted(49));
  assert.ok(last !== undefined && last !== "stale" && last.json === "50");
  assert.is(row.answer(minted(48)), "stale");
  assert.ok((store.rows.get("Tally/busy")?.forwarded ?? "").length < 200, "one reply kept, not fifty");
  assert.is(store.replies.size, 0);
});

test("a late copy of a call its router settled is refused, not applied, even after the reply was dropped", async () => {
  const store = new MemoryStore();
  const runtime = tallyRuntime(store);
  assert.is(await runtime.call(forwarded("late", 1, minted(1))), 1);
  assert.is(await runtime.call(forwarded("late", 2, minted(2, 2))), 2);
  const copy = await runtime.call(forwarded("late", 1, minted(1), false)).catch((e: unknown) => e);
  assert.is((copy as ClusterError).code, "TIMEOUT");
  assert.equal(await read(runtime, "late"), [1, 2]);
});

test("a retry at a new owner, after eviction, and at a stale owner gets the reply committed with the state", async () => {
  const store = new MemoryStore();
  assert.is(await tallyRuntime(store).call(forwarded("moved", 3, minted(1))), 1);
  const next = tallyRuntime(store);
  assert.is(await next.call(forwarded("moved", 3, minted(1), false)), 1);
  assert.equal(await read(next, "moved"), [3]);

  const evicting = tallyRuntime(store, 20);
  evicting.start();
  assert.is(await evicting.call(forwarded("evicted", 4, minted(1))), 1);
  while (evicting.activeCount > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.is(await evicting.call(forwarded("evicted", 4, minted(1), false)), 1);
  assert.equal(await read(evicting, "evicted"), [4]);
  await evicting.stop();

  const zombie = tallyRuntime(store);
  assert.is(await zombie.call(forwarded("z", 1, minted(1))), 1);
  const owner = tallyRuntime(store);
  assert.is(await owner.call(forwarded("z", 2, minted(2, 1))), 2);
  const refused = await zombie.call(forwarded("z", 2, minted(2, 1), false)).catch((e: unknown) => e);
  assert.is((refused as ClusterError).code, "CONFLICT");
  assert.is(await zombie.call(forwarded("z", 2, minted(2, 1), false)), 2);
  assert.equal(await owner.call(callOf(tallyAt("z"), "read", {})), [1, 2]);
  assert.is(store.replies.size, 0);
});

test("a retried minted id the index may have dropped is checked by the commit: a row a runner of before wrote answers it", async () => {
  const store = new MemoryStore();
  const runtime = tallyRuntime(store);
  // Keyed calls overflow the index: a miss is no longer proof.
  for (let n = 0; n < limits.replyIndexEntries + 2; n++) await runtime.call(callOf(tallyAt("old"), "add", { n }, { requestId: `k${n}` }));
  // An older runner applied a forwarded call and kept its reply as a row (its format of before).
  store.replies.set("Tally/old/r0.9", { requestId: "r0.9", json: "99", expiresAt: Date.now() + 60_000 });
  assert.is(await runtime.call(forwarded("old", 9, minted(9, 9, "r0"), false)), 99);
  assert.is(store.duplicates, 1);
  assert.is(((await read(runtime, "old")) as number[]).length, limits.replyIndexEntries + 2);
});

test("a retried reentrant call (it joined a running turn) applies once, in that turn and after it committed", async () => {
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const Loop = defineEntity(
    {
      type: "Loop",
      rpcs: {
        outer: { kind: "mutation" as const, args: z.object({}), output: z.null() },
        add: { kind: "mutation" as const, args: z.object({ n: z.number() }), output: z.number() },
        read: { kind: "query" as const, args: z.object({}), output: z.array(z.number()) },
      },
    },
    {
      state: z.object({ items: z.array(z.number()) }),
      initial: () => ({ items: [] }),
      handlers: {
        // Waits, as a turn waits for the call it made that comes back into this entity.
        outer: async () => {
          await held;
          return null;
        },
        add: (s, { n }) => s.items.push(n),
        read: (s) => [...s.items],
      },
    },
  );
  const store = new MemoryStore();
  const runtime = new EntityRuntime({ store, log: silentLogger, idleMs: 60_000 });
  runtime.register(Loop);
  const at = { type: "Loop", id: "l", shard: 0 };
  const outer = runtime.call(callOf(at, "outer", {}));
  await new Promise((resolve) => setImmediate(resolve));
  const back = (m: MintedId, fresh: boolean) =>
    callOf(at, "add", { n: 7 }, { requestId: `${m.router}.${m.seq}`, minted: m, fresh, callChain: ["Loop/l"] });
  assert.is(await runtime.call(back(minted(3), true)), 1);
  assert.is(await runtime.call(back(minted(3), false)), 1, "a retry within the turn gets the first reply");
  release();
  await outer;
  assert.is(await runtime.call({ ...back(minted(3), false), callChain: [] }), 1, "and after it committed");
  assert.equal(await runtime.call(callOf(at, "read", {})), [7]);
});

test.run();
