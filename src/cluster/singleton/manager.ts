import type { EntityContext } from "../entity/context.ts";
import type { Logger } from "../log.ts";
import type { ClusterMetrics } from "../metrics/metrics.ts";
import type { Ownership } from "../ownership/ownership.ts";
import { type ShardId, shardOf } from "../ownership/shard.ts";
import type { SingletonRunStore } from "../storage/singletons/store.ts";

/** What a singleton's `run` gets. */
export interface SingletonContext {
  readonly name: string;
  readonly runnerId: string;
  /** Aborts when this runner stops owning the singleton's shard (or its lease fence drops). */
  readonly signal: AbortSignal;
  /** Calls an entity RPC, wherever the entity lives. */
  readonly call: EntityContext["call"];
}

export type SingletonRun = (ctx: SingletonContext) => Promise<void>;

/** What a shutdown hook gets: its calls are applied on this runner, which still holds the shard. */
export interface SingletonShutdownContext {
  readonly name: string;
  readonly runnerId: string;
  /** Calls an RPC of an entity on the singleton's own shard (its durable state), here. */
  readonly call: EntityContext["call"];
}

export interface SingletonOptions {
  /**
   * Runs once `run` has ended when this runner hands the singleton over gracefully (SIGTERM, a
   * drain, a rebalance), before another runner can start it; never after a crash or a lost lease.
   */
  readonly onShutdown?: (ctx: SingletonShutdownContext) => Promise<void>;
}

interface Entry {
  readonly name: string;
  readonly shard: ShardId;
  readonly run: SingletonRun;
  readonly options: SingletonOptions;
  active?: { controller: AbortController; done: Promise<void> };
  /** Stopping the run (and running the shutdown hook): every halt waits for the same one. */
  halting?: Promise<void>;
  /** No restart before this instant after a run failed. */
  backoffUntil: number;
}

/** How often a run proves it still holds its shard, and how often the fence is checked. */
const HEARTBEAT_MS = 100;

/**
 * Runs each registered singleton on exactly one runner: the owner of `shard(name)`. Starts it when
 * the shard arrives, aborts it (and waits for it) when the shard leaves or the lease fence drops,
 * and records every run's interval in storage so that "never two at once" can be checked.
 */
export class SingletonManager {
  private readonly entries = new Map<string, Entry>();
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly ownership: Ownership,
    private readonly runs: SingletonRunStore,
    private readonly shardCount: number,
    /**
     * Calls routed wherever the entity lives, abandoned once `signal` aborts: a halted run stops
     * waiting for its calls, which the hand-over that halts it may be what holds up (their targets'
     * shards moving too), and no further attempt of them is sent.
     */
    private readonly call: (signal: AbortSignal) => EntityContext["call"],
    /** Applies a call on this runner, bypassing routing: for shutdown hooks, while the shard is handed over. */
    private readonly callHere: EntityContext["call"],
    private readonly log: Logger,
    private readonly metrics: ClusterMetrics,
  ) {
    ownership.subscribe({ acquired: () => this.evaluate(), released: () => this.evaluate() });
  }

  register(name: string, run: SingletonRun, options: SingletonOptions = {}): void {
    if (this.entries.has(name)) throw new Error(`singleton ${name} registered twice`);
    this.entries.set(name, { name, shard: shardOf(name, this.shardCount), run, options, backoffUntil: 0 });
  }

  /** The fence can drop without an ownership event (a paused process): checked on a short tick. */
  start(): void {
    this.ticker = setInterval(() => void this.evaluate(), HEARTBEAT_MS);
    this.ticker.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.ticker);
    await Promise.all([...this.entries.values()].map((e) => this.halt(e)));
  }

  /** Starts what this runner should run and stops what it should not. */
  private async evaluate(): Promise<void> {
    await Promise.all(
      [...this.entries.values()].map((entry) => {
        const owned = this.ownership.isLocal(entry.shard);
        if (owned && !entry.active && !entry.halting && Date.now() >= entry.backoffUntil) this.launch(entry);
        return owned ? undefined : this.halt(entry);
      }),
    );
  }

  private launch(entry: Entry): void {
    const controller = new AbortController();
    const { runnerId } = this.ownership;
    const done = (async () => {
      const startedAt = new Date();
      const runId = await this.runs.started(entry.name, runnerId, startedAt);
      this.log.info({ singleton: entry.name }, "singleton started here");
      const labels = { singleton: entry.name };
      this.metrics.singletons.starts.inc(labels);
      this.metrics.singletons.running.inc(labels);
      let lastSeen = startedAt;
      const heartbeat = setInterval(() => {
        const now = new Date();
        // Only a runner that still owns the shard may extend the run's interval.
        if (!this.ownership.isLocal(entry.shard)) return;
        lastSeen = now;
        this.runs.seen(runId, now).catch(() => {});
      }, HEARTBEAT_MS);
      try {
        await entry.run({
          name: entry.name,
          runnerId,
          signal: controller.signal,
          call: this.call(controller.signal),
        });
        if (!controller.signal.aborted) throw new Error("run returned while still the owner");
      } catch (err) {
        if (!controller.signal.aborted) {
          this.log.error({ err, singleton: entry.name }, "singleton failed; restarting shortly");
          entry.backoffUntil = Date.now() + 1_000;
        }
      } finally {
        clearInterval(heartbeat);
        this.metrics.singletons.running.dec(labels);
        // While the lock is still ours no one else can run it, so "now" is true; after the fence
        // dropped (a paused process waking up) the run provably ended no later than its last beat.
        const stoppedAt = this.ownership.mayCommit(entry.shard) ? new Date() : lastSeen;
        await this.runs.stopped(runId, stoppedAt).catch((err: unknown) => this.log.warn({ err }, "cannot record singleton stop"));
        this.log.info({ singleton: entry.name }, "singleton stopped here");
      }
    })().catch((err: unknown) => this.log.error({ err, singleton: entry.name }, "singleton could not start"));
    entry.active = {
      controller,
      done: done.finally(() => {
        entry.active = undefined;
      }),
    };
  }

  private halt(entry: Entry): Promise<void> {
    const active = entry.active;
    if (entry.halting || !active) return entry.halting ?? Promise.resolve();
    entry.halting = (async () => {
      active.controller.abort();
      await active.done;
      // Graceful only while this runner may still write the shard: a lost lease or a paused process is a crash.
      const hook = entry.options.onShutdown;
      if (!hook || !this.ownership.mayCommit(entry.shard)) return;
      await hook({ name: entry.name, runnerId: this.ownership.runnerId, call: this.callHere }).then(
        () => this.log.info({ singleton: entry.name }, "singleton shutdown hook done"),
        (err: unknown) => this.log.warn({ err, singleton: entry.name }, "singleton shutdown hook failed"),
      );
    })().finally(() => {
      entry.halting = undefined;
    });
    return entry.halting;
  }
}
