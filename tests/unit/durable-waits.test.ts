import { test } from "uvu";
import * as assert from "uvu/assert";
import { backoffDelay } from "../../src/cluster/backoff.ts";
import { checkPolicy } from "../../src/cluster/workflow/retry.ts";
import { parseWaitTimer, waitTimerId } from "../../src/cluster/workflow/sleep.ts";

test("a wait timer id round-trips, whatever the exec id and name contain", () => {
  for (const t of [
    { execId: "e1", kind: "sleep" as const, name: "nap", seq: 3 },
    { execId: 'a:b"c]', kind: "signal" as const, name: "x:[1]", seq: 0 },
  ]) {
    const id = waitTimerId(t);
    assert.ok(id.startsWith("$wf:"));
    assert.equal(parseWaitTimer(id), t);
  }
  assert.is(parseWaitTimer("t1"), undefined, "an entity's own timer id is not the framework's");
  assert.is(parseWaitTimer("$wf:not json"), undefined);
});

test("retry backoff: initialMs, times factor per attempt, capped at maxMs", () => {
  const wait = { firstMs: 100, maxMs: 1_000, factor: 3, jitter: false };
  assert.equal(
    [1, 2, 3, 4].map((k) => backoffDelay(k, wait)),
    [100, 300, 900, 1_000],
  );
  assert.is(backoffDelay(3, { firstMs: 40, maxMs: 10_000, jitter: false }), 160, "factor 2 by default");
});

test("a retry policy that cannot work is refused", () => {
  checkPolicy("ok", { maxAttempts: 3, initialMs: 10 });
  for (const bad of [
    { maxAttempts: 0, initialMs: 10 },
    { maxAttempts: 1.5, initialMs: 10 },
    { maxAttempts: 2, initialMs: -1 },
    { maxAttempts: 2, initialMs: 1, factor: 0.5 },
    { maxAttempts: 2, initialMs: 1, maxMs: -5 },
  ]) {
    assert.throws(() => checkPolicy("bad", bad), /retry policy/);
  }
});

test.run();
