import { test } from "uvu";
import * as assert from "uvu/assert";
import type { EntityContext } from "../../src/cluster/entity/context.ts";
import { silentLogger } from "../../src/cluster/index.ts";
import { noMetrics } from "../../src/cluster/metrics/metrics.ts";
import { SoleOwnership } from "../../src/cluster/ownership/ownership.ts";
import { SingletonManager } from "../../src/cluster/singleton/manager.ts";
import type { SingletonRunStore } from "../../src/cluster/storage/singletons/store.ts";

const runs = (): SingletonRunStore & { stops: number } => {
  let next = 0;
  return {
    stops: 0,
    started: async () => ++next,
    seen: async () => {},
    async stopped() {
      this.stops++;
    },
  };
};

test("a hand-over does not wait for a call the singleton has in flight: the run stops waiting for it at once", async () => {
  const ownership = new SoleOwnership("r1", 4);
  const store = runs();
  // A routed call that only the hand-over's end could let through (its target's shard moving too).
  let inFlight = 0;
  const stuck = (() => {
    inFlight++;
    return new Promise<never>(() => {});
  }) as unknown as EntityContext["call"];
  const manager = new SingletonManager(ownership, store, 4, () => stuck, stuck, silentLogger, noMetrics);
  let seen: unknown;
  let entered!: () => void;
  const calling = new Promise<void>((resolve) => {
    entered = resolve;
  });
  manager.register("caller", async (ctx) => {
    const call = ctx.call({ type: "Any", rpcs: {} } as never, "x", "rpc" as never, {} as never);
    entered();
    await call.catch((error: unknown) => {
      seen = error;
    });
  });
  await ownership.start();
  await calling;
  assert.is(inFlight, 1);
  const watchdog = new Promise<"stuck">((resolve) => setTimeout(resolve, 5_000, "stuck").unref());
  // SoleOwnership.stop() awaits every listener's release, the manager's halt among them.
  assert.is(await Promise.race([ownership.stop().then(() => "released" as const), watchdog]), "released");
  assert.instance(seen, Error, "the run's pending call rejected with the abort");
  assert.is(store.stops, 1, "the run's stop was recorded");
  await manager.stop();
});

test("a call issued after the run was halted is refused at once, without being sent", async () => {
  const ownership = new SoleOwnership("r1", 4);
  let sent = 0;
  const call = (async () => {
    sent++;
    return null;
  }) as unknown as EntityContext["call"];
  const manager = new SingletonManager(ownership, runs(), 4, () => call, call, silentLogger, noMetrics);
  let late: unknown;
  let halted!: () => void;
  const done = new Promise<void>((resolve) => {
    halted = resolve;
  });
  manager.register("late", async (ctx) => {
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
    late = await ctx.call({ type: "Any", rpcs: {} } as never, "x", "rpc" as never, {} as never).catch((e: unknown) => e);
    halted();
  });
  await ownership.start();
  await ownership.stop();
  await done;
  assert.instance(late, Error);
  assert.is(sent, 0);
  await manager.stop();
});

test.run();
