import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { EntityRuntime } from "../../src/cluster/entity/runtime.ts";
import { ClusterError, defineEntity, silentLogger } from "../../src/cluster/index.ts";
import { SoleOwnership } from "../../src/cluster/ownership/ownership.ts";
import { Router } from "../../src/cluster/router.ts";
import { callOf } from "../support/call.ts";
import { MemoryStore } from "../support/memory-store.ts";
import { waitFor } from "../support/wait.ts";

// A test-only entity whose `relay` turn waits until every relay of the test has started, then
// calls `touch` on its target: two relays A → B and B → A started together wait on each other.
const protocol = {
  type: "Link",
  rpcs: {
    relay: { kind: "mutation" as const, args: z.object({ to: z.string() }), output: z.number() },
    touch: { kind: "mutation" as const, args: z.object({}), output: z.number() },
    count: { kind: "query" as const, args: z.object({}), output: z.object({ relays: z.number(), touches: z.number() }) },
  },
};

let started = 0;
let allStarted: () => void = () => {};
let barrier = Promise.resolve();
function expectRelays(n: number): void {
  started = 0;
  barrier = new Promise((resolve) => {
    allStarted = () => {
      if (++started === n) resolve();
    };
  });
}

const Link = defineEntity(protocol, {
  state: z.object({ relays: z.number(), touches: z.number() }),
  initial: () => ({ relays: 0, touches: 0 }),
  handlers: {
    relay: async (s, { to }, ctx) => {
      allStarted();
      await barrier;
      await ctx.call(protocol, to, "touch", {});
      return ++s.relays;
    },
    touch: (s) => ++s.touches,
    count: (s) => ({ ...s }),
  },
});

function setup() {
  const store = new MemoryStore();
  const ownership = new SoleOwnership("test", 1);
  const address = (id: string) => ({ type: "Link", id, shard: 0 });
  let router: Router | undefined;
  const runtime = new EntityRuntime({
    store,
    log: silentLogger,
    idleMs: 60_000,
    caller: (_type, id, rpc, args, from) =>
      (router as Router).call({ ...callOf(address(id), rpc, args), callChain: from.callChain, deadline: from.deadline }),
  });
  runtime.register(Link);
  router = new Router(ownership, runtime, undefined, silentLogger);
  // `timeoutMs` from now, or `{ at }` an absolute deadline (chains given the very same one).
  const call = (id: string, rpc: string, args: unknown, timeout: number | { at: number }, requestId?: string) =>
    router.call({
      ...callOf(address(id), rpc, args),
      deadline: typeof timeout === "number" ? Date.now() + timeout : timeout.at,
      requestId,
    });
  const count = (id: string) => call(id, "count", {}, 1_000) as Promise<{ relays: number; touches: number }>;
  return { store, call, count, router: router as Router };
}

async function failure(work: Promise<unknown>): Promise<ClusterError> {
  try {
    await work;
  } catch (error) {
    assert.instance(error, ClusterError);
    return error as ClusterError;
  }
  throw new Error("expected the call to fail");
}

