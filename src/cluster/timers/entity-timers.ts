import { z } from "zod";
import type { EntityAddress } from "../entity/address.ts";
import type { TurnContext } from "../entity/definition.ts";
import { dictionary } from "../entity/dictionary.ts";
import type { StateSection } from "../entity/state-layout.ts";
import { badRequest, ClusterError } from "../errors.ts";
import { deleteTimer, markTimerFired, type TimerKey, upsertTimer } from "../storage/timer-store.ts";

/**
 * An entity's pending timers live in its own state, under this key: the state is the authority
 * (it is fenced by the version check, rolled back with a failed turn, and current within a group
 * commit), and the timer rows written in the same transaction are the index a shard's owner loads.
 * So `cancel` knows at once whether a timer was pending, and a fire applies only if its timer is
 * still pending: once, however often it is attempted.
 */
const TIMERS_KEY = "$timers";

const Pending = z.object({ scheduled_at: z.iso.datetime(), fire_at: z.iso.datetime() });
type Pending = z.infer<typeof Pending>;
/** Timer id → pending timer, with a null prototype: any string is a plain id. */
type Table = Record<string, Pending>;

const TableSchema = dictionary(Pending);

/** The timers' part of an entity's state. */
export const timersSection: StateSection = {
  owner: "timers",
  keys: [TIMERS_KEY],
  decode: (stored) => ({ [TIMERS_KEY]: TableSchema.parse(stored[TIMERS_KEY] ?? {}) }),
  initial: () => ({ [TIMERS_KEY]: Object.create(null) as Table }),
};

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

/** What a fire turn did: fired, found nothing pending (cancelled, replaced, fired already), or found it not due yet. */
export type FireOutcome = { readonly kind: "fired" } | { readonly kind: "gone" } | { readonly kind: "early"; readonly fireAt: number };

/** The timers of the entity whose state is `state`, as one turn sees and changes them. */
export class EntityTimers implements Timers {
  private readonly table: Table;

  constructor(
    state: unknown,
    private readonly turn: TurnContext,
    /** False in queries: they never commit, so they must not change timers. */
    private readonly writable: boolean,
  ) {
    this.table = (state as Record<string, Table>)[TIMERS_KEY] as Table;
  }

  schedule(timerId: string, delayMs: number): void {
    this.checkWritable();
    if (timerId.length === 0) throw badRequest("a timer id must not be empty");
    const scheduledAt = this.turn.now;
    const fireAt = new Date(scheduledAt.getTime() + Math.ceil(delayMs));
    if (!(delayMs >= 0) || Number.isNaN(fireAt.getTime()))
      throw badRequest(`timer delay must be a number of milliseconds ≥ 0, got ${delayMs}`);
    this.table[timerId] = { scheduled_at: scheduledAt.toISOString(), fire_at: fireAt.toISOString() };
    this.turn.transact(upsertTimer(this.key(timerId), scheduledAt, fireAt));
    this.turn.afterCommit(() => this.turn.timerSink?.scheduled(this.turn.self, timerId, fireAt.getTime()));
  }

  cancel(timerId: string): boolean {
    this.checkWritable();
    if (!(timerId in this.table)) return false;
    delete this.table[timerId];
    this.turn.transact(deleteTimer(this.key(timerId)));
    this.turn.afterCommit(() => this.turn.timerSink?.cancelled(this.turn.self, timerId));
    return true;
  }

  pending(): PendingTimer[] {
    return Object.entries(this.table)
      .map(([timer_id, p]) => ({ timer_id, ...p }))
      .sort((a, b) => Date.parse(a.fire_at) - Date.parse(b.fire_at));
  }

  /** For the fire turn: takes `timerId` out of the pending ones if it is due, and records the fire. */
  takeDue(timerId: string): TimerEvent | FireOutcome {
    const pending = this.table[timerId];
    if (!pending) return { kind: "gone" };
    const fireAt = Date.parse(pending.fire_at);
    if (fireAt > this.turn.now.getTime()) return { kind: "early", fireAt };
    delete this.table[timerId];
    this.turn.transact(markTimerFired(this.key(timerId), this.turn.now));
    return { timer_id: timerId, ...pending, fired_at: this.turn.now.toISOString() };
  }

  private key(timerId: string): TimerKey {
    return { type: this.turn.self.type, id: this.turn.self.id, timerId };
  }

  private checkWritable(): void {
    if (!this.writable) throw new ClusterError("INTERNAL", `${this.turn.self.type}: timers can only be changed by mutations`);
  }
}

/** `ctx.timers` of entities defined without `onTimer`. */
export function noTimers(entity: string): Timers {
  const refuse = (): never => {
    throw new ClusterError("INTERNAL", `entity ${entity} does not handle timers: give defineEntity an onTimer handler`);
  };
  return { schedule: refuse, cancel: refuse, pending: refuse };
}
