import { test } from "uvu";
import * as assert from "uvu/assert";
import { type ScheduledTimer, TimerSchedule } from "../../src/cluster/timers/schedule.ts";

const timer = (key: string, fireAt: number, shard = 0): ScheduledTimer => ({
  key,
  address: { type: "T", id: key, shard },
  timerId: key,
  fireAt,
  attempt: 0,
});

function drain(schedule: TimerSchedule, now = Number.POSITIVE_INFINITY): ScheduledTimer[] {
  const out: ScheduledTimer[] = [];
  for (let t = schedule.popDue(now); t; t = schedule.popDue(now)) out.push(t);
  return out;
}

test("10,000 timers come out in due order, only once due", () => {
  const schedule = new TimerSchedule();
  const times = Array.from({ length: 10_000 }, () => Math.floor(Math.random() * 1_000_000));
  for (const [i, at] of times.entries()) schedule.set(timer(`k${i}`, at));
  assert.is(schedule.size, 10_000);
  const sorted = [...times].sort((a, b) => a - b);
  assert.is(schedule.nextAt(), sorted[0]);
  const early = drain(schedule, 500_000);
  assert.ok(early.every((t) => t.fireAt <= 500_000));
  const late = drain(schedule);
  assert.equal(
    [...early, ...late].map((t) => t.fireAt),
    sorted,
  );
  assert.is(schedule.size, 0);
  assert.is(schedule.nextAt(), undefined);
});

test("set replaces by key; delete removes; stale heap slots never surface", () => {
  const schedule = new TimerSchedule();
  schedule.set(timer("a", 10));
  schedule.set(timer("b", 20));
  schedule.set(timer("a", 30));
  schedule.delete("b");
  schedule.delete("missing");
  assert.is(schedule.size, 1);
  assert.is(schedule.nextAt(), 30);
  assert.equal(
    drain(schedule).map((t) => [t.key, t.fireAt]),
    [["a", 30]],
  );
});

test("many replacements keep the heap compact and correct", () => {
  const schedule = new TimerSchedule();
  for (let round = 0; round < 50; round++) for (let k = 0; k < 100; k++) schedule.set(timer(`k${k}`, round * 1000 + k));
  assert.is(schedule.size, 100);
  const out = drain(schedule);
  assert.equal(
    out.map((t) => t.key),
    Array.from({ length: 100 }, (_, k) => `k${k}`),
  );
  assert.ok(out.every((t) => t.fireAt >= 49_000));
});

test("deleteWhere drops a shard's timers and keeps the others in order", () => {
  const schedule = new TimerSchedule();
  for (let k = 0; k < 300; k++) schedule.set(timer(`k${k}`, 300 - k, k % 3));
  schedule.deleteWhere((t) => t.address.shard === 1);
  assert.is(schedule.size, 200);
  const out = drain(schedule);
  assert.ok(out.every((t) => t.address.shard !== 1));
  assert.equal(
    out.map((t) => t.fireAt),
    [...out.map((t) => t.fireAt)].sort((a, b) => a - b),
  );
});

test("timers due at the same instant come out grouped by key (an entity's together)", () => {
  const schedule = new TimerSchedule();
  const keys = Array.from({ length: 200 }, (_, k) => `entity-${k % 20}\u0000t${Math.floor(k / 20)}`);
  for (const key of [...keys].sort(() => Math.random() - 0.5)) schedule.set(timer(key, 1_000));
  assert.equal(
    drain(schedule).map((t) => t.key),
    [...keys].sort(),
  );
});

test.run();
