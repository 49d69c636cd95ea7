import { backoffDelay } from "../backoff.ts";
import { addressKey, type EntityAddress, formatAddress } from "../entity/address.ts";
import { ClusterError } from "../errors.ts";
import { limits } from "../limits.ts";
import type { Logger } from "../log.ts";
import { type ClusterMetrics, noMetrics } from "../metrics/metrics.ts";
import type { ShardListener } from "../ownership/ownership.ts";
import type { ShardId } from "../ownership/shard.ts";
import type { StoredTimer } from "../storage/timers/store.ts";
import { type ScheduledTimer, TimerSchedule } from "./schedule.ts";
import type { FireOutcome, TimerSink } from "./timer.ts";

export interface TimerServiceOptions {
  /** The pending timers of `shards`, from storage. */
  readonly load: (shards: readonly ShardId[]) => Promise<readonly StoredTimer[]>;
  /** Runs the fire turn of a timer on its entity. */
  readonly fire: (address: EntityAddress, timerId: string) => Promise<FireOutcome>;
  readonly address: (type: string, id: string) => EntityAddress;
  readonly log: Logger;
  /** Most fire turns in flight at once. */
  readonly maxInFlight?: number;
  readonly metrics?: ClusterMetrics;
}

/** Longest the one OS timer is set for; later due times re-arm it (setTimeout caps at ~24.8 days). */
const MAX_ARM_MS = 3_600_000;
/**
 * Retry backoff after a failed fire: 50 ms, doubling, at most 30 s; at most 1 s when the fire was
 * refused for ownership while the shard is still ours (its acquisition is finishing, or the lease
 * fence is down until the next keep-alive): that clears up without anyone fixing anything.
 */
export const retryDelay = (attempt: number, ownership: boolean) =>
  backoffDelay(attempt, { firstMs: 50, maxMs: ownership ? 1_000 : 30_000, jitter: false });

/**
 * The schedule of the timers of the shards this runner owns: loaded from storage when shards
 * arrive, dropped when they leave, kept current by the entities' committed timer changes. One OS
 * timer is armed, for the earliest due time, however many timers are pending. A due timer is fired
 * by a turn on its entity, which applies only if the timer is still pending and due (the entity's
 * state decides, so a stale or repeated attempt is harmless); a failed attempt is retried with
 * backoff for as long as this runner owns the shard.
 */
export class TimerService implements TimerSink, ShardListener {
  private readonly schedule = new TimerSchedule();
  /** The shards served here, each with the acquisition it came with: a load that ends after its shard left is dropped. */
  private readonly owned = new Map<ShardId, number>();
  private acquisitions = 0;
  private handle: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;
  private inFlight = 0;
  private stopped = false;

  constructor(private readonly options: TimerServiceOptions) {}

  /** Timers scheduled here (fires in flight excluded). */
  get size(): number {
    return this.schedule.size;
  }

  async acquired(shards: readonly ShardId[]): Promise<void> {
    const acquisition = ++this.acquisitions;
    for (const s of shards) this.owned.set(s, acquisition);
    let rows: readonly StoredTimer[];
    try {
      rows = await this.options.load(shards);
    } catch (error) {
      for (const s of shards) if (this.owned.get(s) === acquisition) this.owned.delete(s);
      throw new ClusterError("UNAVAILABLE", `cannot load the timers of ${shards.length} shard(s): ${String(error)}`, { cause: error });
    }
    let loaded = 0;
    for (const row of rows) {
      const address = this.options.address(row.entityType, row.entityId);
      if (this.owned.get(address.shard) !== acquisition) continue;
      this.schedule.set(scheduled(address, row.timerId, row.fireAt.getTime(), 0));
      loaded++;
    }
    if (loaded > 0) this.options.log.info({ shards: shards.length, timers: loaded }, "pending timers loaded");
    this.pump();
  }

  released(shards: readonly ShardId[]): void {
    const leaving = new Set(shards);
    for (const s of leaving) this.owned.delete(s);
    this.schedule.deleteWhere((t) => leaving.has(t.address.shard));
    this.arm();
  }

  scheduled(address: EntityAddress, timerId: string, fireAt: number): void {
    // A turn that committed while its shard was being handed over: the next owner loads the row.
    if (!this.owned.has(address.shard)) return;
    this.schedule.set(scheduled(address, timerId, fireAt, 0));
    this.arm();
  }

  cancelled(address: EntityAddress, timerId: string): void {
    this.schedule.delete(timerKey(address, timerId));
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.handle);
    this.schedule.clear();
    this.owned.clear();
  }

  private get maxInFlight(): number {
    return this.options.maxInFlight ?? limits.timerFiresInFlight;
  }

  /** Starts the fires that are due (as many as may be in flight), then arms for the next. */
  private pump(): void {
    if (this.stopped) return;
    const now = Date.now();
    while (this.inFlight < this.maxInFlight) {
      const due = this.schedule.popDue(now);
      if (!due) break;
      void this.dispatch(due);
    }
    this.arm();
  }

  /** Sets the one OS timer for the earliest due time; none while the in-flight limit is reached. */
  private arm(): void {
    if (this.stopped) return;
    const next = this.inFlight < this.maxInFlight ? this.schedule.nextAt() : undefined;
    if (next === this.armedFor && (next === undefined || this.handle)) return;
    clearTimeout(this.handle);
    this.handle = undefined;
    this.armedFor = next;
    if (next === undefined) return;
    this.handle = setTimeout(
      () => {
        this.handle = undefined;
        this.armedFor = undefined;
        this.pump();
      },
      Math.min(Math.max(0, next - Date.now()), MAX_ARM_MS),
    );
    this.handle.unref();
  }

  private async dispatch(timer: ScheduledTimer): Promise<void> {
    this.inFlight++;
    try {
      const outcome = await this.options.fire(timer.address, timer.timerId);
      if (outcome.kind === "fired") {
        const m = (this.options.metrics ?? noMetrics).timers;
        m.fires.inc({});
        m.lateness.observe({}, outcome.lateMs / 1000);
      }
      // Not due yet by the entity's state (this entry was stale): wait for the real due time.
      if (outcome.kind === "early") this.retry(timer, outcome.fireAt, 0);
    } catch (error) {
      const attempt = timer.attempt + 1;
      const ownership = error instanceof ClusterError && error.code === "NOT_OWNER";
      const log = { err: error, entity: formatAddress(timer.address), timer: timer.timerId, attempt };
      if (ownership) this.options.log.debug(log, "timer fire refused; retrying while the shard is here");
      else this.options.log.warn(log, "timer fire failed; retrying");
      this.retry(timer, Date.now() + retryDelay(attempt, ownership), attempt);
    } finally {
      this.inFlight--;
      this.pump();
    }
  }

  /** Schedules another attempt, unless the shard left or the timer was scheduled anew meanwhile. */
  private retry(timer: ScheduledTimer, fireAt: number, attempt: number): void {
    if (!this.owned.has(timer.address.shard) || this.schedule.has(timer.key)) return;
    this.schedule.set({ ...timer, fireAt, attempt });
  }
}

function timerKey(address: EntityAddress, timerId: string): string {
  return `${addressKey(address.type, address.id)}\u0000${timerId}`;
}

function scheduled(address: EntityAddress, timerId: string, fireAt: number, attempt: number): ScheduledTimer {
  return { key: timerKey(address, timerId), address, timerId, fireAt, attempt };
}
