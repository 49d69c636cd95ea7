import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { EntityRuntime } from "../../src/cluster/entity/runtime.ts";
import {
  Auditable,
  badRequest,
  ClusterError,
  defineEntity,
  type EntityAddress,
  type PendingTimer,
  silentLogger,
  type TimerEvent,
} from "../../src/cluster/index.ts";
import type { FireOutcome, TimerSink } from "../../src/cluster/timers/timer.ts";
import type { AuditEntry } from "../../src/cluster/traits/auditable.ts";
import { callOf } from "../support/call.ts";
import { MemoryStore } from "../support/memory-store.ts";
import { untilPast } from "../support/wait.ts";

const none = z.object({});
const timerArgs = z.object({ timer_id: z.string(), delay_ms: z.number() });
const protocol = {
  type: "Alarm",
  rpcs: {
    set: { kind: "mutation" as const, args: timerArgs, output: z.null() },
    setThenFail: { kind: "mutation" as const, args: timerArgs, output: z.null() },
    cancel: { kind: "mutation" as const, args: z.object({ timer_id: z.string() }), output: z.boolean() },
    pending: { kind: "query" as const, args: none, output: z.array(z.unknown()) },
    setInQuery: { kind: "query" as const, args: none, output: z.null() },
    fires: { kind: "query" as const, args: none, output: z.array(z.unknown()) },
    auditLog: { kind: "query" as const, args: none, output: z.array(z.unknown()) },
  },
};

const Alarm = defineEntity(protocol, {
  state: z.object({ fires: z.array(z.custom<TimerEvent>()) }),
  initial: () => ({ fires: [] }),
  traits: [Auditable],
  handlers: {
    set: (_s, { timer_id, delay_ms }, ctx) => {
      ctx.timers.schedule(timer_id, delay_ms);
      return null;
    },
    setThenFail: (_s, { timer_id, delay_ms }, ctx) => {
      ctx.timers.schedule(timer_id, delay_ms);
      throw badRequest("changed my mind");
    },
    cancel: (_s, { timer_id }, ctx) => ctx.timers.cancel(timer_id),
    pending: (_s, _a, ctx) => ctx.timers.pending(),
    setInQuery: (_s, _a, ctx) => {
      ctx.timers.schedule("q", 1);
      return null;
    },
    fires: (s) => s.fires,
  },
  onTimer: (s, event) => {
    s.fires.push(event);
  },
});

/** Records what the schedule is told. */
class SinkSpy implements TimerSink {
  readonly told: string[] = [];
  scheduled(address: EntityAddress, timerId: string, fireAt: number): void {
    this.told.push(`scheduled ${address.id}/${timerId} @${fireAt}`);
  }
  cancelled(address: EntityAddress, timerId: string): void {
    this.told.push(`cancelled ${address.id}/${timerId}`);
  }
}

function setup() {
  const store = new MemoryStore();
  const sink = new SinkSpy();
  const runtime = new EntityRuntime({ store, log: silentLogger, idleMs: 60_000, timerSink: sink });
  runtime.register(Alarm);
  const alarm = (id: string) => {
    const at = { type: "Alarm", id, shard: 0 };
    return {
      call: (rpc: string, args: object = {}) => runtime.call(callOf(at, rpc, args)),
      fire: (timerId: string) => runtime.fireTimer(at, timerId),
      pending: async () => (await runtime.call(callOf(at, "pending", {}))) as PendingTimer[],
      fires: async () => (await runtime.call(callOf(at, "fires", {}))) as TimerEvent[],
    };
  };
  return { store, sink, runtime, alarm };
}

test("schedule: pending at once, the row written in the turn's commit, the schedule told after it", async () => {
  const { store, sink, alarm } = setup();
  const a = alarm("a");
  const before = Date.now();
  await a.call("set", { timer_id: "t1", delay_ms: 5_000 });
  const [pending] = await a.pending();
  assert.is(pending?.timer_id, "t1");
  const fireAt = Date.parse(pending?.fire_at ?? "");
  assert.is(fireAt - Date.parse(pending?.scheduled_at ?? ""), 5_000);
  assert.ok(fireAt >= before + 5_000);
  assert.is(store.writes, 1);
  assert.equal(sink.told, [`scheduled a/t1 @${fireAt}`]);
});

test("a fire applies once: not before the due time, then once, then never again", async () => {
  const { alarm } = setup();
  const a = alarm("b");
  await a.call("set", { timer_id: "t", delay_ms: 30 });
  const fireAt = Date.parse((await a.pending())[0]?.fire_at ?? "");
  assert.equal(await a.fire("t"), { kind: "early", fireAt } satisfies FireOutcome);
  assert.equal(await a.fires(), []);
  await untilPast(fireAt);
  const outcomes = await Promise.all([a.fire("t"), a.fire("t"), a.fire("t")]);
  assert.equal(
    outcomes.map((o) => o.kind),
    ["fired", "gone", "gone"],
  );
  assert.is(await a.fire("t").then((o) => o.kind), "gone");
  const fires = await a.fires();
  assert.is(fires.length, 1);
  assert.ok(Date.parse(fires[0]?.fired_at ?? "") >= fireAt, "fired_at ≥ fire_at");
  assert.equal(await a.pending(), []);
});

