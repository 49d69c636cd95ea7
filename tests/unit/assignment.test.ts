import { test } from "uvu";
import * as assert from "uvu/assert";
import { assignShards } from "../../src/cluster/ownership/assignment.ts";

const SHARDS = 300;

/** Deterministic pseudo-random runner addresses, so failures reproduce. */
function runnerSets(count: number, size: number): string[][] {
  let seed = 42;
  const next = () => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed;
  };
  return Array.from({ length: count }, () => Array.from({ length: size }, () => `127.0.0.1:${10_000 + (next() % 50_000)}`));
}

function loads(owners: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const o of owners) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts;
}

test("a pure function: same inputs, same table, whatever the order of runners", () => {
  const runners = ["b:1", "a:1", "c:1"];
  assert.equal(assignShards(SHARDS, runners), assignShards(SHARDS, [...runners].reverse()));
  assert.equal(assignShards(SHARDS, []), []);
  assert.ok(assignShards(SHARDS, ["only:1"]).every((o) => o === "only:1"));
});

test("3 runners × 300 shards: every runner within ±10% of an even split (200 runner sets)", () => {
  for (const runners of runnerSets(200, 3)) {
    const counts = loads(assignShards(SHARDS, runners));
    assert.is(counts.size, 3);
    for (const [runner, n] of counts) assert.ok(Math.abs(n - 100) <= 10, `${runner} has ${n} shards of ${runners.join(", ")}`);
  }
});

test("a runner joining takes about 1/n of the shards; other shards barely move", () => {
  for (const runners of runnerSets(100, 4)) {
    const before = assignShards(SHARDS, runners.slice(0, 3));
    const after = assignShards(SHARDS, runners);
    const joined = runners[3] as string;
    const moved = before.filter((o, s) => o !== after[s]).length;
    const elsewhere = before.filter((o, s) => o !== after[s] && after[s] !== joined).length;
    assert.ok(moved >= 60 && moved <= 90, `moved ${moved} (even share is 75)`);
    assert.ok(elsewhere <= 15, `${elsewhere} shards moved between runners that stayed`);
  }
});

test("a runner leaving hands over only about its own shards", () => {
  for (const runners of runnerSets(100, 3)) {
    const before = assignShards(SHARDS, runners);
    const after = assignShards(SHARDS, runners.slice(0, 2));
    const left = runners[2] as string;
    const own = before.filter((o) => o === left).length;
    const elsewhere = before.filter((o, s) => o !== after[s] && o !== left).length;
    assert.ok(after.every((o) => o !== left));
    // Its own shards move, plus at most 5% that the bound pushes between the others.
    assert.ok(elsewhere <= 15, `${elsewhere} shards moved between runners that stayed (the leaver had ${own})`);
  }
});

test.run();
