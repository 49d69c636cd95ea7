import * as assert from "uvu/assert";
import { MAX_TIMER_DELAY_MS } from "../../contract/index.ts";
import { rejects } from "../support/assert.ts";
import { BACKENDS } from "../support/backends.ts";
import { restartRunner, runnerSuite } from "../support/runner-suite.ts";
import { assertFiredOnce, firesOf, settledFires } from "../support/timers.ts";
import { uniqueId } from "../support/unique-id.ts";
import { untilPast } from "../support/wait.ts";

for (const backend of BACKENDS) {
  const it = runnerSuite("Timers", backend);

  // Delays of a second or more where the test reads a timer still pending: on a loaded machine
  // (CI's), a few hundred ms went by between the schedule and the read.
  it("schedule returns at once; the timer is pending, then fires after its delay, once", async ({ api }) => {
    const id = uniqueId("tm");
    const delay = 1_500;
    const t0 = Date.now();
    assert.is(await api.timer.schedule({ id, timer_id: "t", delay_ms: delay }), null);
    assert.ok(Date.now() - t0 < 1_000, "schedule does not wait for the timer");
    const [pending] = await api.timer.pending({ id });
    assert.is(pending?.timer_id, "t");
    assert.is(Date.parse(pending?.fire_at ?? "") - Date.parse(pending?.scheduled_at ?? ""), delay);
    assert.equal(await api.timer.fires({ id }), []);
    const [fire] = await firesOf(api, id, 1);
    assert.is(fire?.scheduled_at, pending?.scheduled_at);
    assertFiredOnce(await settledFires(api, id), new Map([["t", delay]]));
    assert.equal(await api.timer.pending({ id }), []);
  });

  it("cancel: true for a pending timer, which then never fires; false for unknown or done ones", async ({ api }) => {
    const id = uniqueId("tm");
    await api.timer.schedule({ id, timer_id: "doomed", delay_ms: 1_500 });
    await api.timer.schedule({ id, timer_id: "kept", delay_ms: 1_550 });
    assert.is(await api.timer.cancel({ id, timer_id: "doomed" }), true);
    assert.is(await api.timer.cancel({ id, timer_id: "doomed" }), false);
    assert.is(await api.timer.cancel({ id, timer_id: "never-scheduled" }), false);
    await firesOf(api, id, 1);
    assert.is(await api.timer.cancel({ id, timer_id: "kept" }), false);
    assertFiredOnce(await settledFires(api, id), new Map([["kept", 1_550]]));
  });

  it("re-scheduling a pending id replaces it; clear-fires empties the history only", async ({ api }) => {
    const id = uniqueId("tm");
    await api.timer.schedule({ id, timer_id: "t", delay_ms: 60_000 });
    await api.timer.schedule({ id, timer_id: "t", delay_ms: 1_000 });
    assert.is((await api.timer.pending({ id })).length, 1);
    await firesOf(api, id, 1);
    assertFiredOnce(await settledFires(api, id), new Map([["t", 1_000]]));
    assert.is(await api.timer.clearFires({ id }), null);
    assert.equal(await api.timer.fires({ id }), []);
    await api.timer.schedule({ id, timer_id: "t", delay_ms: 0 });
    assert.equal(
      (await firesOf(api, id, 1)).map((f) => f.timer_id),
      ["t"],
    );
  });

  it("bad input is a 400: negative, fractional or huge delays, empty ids", async ({ api }) => {
    const id = uniqueId("tm");
    await rejects(() => api.timer.schedule({ id, timer_id: "t", delay_ms: -1 }), 400, /delay_ms/);
    await rejects(() => api.timer.schedule({ id, timer_id: "t", delay_ms: 1.5 }), 400, /delay_ms/);
    await rejects(() => api.timer.schedule({ id, timer_id: "t", delay_ms: MAX_TIMER_DELAY_MS + 1 }), 400, /delay_ms/);
    await rejects(() => api.timer.schedule({ id, timer_id: "", delay_ms: 1 }), 400, /timer_id/);
    await rejects(() => api.timer.cancel({ id, timer_id: "" }), 400, /timer_id/);
    assert.equal(await api.timer.pending({ id }), []);
  });

  it("1,000 timers over 100 entities all fire exactly once, none early", async ({ api }) => {
    const ids = Array.from({ length: 100 }, (_, e) => uniqueId(`many-${e}`));
    const delays = new Map(Array.from({ length: 10 }, (_, t) => [`t${t}`, 100 + t * 150] as const));
    await Promise.all(ids.flatMap((id) => [...delays].map(([timer_id, delay_ms]) => api.timer.schedule({ id, timer_id, delay_ms }))));
    await Promise.all(ids.map((id) => firesOf(api, id, delays.size, 60_000)));
    const settled = await Promise.all(ids.map((id) => settledFires(api, id, 60_000)));
    for (const fires of settled) assertFiredOnce(fires, delays);
    for (const id of ids) assert.equal(await api.timer.pending({ id }), []);
  });

  it("a pending timer survives a restart and fires once after it", async (ctx) => {
    const id = uniqueId("tm-restart");
    await ctx.api.timer.schedule({ id, timer_id: "t3s", delay_ms: 3_000 });
    await restartRunner(ctx, backend);
    assert.equal(
      (await ctx.api.timer.pending({ id })).map((p) => p.timer_id),
      ["t3s"],
    );
    await firesOf(ctx.api, id, 1);
    assertFiredOnce(await settledFires(ctx.api, id), new Map([["t3s", 3_000]]));
  });

  it("a timer that fell due while the runner was down fires promptly after it starts, once", async (ctx) => {
    const id = uniqueId("tm-down");
    await ctx.api.timer.schedule({ id, timer_id: "due", delay_ms: 300 });
    const dueAt = Date.parse((await ctx.api.timer.pending({ id }))[0]?.fire_at ?? "");
    // The downtime outlasts the delay: that is the scenario, not a wait for an event.
    await restartRunner(ctx, backend, () => untilPast(dueAt + 200));
    const ready = Date.now();
    const [fire] = await firesOf(ctx.api, id, 1);
    const lateness = Date.parse(fire?.fired_at ?? "") - ready;
    assert.ok(lateness < 2_000, `fired ${lateness} ms after the runner was back`);
    assertFiredOnce(await settledFires(ctx.api, id), new Map([["due", 300]]));
  });

  it.run();
}
