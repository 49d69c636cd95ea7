/**
 * Overload: the cluster driven at 3× the rate it sustains. Calls past its bounds must be refused
 * (503 overloaded) rather than queued, so the admitted ones keep their throughput and latency, the
 * runners' memory stays flat, none dies, and every admitted increment is applied exactly once.
 *
 *   node --import tsx scripts/bench/overload.ts [--seconds 60]   (on its own: starts a cluster)
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ClusterHarness } from "../../tests/support/cluster.ts";
import { closedLoop, incrementer, percentile, printTable, WARMUP_SECONDS, writeResults } from "./lib.ts";
import { rssBytes } from "./process.ts";

/** Counters the load spreads over. */
const ENTITIES = 1_000;
/**
 * The bounds the bench's cluster runs with: twice the closed-loop cases' 64 clients in flight per
 * runner (so they are never refused), a few times what one runner holds at the sustained rate.
 */
export const OVERLOAD_ENV = { MAX_INFLIGHT: "128" };

/** Most requests the generator keeps open at once; past it, arrivals are counted as not sent. */
const MAX_OPEN = 4_096;

export interface OverloadResult {
  readonly sustained: { throughput: number; p99: number; rssPerRunner: number[] };
  readonly overload: {
    offeredRate: number;
    seconds: number;
    admitted: number;
    refused: number;
    errors: number;
    notSent: number;
    admittedThroughput: number;
    p99: number;
    rssPerRunner: number[];
  };
  readonly runnersAlive: boolean;
  readonly counterSum: number;
  readonly throughputRatio: number;
  readonly p99Ratio: number;
  readonly rssRatio: number;
}

/** Peak RSS of each pid, sampled every 250 ms until `stop()`. */
function rssSampler(pids: readonly number[]) {
  const peak = pids.map(() => 0);
  const sample = () => {
    for (const [i, pid] of pids.entries()) peak[i] = Math.max(peak[i] as number, rssBytes(pid) || 0);
  };
  sample();
  const timer = setInterval(sample, 250);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** One increment with an idempotency key; resolves with the HTTP status (0: no answer). */
function sender(bases: readonly string[]) {
  const agents = bases.map(() => new http.Agent({ keepAlive: true, maxSockets: MAX_OPEN }));
  return (entry: number, id: string, key: string) =>
    new Promise<number>((resolve) => {
      const url = new URL(bases[entry] as string);
      const request = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: "POST",
          path: `/counter/${id}/increment`,
          agent: agents[entry],
          headers: { "content-type": "application/json", "content-length": 1, "idempotency-key": key },
        },
        (response) => {
          response.resume();
          response.on("end", () => resolve(response.statusCode ?? 0));
        },
      );
      request.on("error", () => resolve(0));
      request.end("1");
    });
}

