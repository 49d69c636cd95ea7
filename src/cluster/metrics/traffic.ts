import type { ClusterMetrics } from "./metrics.ts";

/** One second of a runner's calls: [unix seconds, calls/s, p50 ms, p99 ms] (the latencies null without calls). */
export type TrafficSample = readonly [number, number, number | null, number | null];

/** Cumulative call counters, as the metrics registry holds them: a count and histogram buckets. */
export interface CallTotals {
  /** Calls that entered this runner so far. */
  readonly count: number;
  /** Cumulative histogram buckets of their durations: [upper bound in seconds, calls ≤ it], ascending, +Inf last. */
  readonly buckets: readonly (readonly [number, number])[];
}

/** Five minutes of one-second samples. */
export const TRAFFIC_WINDOW = 300;

/**
 * Turns cumulative call totals into one sample a second (calls/s, p50 and p99 in ms), keeping the
 * last TRAFFIC_WINDOW. Quantiles are read from the bucket deltas as Prometheus' histogram_quantile
 * does: linear within the bucket holding the rank.
 */
export class TrafficSampler {
  private readonly samples: TrafficSample[] = [];
  private last: { at: number; totals: CallTotals } | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly read: () => Promise<CallTotals> | CallTotals) {}

  start(everyMs = 1000): void {
    this.timer ??= setInterval(() => void this.sample().catch(() => {}), everyMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample now (the interval calls this; tests call it with their own clock). */
  async sample(now = Date.now()): Promise<void> {
    const totals = await this.read();
    const last = this.last;
    this.last = { at: now, totals };
    if (!last || now <= last.at) return;
    const seconds = (now - last.at) / 1000;
    const calls = Math.max(0, totals.count - last.totals.count);
    const deltas = totals.buckets.map(([le, n], i): [number, number] => [le, Math.max(0, n - (last.totals.buckets[i]?.[1] ?? 0))]);
    this.samples.push([Math.round(now / 1000), calls / seconds, quantileMs(deltas, 0.5), quantileMs(deltas, 0.99)]);
    if (this.samples.length > TRAFFIC_WINDOW) this.samples.splice(0, this.samples.length - TRAFFIC_WINDOW);
  }

  recent(): TrafficSample[] {
    return [...this.samples];
  }
}

/** The q-quantile in ms of cumulative bucket counts, or null when there were none. */
export function quantileMs(buckets: readonly (readonly [number, number])[], q: number): number | null {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, n] of buckets) {
    if (n >= rank) {
      // The +Inf bucket has no width: answer its lower bound, as Prometheus does.
      if (!Number.isFinite(le)) return lower * 1000;
      const inBucket = n - below;
      const at = inBucket === 0 ? le : lower + ((le - lower) * (rank - below)) / inBucket;
      return +(at * 1000).toFixed(3);
    }
    lower = le;
    below = n;
  }
  return lower * 1000;
}

interface MetricValue {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number | undefined>>;
  readonly metricName?: string;
}

/** The calls entering this runner so far (`cluster_calls_total`, `cluster_call_duration_seconds`), every label summed. */
export async function callTotals(metrics: ClusterMetrics): Promise<CallTotals> {
  const registry = metrics.instruments.registry;
  const values = async (name: string): Promise<readonly MetricValue[]> => (await registry.getSingleMetric(name)?.get())?.values ?? [];
  const count = (await values("cluster_calls_total")).reduce((n, v) => n + v.value, 0);
  const byBound = new Map<number, number>();
  for (const v of await values("cluster_call_duration_seconds")) {
    if (!v.metricName?.endsWith("_bucket")) continue;
    const le = v.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(v.labels.le);
    byBound.set(le, (byBound.get(le) ?? 0) + v.value);
  }
  return { count, buckets: [...byBound.entries()].sort((a, b) => a[0] - b[0]) };
}

/** One runner's recent traffic. */
export interface RunnerTraffic {
  readonly runner: string;
  readonly samples: readonly TrafficSample[];
}
