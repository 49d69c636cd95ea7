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

test("a hand-over does not wait for a call the singleton has in flight: its calls are bound to the run's signal, which the halt aborts", async () => {
  const ownership = new SoleOwnership("r1", 4);
  const store = runs();
  // A routed call that only the hand-over's end could let through (its target's shard moving
  // too); like the router (tests/unit/deadlines.test.ts), it gives up when its signal aborts.
  const signals: AbortSignal[] = [];
  const routed = (signal: AbortSignal) => {
    signals.push(signal);
    return (() =>
      new Promise<never>((_, reject) =>
        signal.addEventListener("abort", () => reject(new Error("abandoned")), { once: true }),
      )) as unknown as EntityContext["call"];
  };
  const here = (() => Promise.resolve(null)) as unknown as EntityContext["call"];
  const manager = new SingletonManager(ownership, store, 4, routed, here, silentLogger, noMetrics);
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
  assert.is(signals.length, 1);
  assert.not.ok(signals[0]?.aborted);
  const watchdog = new Promise<"stuck">((resolve) => setTimeout(resolve, 5_000, "stuck").unref());
  // SoleOwnership.stop() awaits every listener's release, the manager's halt among them.
  assert.is(await Promise.race([ownership.stop().then(() => "released" as const), watchdog]), "released");
  assert.ok(signals[0]?.aborted, "the halt aborted the signal the run's calls carry");
  assert.instance(seen, Error, "the run's pending call was abandoned");
  assert.is(store.stops, 1, "the run's stop was recorded");
  await manager.stop();
});

test.run();
