/** Shared pieces of the benchmarks: closed-loop load, percentiles, table printing. */
import { mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";

/**
 * Load before each measured window. Three runners compiling their hot paths at once on two cores
 * take seconds to reach steady state: consecutive 3 s windows of the spread-entry case ran at
 * 4.6k, 8.4k, 9.2k, 9.4k, 9.4k ops/s. With a 1 s warm-up the measurement was mostly JIT time.
 */
export const WARMUP_SECONDS = 5;

export interface LoadResult {
  readonly ops: number;
  readonly errors: number;
  readonly seconds: number;
  readonly throughput: number;
  readonly p50: number;
  readonly p99: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * Runs `clients` closed loops of `op` for `seconds` after a `warmup` of the same shape, and reports
 * throughput and latency percentiles (milliseconds) of the measured part only.
 */
export async function closedLoop(
  clients: number,
  seconds: number,
  warmup: number,
  op: (client: number) => Promise<void>,
  /** Told when the measured part starts and ends (with its operation count). */
  meter?: { start(): void; stop(ops: number): void },
): Promise<LoadResult> {
  const phase = async (duration: number, record: boolean) => {
    const latencies: number[] = [];
    let errors = 0;
    const end = performance.now() + duration * 1000;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        while (performance.now() < end) {
          const t0 = performance.now();
          try {
            await op(c);
            if (record) latencies.push(performance.now() - t0);
          } catch {
            errors++;
          }
        }
      }),
    );
    return { latencies, errors };
  };
  if (warmup > 0) await phase(warmup, false);
  meter?.start();
  const started = performance.now();
  const { latencies, errors } = await phase(seconds, true);
  const elapsed = (performance.now() - started) / 1000;
  meter?.stop(latencies.length);
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    errors,
    seconds: elapsed,
    throughput: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** Prints rows as an aligned text table. */
export function printTable(title: string, rows: readonly Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0] as object);
  const cell = (v: string | number | undefined) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : (v ?? ""));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i] as number)).join(" | ")} |`;
  console.log(`\n${title}`);
  console.log(line(columns));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(columns.map((c) => cell(r[c]))));
}

/** Writes a benchmark's results as JSON under bench-results/. */
export function writeResults(name: string, data: unknown): string {
  const dir = join(import.meta.dirname, "..", "..", "bench-results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), ...((data as object) ?? {}) }, null, 2)}\n`);
  return file;
}

/**
 * `POST {base}/counter/{id}/increment` over a keep-alive `node:http` agent: a much lighter load
 * generator than `fetch`, which matters when the generator shares two cores with the cluster.
 */
export function incrementer(base: string, sockets: number): (id: string, idempotencyKey?: string) => Promise<void> {
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  return (id, idempotencyKey) =>
    new Promise<void>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { "content-type": "application/json", "content-length": 1 };
      if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
      const request = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: "POST",
          path: `/counter/${encodeURIComponent(id)}/increment`,
          agent,
          headers,
        },
        (response) => {
          response.resume();
          response.on("end", () => (response.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${response.statusCode}`))));
        },
      );
      request.on("error", reject);
      request.end("1");
    });
}
