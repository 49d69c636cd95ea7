import { z } from "zod";
import type { TurnContext } from "../entity/context.ts";
import { dictionary } from "../entity/dictionary.ts";
import type { StateSection } from "../entity/state-layout.ts";
import { badRequest, ClusterError } from "../errors.ts";
import { sqlTimerWrites as rows } from "../storage/timers/sql.ts";
import type { TimerKey } from "../storage/timers/store.ts";
import type { FireOutcome, PendingTimer, TimerEvent, Timers } from "./timer.ts";

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
    this.turn.transact(rows.upsert(this.key(timerId), scheduledAt, fireAt));
    this.turn.afterCommit(() => this.turn.timerSink?.scheduled(this.turn.self, timerId, fireAt.getTime()));
  }

  cancel(timerId: string): boolean {
    this.checkWritable();
    if (!(timerId in this.table)) return false;
    delete this.table[timerId];
    this.turn.transact(rows.remove(this.key(timerId)));
    this.turn.afterCommit(() => this.turn.timerSink?.cancelled(this.turn.self, timerId));
    return true;
  }

  pending(): PendingTimer[] {
    return Object.entries(this.table)
      .map(([timer_id, p]) => ({ timer_id, ...p }))
      .sort((a, b) => Date.parse(a.fire_at) - Date.parse(b.fire_at));
  }

  /** When the pending timer `timerId` is due (epoch ms), if it is pending: one lookup, not a sorted listing. */
  dueAt(timerId: string): number | undefined {
    const pending = this.table[timerId];
    return pending ? Date.parse(pending.fire_at) : undefined;
  }

  /** For the fire turn: takes `timerId` out of the pending ones if it is due, and records the fire. */
  takeDue(timerId: string): TimerEvent | FireOutcome {
    const pending = this.table[timerId];
    if (!pending) return { kind: "gone" };
    const fireAt = Date.parse(pending.fire_at);
    if (fireAt > this.turn.now.getTime()) return { kind: "early", fireAt };
    delete this.table[timerId];
    // The fire is recorded by whoever handles it (the entity's onTimer, a wait's journal entry): the row goes.
    this.turn.transact(rows.remove(this.key(timerId)));
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
