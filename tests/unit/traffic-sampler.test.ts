import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type CallTotals, quantileMs, TRAFFIC_WINDOW, TrafficSampler } from "../../src/cluster/metrics/traffic.ts";

const it = suite("Traffic sampler");
const INF = Number.POSITIVE_INFINITY;

it("quantiles interpolate within the bucket holding the rank, as histogram_quantile does", () => {
  // 100 calls: 50 ≤ 1 ms, 40 in (1, 5] ms, 10 in (5, 10] ms.
  const buckets: [number, number][] = [
    [0.001, 50],
    [0.005, 90],
    [0.01, 100],
    [INF, 100],
  ];
  assert.is(quantileMs(buckets, 0.5), 1);
  assert.is(quantileMs(buckets, 0.99), 9.5);
  assert.is(quantileMs(buckets, 0.7), 3);
  assert.is(
    quantileMs(
      [
        [0.001, 0],
        [INF, 0],
      ],
      0.5,
    ),
    null,
  );
  // Only the +Inf bucket holds the rank: its lower bound, not infinity.
  assert.is(
    quantileMs(
      [
        [0.001, 1],
        [INF, 10],
      ],
      0.99,
    ),
    1,
  );
});

it("samples rates and quantiles from the deltas of cumulative totals, and keeps the last window", async () => {
  let totals: CallTotals = {
    count: 0,
    buckets: [
      [0.001, 0],
      [0.01, 0],
      [INF, 0],
    ],
  };
  const sampler = new TrafficSampler(() => totals);
  await sampler.sample(1_000_000);
  assert.equal(sampler.recent(), [], "the first reading is the baseline");
  totals = {
    count: 20,
    buckets: [
      [0.001, 10],
      [0.01, 20],
      [INF, 20],
    ],
  };
  await sampler.sample(1_002_000);
  assert.equal(sampler.recent(), [[1002, 10, 1, 9.82]]);
  await sampler.sample(1_003_000); // no calls in that second
  assert.equal(sampler.recent()[1], [1003, 0, null, null]);
  for (let k = 0; k < TRAFFIC_WINDOW + 10; k++) await sampler.sample(1_004_000 + k * 1000);
  assert.is(sampler.recent().length, TRAFFIC_WINDOW);
});

it.run();
