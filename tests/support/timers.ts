import * as assert from "uvu/assert";
import type { TimerFire } from "../../contract/index.ts";
import type { Client } from "../../src/client.ts";
import { waitFor } from "./wait.ts";

/** Polls the entity's fires until `count` are recorded (a bounded wait, no fixed sleep). */
export function firesOf(api: Client, id: string, count: number, timeoutMs = 15_000): Promise<TimerFire[]> {
  return waitFor(
    `${count} fire(s) of timer entity ${id}`,
    async () => {
      const fires = await api.timer.fires({ id });
      return fires.length >= count ? fires : undefined;
    },
    timeoutMs,
  );
}

/**
 * The entity's fires once everything due so far has had its chance: a sentinel timer scheduled now
 * fires after every timer that was already due, so a duplicate fire would be recorded by then.
 * Returns the fires other than the sentinel's.
 */
export async function settledFires(api: Client, id: string, timeoutMs = 15_000): Promise<TimerFire[]> {
  const sentinel = `sentinel-${Date.now()}`;
  await api.timer.schedule({ id, timer_id: sentinel, delay_ms: 50 });
  await waitFor(
    `the sentinel timer of ${id}`,
    async () => ((await api.timer.fires({ id })).some((f) => f.timer_id === sentinel) ? true : undefined),
    timeoutMs,
  );
  return (await api.timer.fires({ id })).filter((f) => f.timer_id !== sentinel);
}

/** Asserts `fires` holds each of `timerIds` exactly once, none of them before its delay. */
export function assertFiredOnce(fires: readonly TimerFire[], delays: ReadonlyMap<string, number>): void {
  const counts = new Map<string, number>();
  for (const f of fires) counts.set(f.timer_id, (counts.get(f.timer_id) ?? 0) + 1);
  assert.equal([...counts.keys()].sort(), [...delays.keys()].sort(), "the fired timers are exactly the scheduled ones");
  for (const [timerId, n] of counts) assert.is(n, 1, `timer ${timerId} fired ${n} times`);
  for (const f of fires) {
    const waited = Date.parse(f.fired_at) - Date.parse(f.scheduled_at);
    const delay = delays.get(f.timer_id) ?? 0;
    assert.ok(waited >= delay, `timer ${f.timer_id} fired after ${waited} ms, before its ${delay} ms delay`);
  }
}
