import type { TxWrite } from "../../entity/context.ts";
import type { ShardId } from "../../ownership/shard.ts";

/** Which timer: the entity's type and id, and the timer's id within the entity. */
export interface TimerKey {
  readonly type: string;
  readonly id: string;
  readonly timerId: string;
}

/** A pending timer as a shard's owner loads it. */
export interface StoredTimer {
  readonly entityType: string;
  readonly entityId: string;
  readonly timerId: string;
  readonly fireAt: Date;
}

/**
 * The timers table is the index of pending timers a shard's owner loads; the entity's state is the
 * authority. These writes run in the entity's turns, in the transaction that commits its state.
 */
export interface TimerWrites {
  /** The row of a newly scheduled timer; it replaces whatever the same timer id had. */
  upsert(key: TimerKey, scheduledAt: Date, fireAt: Date): TxWrite;
  /** Deletes the timer's row if it is still pending (it fired, or was cancelled). */
  remove(key: TimerKey): TxWrite;
}

/** Which pending timers the operator API lists, soonest first. */
export interface TimerFilter {
  readonly type?: string | undefined;
  readonly id?: string | undefined;
  readonly dueBefore?: Date | undefined;
  readonly limit: number;
}

/** A pending timer as the operator API lists it. */
export interface ListedTimer extends StoredTimer {
  readonly scheduledAt: Date;
}

/** What a shard's owner reads of the timers table, and its housekeeping. */
export interface TimerStore {
  /** Pending timers across the cluster, soonest first (the index: a turn in flight may have just changed one). */
  listPending(filter: TimerFilter): Promise<ListedTimer[]>;
  /** Every pending timer of entities in `shards`. */
  loadPending(shards: readonly ShardId[]): Promise<StoredTimer[]>;
  /**
   * Forgets timer rows marked fired before `cutoff`. Runners delete a fired timer's row now; older
   * ones marked it fired, and may still do so during a rolling upgrade.
   */
  pruneFired(cutoff: Date): Promise<void>;
}
