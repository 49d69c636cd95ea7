import { test } from "uvu";
import * as assert from "uvu/assert";
import { shardOf } from "../../src/cluster/index.ts";

test("shardOf is djb2 mod shard count, stable across calls", () => {
  assert.is(shardOf("", 300), 5381 % 300);
  assert.is(shardOf("a", 300), (5381 * 33 + 97) % 300);
  assert.is(shardOf("counter-1", 300), shardOf("counter-1", 300));
});

test("shardOf stays in range and spreads ids evenly", () => {
  const counts = new Array(300).fill(0);
  for (let i = 0; i < 30_000; i++) {
    const s = shardOf(`entity-${i}`, 300);
    assert.ok(s >= 0 && s < 300);
    counts[s]++;
  }
  // 100 expected per shard; djb2 on sequential ids is not perfect but never degenerate.
  assert.ok(Math.min(...counts) > 20, `min ${Math.min(...counts)}`);
  assert.ok(Math.max(...counts) < 300, `max ${Math.max(...counts)}`);
});

test("shardOf handles non-ASCII ids (UTF-16 code units)", () => {
  const s = shardOf("ключ/🔑", 300);
  assert.ok(Number.isInteger(s) && s >= 0 && s < 300);
});

test.run();
