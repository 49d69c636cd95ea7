import { test } from "uvu";
import * as assert from "uvu/assert";
import { ClusterError, type EntityAddress, shardOf, silentLogger } from "../../src/cluster/index.ts";
import type { StoredTimer } from "../../src/cluster/storage/timers/store.ts";
import { retryDelay, TimerService } from "../../src/cluster/timers/service.ts";
import type { FireOutcome } from "../../src/cluster/timers/timer.ts";

const SHARDS = 4;
const address = (type: string, id: string): EntityAddress => ({ type, id, shard: shardOf(id, SHARDS) });
/** An entity id on `shard`. */
const idOn = (shard: number, n = 0) => {
  for (let i = 0, found = 0; ; i++) if (shardOf(`e${i}`, SHARDS) === shard && found++ === n) return `e${i}`;
};
const row = (id: string, timerId: string, fireAt: number): StoredTimer => ({
  entityType: "T",
  entityId: id,
  timerId,
  fireAt: new Date(fireAt),
});

interface Fire {
  readonly id: string;
  readonly timerId: string;
  readonly at: number;
}

/** A service whose fires are recorded; `answer` decides each fire's outcome. */
function setup(options: { rows?: StoredTimer[]; answer?: (fire: Fire) => Promise<FireOutcome>; maxInFlight?: number } = {}) {
  const fires: Fire[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let loadGate: Promise<void> = Promise.resolve();
  const service = new TimerService({
    load: async (shards) => {
      await loadGate;
      return (options.rows ?? []).filter((r) => shards.includes(shardOf(r.entityId, SHARDS)));
    },
    fire: async (a, timerId) => {
      const fire = { id: a.id, timerId, at: Date.now() };
      fires.push(fire);
      const outcome = await (options.answer?.(fire) ?? Promise.resolve<FireOutcome>({ kind: "fired", lateMs: 0 }));
      for (const w of waiters.splice(0))
        if (fires.length >= w.n) w.resolve();
        else waiters.push(w);
      return outcome;
    },
    address,
    log: silentLogger,
    maxInFlight: options.maxInFlight,
  });
  const firesReach = (n: number, timeoutMs = 5_000) =>
    new Promise<void>((resolve, reject) => {
      if (fires.length >= n) return resolve();
      const timeout = setTimeout(() => reject(new Error(`only ${fires.length} of ${n} fires after ${timeoutMs} ms`)), timeoutMs);
      waiters.push({
        n,
        resolve: () => {
          clearTimeout(timeout);
          resolve();
        },
      });
    });
  const holdLoads = () => {
    let release = () => {};
    loadGate = new Promise((resolve) => (release = resolve));
    return release;
  };
  return { service, fires, firesReach, holdLoads };
}

const all = Array.from({ length: SHARDS }, (_, s) => s);

test("timers loaded with their shards fire in due order, none before its time; past-due ones at once", async () => {
  const now = Date.now();
  const rows = [row(idOn(0), "late", now + 60), row(idOn(1), "soon", now + 20), row(idOn(2), "overdue", now - 5_000)];
  const { service, fires, firesReach } = setup({ rows });
  await service.acquired(all);
  await firesReach(3);
  assert.equal(
    fires.map((f) => f.timerId),
    ["overdue", "soon", "late"],
  );
  for (const f of fires) assert.ok(f.at >= (rows.find((r) => r.timerId === f.timerId)?.fireAt.getTime() ?? 0), f.timerId);
  assert.ok((fires[0]?.at ?? 0) - now < 1_000, "an overdue timer fires promptly");
  assert.is(service.size, 0);
  service.stop();
});

test("released shards take their timers along; a load that ends after its shards left adds nothing", async () => {
  const later = Date.now() + 60_000;
  const rows = [row(idOn(0), "a", later), row(idOn(1), "b", later), row(idOn(2), "c", later)];
  const { service, holdLoads } = setup({ rows });
  await service.acquired([0, 1]);
  assert.is(service.size, 2);
  service.released([0]);
  assert.is(service.size, 1);
  const release = holdLoads();
  const loading = service.acquired([2]);
  service.released([2]);
  release();
  await loading;
  assert.is(service.size, 1);
  service.stop();
});

test("committed changes keep the schedule current; changes for shards not held here are ignored", async () => {
  const { service, fires, firesReach } = setup();
  await service.acquired([0, 1]);
  const on0 = address("T", idOn(0));
  service.scheduled(on0, "x", Date.now() + 60_000);
  service.scheduled(on0, "y", Date.now() + 60_000);
  service.scheduled(address("T", idOn(2)), "z", Date.now());
  assert.is(service.size, 2);
  service.cancelled(on0, "x");
  service.scheduled(on0, "y", Date.now() + 10);
  await firesReach(1);
  assert.equal(
    fires.map((f) => f.timerId),
    ["y"],
  );
  assert.is(service.size, 0);
  service.stop();
});

test("a failed fire is retried with backoff while the shard is held; an early one waits for the entity's due time", async () => {
  const dueLater = Date.now() + 150;
  let flakyAttempts = 0;
  const { service, fires, firesReach } = setup({
    rows: [row(idOn(0), "flaky", Date.now()), row(idOn(1), "stale", Date.now())],
    answer: async (fire) => {
      if (fire.timerId === "flaky" && ++flakyAttempts <= 2) throw new ClusterError("UNAVAILABLE", "database restarting");
      if (fire.timerId === "stale" && fire.at < dueLater) return { kind: "early", fireAt: dueLater };
      return { kind: "fired", lateMs: 0 };
    },
  });
  await service.acquired(all);
  await firesReach(5);
  const flaky = fires.filter((f) => f.timerId === "flaky");
  const stale = fires.filter((f) => f.timerId === "stale");
  assert.is(flaky.length, 3);
  assert.ok((flaky[2]?.at ?? 0) - (flaky[1]?.at ?? 0) >= (flaky[1]?.at ?? 0) - (flaky[0]?.at ?? 0), "backoff grows");
  assert.is(stale.length, 2);
  assert.ok((stale[1]?.at ?? 0) >= dueLater);
  assert.is(service.size, 0);
  service.stop();
});

test("a failed fire is dropped once its shard has left (the next owner fires it)", async () => {
  let fail = true;
  const { service, fires, firesReach } = setup({
    rows: [row(idOn(0), "t", Date.now())],
    answer: async () => {
      if (fail) throw new ClusterError("NOT_OWNER", "moving");
      return { kind: "fired", lateMs: 0 };
    },
  });
  await service.acquired(all);
  await firesReach(1);
  service.released([0]);
  fail = false;
  await new Promise((resolve) => setImmediate(resolve));
  assert.is(service.size, 0);
  assert.is(fires.length, 1);
  service.stop();
});

test("10,000 pending timers: at most maxInFlight fires at once, every one fired once", async () => {
  let inFlight = 0;
  let peak = 0;
  const start = Date.now() + 20;
  const rows = Array.from({ length: 10_000 }, (_, k) => row(`e${k}`, `t${k}`, start + (k % 100)));
  const { service, fires, firesReach } = setup({
    rows,
    maxInFlight: 64,
    answer: async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return { kind: "fired", lateMs: 0 };
    },
  });
  await service.acquired(all);
  assert.is(service.size + fires.length, 10_000, "every timer is scheduled or firing");
  await firesReach(10_000, 20_000);
  assert.ok(peak <= 64, `peak ${peak}`);
  assert.is(new Set(fires.map((f) => f.timerId)).size, 10_000);
  service.stop();
});

test("retry backoff: doubles from 50 ms to 30 s; at most 1 s while only ownership is in the way", () => {
  assert.equal(
    [1, 2, 3, 4, 5, 6, 10, 50].map((n) => retryDelay(n, false)),
    [50, 100, 200, 400, 800, 1_600, 25_600, 30_000],
  );
  assert.equal(
    [1, 5, 6, 50].map((n) => retryDelay(n, true)),
    [50, 800, 1_000, 1_000],
  );
});

test.run();
