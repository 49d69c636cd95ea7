/**
 * What instrumentation costs: counter increments entering the owner (single mode: every shard is
 * local) at 64 clients, on a runner with metrics on and on one with METRICS=off, in alternating
 * windows so that drift of a shared machine hits both alike. Both runners share one Postgres;
 * their counters are distinct entities.
 */
import { CpuMeter, type CpuShare, withChildren } from "./cpu.ts";
import { closedLoop, incrementer, type LoadResult, WARMUP_SECONDS } from "./lib.ts";
import { spawnRunner } from "./process.ts";

export interface MetricsCost {
  readonly on: LoadResult[];
  readonly off: LoadResult[];
  /** Throughput with metrics on ÷ with METRICS=off, over every window. */
  readonly ratio: number;
  readonly cpu: { readonly on: CpuShare | undefined; readonly off: CpuShare | undefined };
}

export async function measureMetricsCost(
  postgresUrl: string,
  postmaster: number,
  clients: number,
  seconds: number,
  port: () => Promise<number>,
  rounds = 2,
): Promise<MetricsCost> {
  const runners = {
    on: await spawnRunner({ POSTGRES_URL: postgresUrl, METRICS: "on" }, await port()),
    off: await spawnRunner({ POSTGRES_URL: postgresUrl, METRICS: "off" }, await port()),
  };
  const results: Record<"on" | "off", LoadResult[]> = { on: [], off: [] };
  const cpu: Record<"on" | "off", CpuShare | undefined> = { on: undefined, off: undefined };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const mode of ["on", "off"] as const) {
        const runner = runners[mode];
        const increment = incrementer(runner.url, clients);
        const meter = new CpuMeter({ runner: () => [runner.child.pid as number], postgres: () => withChildren(postmaster) });
        // Each runner is warmed up (JIT) on its first window only.
        const result = await closedLoop(
          clients,
          seconds,
          round === 0 ? WARMUP_SECONDS : 1,
          (c) => increment(`metrics-${mode}-${c}`),
          meter,
        );
        results[mode].push(result);
        if (round === rounds - 1) cpu[mode] = meter.share;
      }
    }
  } finally {
    await Promise.all([runners.on.stop(), runners.off.stop()]);
  }
  const rate = (list: LoadResult[]) => list.reduce((a, r) => a + r.ops, 0) / list.reduce((a, r) => a + r.seconds, 0);
  return { on: results.on, off: results.off, ratio: rate(results.on) / rate(results.off), cpu };
}