test("cancel: true once for a pending timer, false for an unknown or fired one; a cancelled timer never fires", async () => {
  const { sink, alarm } = setup();
  const a = alarm("c");
  await a.call("set", { timer_id: "t", delay_ms: 0 });
  assert.is(await a.call("cancel", { timer_id: "t" }), true);
  assert.is(await a.call("cancel", { timer_id: "t" }), false);
  assert.is(await a.call("cancel", { timer_id: "never" }), false);
  assert.is((await a.fire("t")).kind, "gone");
  await a.call("set", { timer_id: "u", delay_ms: 0 });
  await a.fire("u");
  assert.is(await a.call("cancel", { timer_id: "u" }), false);
  assert.equal(
    (await a.fires()).map((f) => f.timer_id),
    ["u"],
  );
  assert.ok(sink.told.includes("cancelled c/t"));
});

test("cancel and fire in one batch: whichever comes first wins, the other sees it", async () => {
  const { alarm } = setup();
  const a = alarm("d");
  await a.call("set", { timer_id: "x", delay_ms: 0 });
  await a.call("set", { timer_id: "y", delay_ms: 0 });
  const [cancelled, fired] = await Promise.all([a.call("cancel", { timer_id: "x" }), a.fire("x")]);
  assert.is(cancelled, true);
  assert.is(fired.kind, "gone");
  const [firedY, cancelledY] = await Promise.all([a.fire("y"), a.call("cancel", { timer_id: "y" })]);
  assert.is(firedY.kind, "fired");
  assert.is(cancelledY, false);
  assert.equal(
    (await a.fires()).map((f) => f.timer_id),
    ["y"],
  );
});

test("scheduling a pending id again replaces it: the old due time is forgotten", async () => {
  const { alarm } = setup();
  const a = alarm("e");
  await a.call("set", { timer_id: "t", delay_ms: 0 });
  await a.call("set", { timer_id: "t", delay_ms: 60_000 });
  const pending = await a.pending();
  assert.is(pending.length, 1);
  const outcome = await a.fire("t");
  assert.is(outcome.kind, "early");
  assert.is((outcome as { fireAt: number }).fireAt, Date.parse(pending[0]?.fire_at ?? ""));
});

test("a mutation that schedules and then throws leaves no timer, no row and tells the schedule nothing", async () => {
  const { store, sink, alarm } = setup();
  const a = alarm("f");
  const failed = await a.call("setThenFail", { timer_id: "t", delay_ms: 0 }).catch((e: unknown) => e);
  assert.instance(failed, ClusterError);
  assert.equal(await a.pending(), []);
  assert.is(store.writes, 0);
  assert.equal(sink.told, []);
});

test("queries cannot change timers; entities without onTimer have none", async () => {
  const { alarm } = setup();
  const failed = await alarm("g")
    .call("setInQuery")
    .catch((e: unknown) => e);
  assert.is((failed as ClusterError).code, "INTERNAL");
  assert.match((failed as Error).message, /only be changed by mutations/);

  const Plain = defineEntity(
    { type: "Plain", rpcs: { set: protocol.rpcs.set } },
    {
      state: z.object({}),
      initial: () => ({}),
      handlers: {
        set: (_s, { timer_id }, ctx) => {
          ctx.timers.schedule(timer_id, 1);
          return null;
        },
      },
    },
  );
  const runtime = new EntityRuntime({ store: new MemoryStore(), log: silentLogger, idleMs: 60_000 });
  runtime.register(Plain);
  const at = { type: "Plain", id: "p", shard: 0 };
  const refused = await runtime.call(callOf(at, "set", { timer_id: "t", delay_ms: 1 })).catch((e: unknown) => e);
  assert.match((refused as Error).message, /does not handle timers/);
  const notFired = await runtime.fireTimer(at, "t").catch((e: unknown) => e);
  assert.is((notFired as ClusterError).code, "NOT_IMPLEMENTED");
});

test("a fire is a mutation like any other: traits' hooks see it (Auditable logs action `timer`)", async () => {
  const { alarm } = setup();
  const a = alarm("h");
  await a.call("set", { timer_id: "t", delay_ms: 0 });
  await a.fire("t");
  const log = (await a.call("auditLog")) as AuditEntry[];
  assert.equal(
    log.map((e) => [e.action, e.details]),
    [
      ["set", '{"timer_id":"t","delay_ms":0}'],
      ["timer", '{"timer_id":"t"}'],
    ],
  );
});

test("pending timers survive reload from storage (they are part of the entity's state)", async () => {
  const { store, alarm } = setup();
  await alarm("i").call("set", { timer_id: "__proto__", delay_ms: 0 });
  const other = new EntityRuntime({ store, log: silentLogger, idleMs: 60_000 });
  other.register(Alarm);
  const at = { type: "Alarm", id: "i", shard: 0 };
  assert.equal(
    ((await other.call(callOf(at, "pending", {}))) as PendingTimer[]).map((p) => p.timer_id),
    ["__proto__"],
  );
  assert.is((await other.fireTimer(at, "__proto__")).kind, "fired");
  assert.is((await other.fireTimer(at, "__proto__")).kind, "gone");
});

test.run();