test("two chains A → B and B → A with one deadline both end with TIMEOUT at it, nothing applied", async () => {
  const { call, count } = setup();
  expectRelays(2);
  const t0 = Date.now();
  const at = { at: t0 + 300 };
  const [a, b] = await Promise.all([failure(call("a", "relay", { to: "b" }, at)), failure(call("b", "relay", { to: "a" }, at))]);
  const elapsed = Date.now() - t0;
  assert.is(a.code, "TIMEOUT");
  assert.is(b.code, "TIMEOUT");
  // Whichever notices first answers: the caller's own deadline, or the nested call's (naming the chain).
  const named = /Link\/[ab]\.(relay|touch) (did not answer within \d+ ms \(the call's deadline\)|was not applied: its deadline passed)/;
  for (const e of [a, b]) assert.ok(named.test(e.message), e.message);
  assert.ok(elapsed >= 290 && elapsed < 1_000, `answered after ${elapsed} ms`);
  // The relays failed (their nested calls timed out); the touches queued behind them had expired
  // by then and were dropped unapplied.
  for (const id of ["a", "b"]) assert.equal(await count(id), { relays: 0, touches: 0 }, id);
});

test("deadlines a millisecond apart: the first breaks the cycle, each turn applies at most once", async () => {
  const { call, count } = setup();
  expectRelays(2);
  const t0 = Date.now();
  const outcomes = await Promise.allSettled([
    call("a", "relay", { to: "b" }, { at: t0 + 300 }),
    call("b", "relay", { to: "a" }, { at: t0 + 301 }),
  ]);
  assert.is(outcomes[0].status, "rejected", "a's relay waited on b until its deadline");
  // b's touch of a may run once a's relay failed, and then b's relay may commit if the reply beats
  // b's deadline; a call that ran just as its caller gave up counts once (TIMEOUT means "unknown").
  const [ca, cb] = [await count("a"), await count("b")];
  assert.equal(ca.relays, 0);
  assert.equal(cb.touches, 0);
  assert.ok(ca.touches <= 1 && cb.relays <= ca.touches, JSON.stringify({ ca, cb }));
});

test("a nested call inherits the remaining deadline of the call that makes it", async () => {
  const { call, count } = setup();
  expectRelays(2);
  // b's relay holds b's mailbox until its 5 s deadline; a's relay (200 ms) must not wait that long.
  const slow = call("b", "relay", { to: "a" }, 5_000).catch((error: unknown) => error);
  const t0 = Date.now();
  const quick = await failure(call("a", "relay", { to: "b" }, 200));
  assert.ok(Date.now() - t0 < 1_000, "the short deadline bounds the nested call too");
  assert.is(quick.code, "TIMEOUT");
  // Then b's nested touch of a runs (a is free again), and b's relay completes within its own deadline.
  assert.is(await slow, 1, "b's relay succeeded once a was free");
  assert.equal(await count("a"), { relays: 0, touches: 1 });
  assert.equal(await count("b"), { relays: 1, touches: 0 });
});

test("a retry with the same request id after TIMEOUT applies once", async () => {
  const { call, count } = setup();
  expectRelays(2);
  // One deadline for both chains: with two, a millisecond apart, b's touch of a could run once a's
  // relay had failed (the case of the test above), and a would count a touch before the retry.
  const at = { at: Date.now() + 200 };
  await Promise.all([failure(call("a", "relay", { to: "b" }, at, "k-a")), failure(call("b", "relay", { to: "a" }, at, "k-b"))]);
  expectRelays(1);
  assert.is(await call("a", "relay", { to: "b" }, 1_000, "k-a"), 1);
  assert.is(await call("a", "relay", { to: "b" }, 1_000, "k-a"), 1, "the stored reply");
  assert.equal(await count("a"), { relays: 1, touches: 0 });
  assert.equal(await count("b"), { relays: 0, touches: 1 });
});

test("a call whose deadline has passed is refused before it is sent", async () => {
  const { call, count } = setup();
  const error = await failure(call("a", "touch", {}, 0));
  assert.is(error.code, "TIMEOUT");
  assert.equal(await count("a"), { relays: 0, touches: 0 });
});

test("a caller that gives up (its signal aborts) stops the retries at once, long before the deadline", async () => {
  const ownership = new SoleOwnership("test", 1);
  await ownership.stop(); // no runner serves the shard: every attempt is NOT_OWNER, retried
  const runtime = new EntityRuntime({ store: new MemoryStore(), log: silentLogger, idleMs: 60_000, caller: () => Promise.reject() });
  runtime.register(Link);
  const router = new Router(ownership, runtime, undefined, silentLogger);
  const caller = new AbortController();
  const started = Date.now();
  const call = router.call({
    ...callOf({ type: "Link", id: "a", shard: 0 }, "touch", {}),
    deadline: started + 30_000,
    signal: caller.signal,
  });
  setTimeout(() => caller.abort(), 100);
  const error = await failure(call);
  assert.is(error.code, "UNAVAILABLE");
  assert.match(error.message, /caller gave up/);
  assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
});

test("an attempt in flight is abandoned once the caller's signal aborts, and a call whose signal has aborted is never sent", async () => {
  const { router, count } = setup();
  const caller = new AbortController();
  expectRelays(2); // one relay only: it waits at the barrier, its turn in flight
  const waiting = router.call({
    ...callOf({ type: "Link", id: "a", shard: 0 }, "relay", { to: "b" }),
    deadline: Date.now() + 30_000,
    signal: caller.signal,
  });
  await waitFor("the relay to start", () => (started === 1 ? true : undefined));
  const abortedAt = Date.now();
  caller.abort();
  const error = await failure(waiting);
  assert.is(error.code, "UNAVAILABLE");
  assert.match(error.message, /caller gave up/);
  assert.ok(Date.now() - abortedAt < 1_000, `abandoned after ${Date.now() - abortedAt} ms`);
  const late = await failure(
    router.call({ ...callOf({ type: "Link", id: "c", shard: 0 }, "touch", {}), deadline: Date.now() + 30_000, signal: caller.signal }),
  );
  assert.match(late.message, /caller gave up/);
  assert.equal(await count("c"), { relays: 0, touches: 0 }, "the aborted call was not applied");
});

test.run();
