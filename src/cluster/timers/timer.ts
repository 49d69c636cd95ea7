import type { EntityAddress } from "../entity/address.ts";

/** What entities and the runner's timer schedule say of timers (a leaf: both sides import it). */

export interface PendingTimer {
  readonly timer_id: string;
  readonly scheduled_at: string;
  readonly fire_at: string;
}

/** What an entity's `onTimer` handler receives. `fired_at` ≥ `fire_at`, always. */
export interface TimerEvent extends PendingTimer {
  readonly fired_at: string;
}

/** An entity's timers, as its handlers see them (`ctx.timers`). */
export interface Timers {
  /**
   * Fires the entity's `onTimer` with `timerId` once `delayMs` have passed, exactly once whatever
   * crashes or ownership moves happen meanwhile. Scheduling an id that is pending replaces it (the
   * old due time is forgotten). Takes effect when the turn commits; mutations only.
   */
  schedule(timerId: string, delayMs: number): void;
  /** Removes the pending timer `timerId`: false if there was none (never scheduled, fired, cancelled). */
  cancel(timerId: string): boolean;
  /** The pending timers, soonest first. */
  pending(): PendingTimer[];
}

/** Told of committed timer changes: the shard owner's schedule. */
export interface TimerSink {
  scheduled(address: EntityAddress, timerId: string, fireAt: number): void;
  cancelled(address: EntityAddress, timerId: string): void;
}

/**
 * What a fire turn did: fired (`lateMs`: its fired_at − fire_at), found nothing pending (cancelled,
 * replaced, fired already), or found it not due yet.
 */
export type FireOutcome =
  | { readonly kind: "fired"; readonly lateMs: number }
  | { readonly kind: "gone" }
  | { readonly kind: "early"; readonly fireAt: number };
