import { test } from "uvu";
import * as assert from "uvu/assert";
import { findOverlaps } from "../../scripts/chaos/overlaps.ts";
import { ownershipIntervals, parseJournal, unexplainedWake } from "../../scripts/chaos/ownership-intervals.ts";
import type { OwnershipRecord } from "../../src/cluster/ownership/journal.ts";

const fence = (runner: string, lease: string, at: number, until: number): OwnershipRecord => ({ kind: "fence", runner, lease, at, until });
const acquired = (runner: string, lease: string, at: number, shards: number[]): OwnershipRecord => ({
  kind: "acquired",
  runner,
  lease,
  at,
  shards,
});
const released = (runner: string, lease: string, at: number, shards: number[]): OwnershipRecord => ({
  kind: "released",
  runner,
  lease,
  at,
  shards,
});

test("a clean hand-over: released before the next owner acquires, no overlap", () => {
  const intervals = ownershipIntervals([
    fence("a", "1", 0, 10_000),
    acquired("a", "1", 100, [7]),
    released("a", "1", 500, [7]),
    fence("b", "2", 0, 10_000),
    acquired("b", "2", 501, [7]),
  ]);
  assert.equal(
    intervals.map((i) => [i.start, i.end]),
    [
      [100, 500],
      [501, 10_000],
    ],
  );
  assert.equal(findOverlaps(intervals), []);
});

test("a crashed owner's interval ends at its last fencing deadline, not at the next acquisition", () => {
  const records = [fence("a", "1", 0, 1_800), acquired("a", "1", 100, [3]), fence("a", "1", 700, 2_400), acquired("b", "2", 2_500, [3])];
  const intervals = ownershipIntervals([...records, fence("b", "2", 2_400, 9_000)]);
  assert.equal(findOverlaps(intervals), []);
  assert.is(intervals.find((i) => i.holder.startsWith("a"))?.end, 2_400);
});

test("a second owner before the first one's fence dropped is an overlap", () => {
  const intervals = ownershipIntervals([
    fence("a", "1", 0, 5_000),
    acquired("a", "1", 100, [3, 4]),
    fence("b", "2", 0, 9_000),
    acquired("b", "2", 4_000, [4]),
  ]);
  const overlaps = findOverlaps(intervals);
  assert.is(overlaps.length, 1);
  assert.is(overlaps[0]?.resource, "shard 4");
  assert.is(overlaps[0]?.overlapMs, 1_000);
});

test("an acquisition after the lease's fence already dropped is empty and overlaps nothing", () => {
  const intervals = ownershipIntervals([
    fence("a", "1", 0, 50),
    acquired("a", "1", 100, [1]),
    acquired("b", "2", 120, [1]),
    fence("b", "2", 0, 900),
  ]);
  assert.equal(findOverlaps(intervals), []);
});

test("a woken runner may serve only the shards it acquired again after the freeze", () => {
  const records = [acquired("a", "1", 100, [1, 2, 3]), acquired("a", "2", 5_000, [2]), acquired("b", "3", 5_000, [3])];
  const probe = { runner: "a", frozenAt: 2_000, answeredAt: 5_100 };
  assert.equal(unexplainedWake(records, { ...probe, local: [2] }), []);
  assert.equal(unexplainedWake(records, { ...probe, local: [1, 2, 3] }), [1, 3]);
});

test("a torn last line (killed mid-write) is skipped", () => {
  const text = `${JSON.stringify(acquired("a", "1", 1, [2]))}\n{"kind":"rel`;
  assert.is(parseJournal(text).length, 1);
});

test.run();