export async function measureOverload(cluster: ClusterHarness, clients: number, sustainSeconds: number, overloadSeconds: number) {
  const indexes = cluster.indexes();
  const pids = indexes.map((i) => Number(cluster.env()[`RUNNER_${i}_PID`]));
  const bases = indexes.map((i) => cluster.url(i));

  // 1. The sustained rate: closed loops (each waits for its answer) over the same counters.
  const entries = bases.map((b) => incrementer(b, clients));
  const calm = rssSampler(pids);
  const sustained = await closedLoop(clients, sustainSeconds, WARMUP_SECONDS, (c) =>
    (entries[c % entries.length] as (id: string) => Promise<void>)(`sustain-${c % ENTITIES}`),
  );
  const calmRss = calm.stop();

  // 2. An open loop at 3× that rate: arrivals do not wait for answers.
  const offeredRate = 3 * sustained.throughput;
  const send = sender(bases);
  const latencies: number[] = [];
  let [refused, errors, notSent, open, sent] = [0, 0, 0, 0, 0];
  const inflight = new Set<Promise<void>>();
  const hot = rssSampler(pids);
  const t0 = performance.now();
  const end = t0 + overloadSeconds * 1000;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - t0) / 1000) * offeredRate);
    for (; sent < due; sent++) {
      if (open >= MAX_OPEN) {
        notSent++;
        continue;
      }
      const n = sent;
      const started = performance.now();
      open++;
      const p = send(n % bases.length, `overload-${n % ENTITIES}`, `ov-${n}`).then((status) => {
        open--;
        if (status === 200) latencies.push(performance.now() - started);
        else if (status === 503) refused++;
        else errors++;
        inflight.delete(p);
      });
      inflight.add(p);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - t0) / 1000;
  const hotRss = hot.stop();

  const runnersAlive = pids.every((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  // Exactly once: the counters add up to the admitted increments.
  const api = cluster.client(indexes[0] as number);
  const read = async (id: string): Promise<number> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await api.counter.get({ id });
      } catch (error) {
        if (attempt === 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  };
  let counterSum = 0;
  for (let i = 0; i < ENTITIES; i += 20) {
    const values = await Promise.all(Array.from({ length: 20 }, (_, j) => read(`overload-${i + j}`)));
    counterSum += values.reduce((a, b) => a + b, 0);
  }
  latencies.sort((a, b) => a - b);
  const admitted = latencies.length;
  const result: OverloadResult = {
    sustained: { throughput: sustained.throughput, p99: sustained.p99, rssPerRunner: calmRss },
    overload: {
      offeredRate,
      seconds: elapsed,
      admitted,
      refused,
      errors,
      notSent,
      admittedThroughput: admitted / elapsed,
      p99: percentile(latencies, 99),
      rssPerRunner: hotRss,
    },
    runnersAlive,
    counterSum,
    throughputRatio: admitted / elapsed / sustained.throughput,
    p99Ratio: percentile(latencies, 99) / sustained.p99,
    rssRatio: Math.max(...hotRss.map((r, i) => r / (calmRss[i] as number))),
  };
  return result;
}

/** The case's verdicts, as rows of the bench table. */
export function overloadVerdicts(r: OverloadResult) {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  return [
    {
      name: "overload 3×: admitted throughput vs sustained",
      ours: r.throughputRatio.toFixed(2),
      target: "≥ 0.9",
      pass: r.throughputRatio >= 0.9,
    },
    { name: "overload 3×: p99 of admitted vs sustained p99", ours: r.p99Ratio.toFixed(2), target: "≤ 5", pass: r.p99Ratio <= 5 },
    {
      name: `overload 3×: peak RSS per runner vs sustained (${r.overload.rssPerRunner.map(mib).join(", ")})`,
      ours: r.rssRatio.toFixed(2),
      target: "≤ 1.5",
      pass: r.rssRatio <= 1.5,
    },
    {
      name: `overload 3×: runners alive, counters = admitted (${r.counterSum} vs ${r.overload.admitted})`,
      ours: r.runnersAlive && r.counterSum === r.overload.admitted ? "yes" : "no",
      target: "yes",
      pass: r.runnersAlive && r.counterSum === r.overload.admitted,
    },
  ];
}

// On its own: a 3-runner cluster with the bench's bounds, this case, and its table.
if (import.meta.url === `file://${process.argv[1]}`) {
  const argSeconds = process.argv.indexOf("--seconds");
  const seconds = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 60;
  const repo = join(import.meta.dirname, "..", "..");
  const state = mkdtempSync(join(tmpdir(), "bench-overload-"));
  const sh = (...args: string[]) =>
    promisify(execFile)("bash", [join(repo, "scripts", "cluster.sh"), ...args], {
      cwd: repo,
      env: { ...process.env, LOG_LEVEL: "warn", ...OVERLOAD_ENV },
    });
  try {
    await sh("up", "--runners", "3", "--state", state);
    const result = await measureOverload(new ClusterHarness(state), 64, 10, seconds);
    console.log(JSON.stringify(result, null, 2));
    printTable(
      "Overload (3× the sustained rate)",
      overloadVerdicts(result).map((v) => ({ case: v.name, ours: v.ours, target: v.target, result: v.pass ? "pass" : "FAIL" })),
    );
    console.log(`results: ${writeResults("overload", result)}`);
  } catch (error) {
    // What the runners said last, before their state goes.
    const tails = await promisify(execFile)("bash", ["-c", `tail -n 20 ${state}/runner-*/runner.log`]).catch(() => ({ stdout: "" }));
    console.error(tails.stdout);
    throw error;
  } finally {
    await sh("down", "--state", state).catch(() => {});
    rmSync(state, { recursive: true, force: true });
  }
}
