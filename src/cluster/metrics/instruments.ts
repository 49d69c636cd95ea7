import * as prom from "prom-client";

/**
 * Typed instruments over prom-client, or no-ops when metrics are off (METRICS=off): the code that
 * records never checks. Label names are fixed per instrument; label *values* must come from bounded
 * sets (registered names, error codes, route templates), never from ids, keys or raw paths.
 */
export type Labels<L extends string> = Readonly<Record<L, string>>;

export interface Counter<L extends string> {
  inc(labels: Labels<L>, value?: number): void;
}
export interface Gauge<L extends string> {
  inc(labels: Labels<L>, value?: number): void;
  dec(labels: Labels<L>, value?: number): void;
}
export interface Histogram<L extends string> {
  observe(labels: Labels<L>, value: number): void;
}
/** Read at scrape time: one value per label set. */
export type Reading<L extends string> = () => Iterable<readonly [Labels<L>, number]>;

const NOOP = { inc() {}, dec() {}, observe() {} };

/** Latency buckets in seconds: 0.5 ms to 10 s. */
export const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** prom-client's metrics read from /proc/self. */
const PROC_SELF_METRICS = ["process_resident_memory_bytes", "process_virtual_memory_bytes", "process_heap_bytes", "process_open_fds"];

/** Makes instruments in one registry (one per Cluster: a test process may host several). */
export class Instruments {
  readonly registry = new prom.Registry();

  constructor(readonly enabled: boolean) {}

  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    if (!this.enabled) return NOOP;
    return new prom.Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    if (!this.enabled) return NOOP;
    return new prom.Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  /** A gauge whose values are read when scraped (counts the runner keeps anyway). */
  reading<L extends string>(name: string, help: string, labelNames: readonly L[], read: Reading<L>): void {
    if (!this.enabled) return;
    new prom.Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels as prom.LabelValues<L>, value);
      },
    });
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets = SECONDS_BUCKETS): Histogram<L> {
    if (!this.enabled) return NOOP;
    return new prom.Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  /**
   * The process metrics of prom-client (CPU, memory, heap, GC, event-loop lag, handles). On Deno
   * none throws, but those read from /proc/self would read 0 (Deno allows /proc/self only with
   * --allow-all, which the runner does not ask for): they are dropped there, and resident memory
   * comes from process.memoryUsage() instead. Deno has no GC performance entries, so
   * nodejs_gc_duration_seconds stays empty on it.
   */
  processMetrics(): void {
    if (!this.enabled) return;
    prom.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    if (!("Deno" in globalThis)) return;
    for (const name of PROC_SELF_METRICS) this.registry.removeSingleMetric(name);
    this.reading("process_resident_memory_bytes", "Resident memory size in bytes.", [], () => [[{}, process.memoryUsage().rss]]);
  }

  /** The Prometheus text exposition of every instrument. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
