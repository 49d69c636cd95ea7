import { and, asc, eq, inArray, lt, sql } from "drizzle-orm";
import { entityTimers } from "../../../../drizzle/schema.ts";
import { keyHash, type ShardId } from "../../ownership/shard.ts";
import type { Database } from "../database.ts";
import type { ListedTimer, StoredTimer, TimerFilter, TimerKey, TimerStore, TimerWrites } from "./store.ts";

const row = (key: TimerKey) =>
  and(eq(entityTimers.entityType, key.type), eq(entityTimers.entityId, key.id), eq(entityTimers.timerId, key.timerId));

export const sqlTimerWrites: TimerWrites = {
  upsert: (key, scheduledAt, fireAt) => async (tx) => {
    const values = { scheduledAt, fireAt, status: "pending" as const, firedAt: null };
    await tx
      .insert(entityTimers)
      .values({ entityType: key.type, entityId: key.id, timerId: key.timerId, keyHash: keyHash(key.id), ...values })
      .onConflictDoUpdate({ target: [entityTimers.entityType, entityTimers.entityId, entityTimers.timerId], set: values });
  },
  remove: (key) => async (tx) => {
    await tx.delete(entityTimers).where(and(row(key), eq(entityTimers.status, "pending")));
  },
  markFired: (key, firedAt) => async (tx) => {
    await tx
      .update(entityTimers)
      .set({ status: "fired", firedAt })
      .where(and(row(key), eq(entityTimers.status, "pending")));
  },
};

export class SqlTimerStore implements TimerStore {
  constructor(
    private readonly db: Database,
    private readonly shardCount: number,
  ) {}

  /** Every pending timer of entities in `shards`. */
  async loadPending(shards: readonly ShardId[]): Promise<StoredTimer[]> {
    if (shards.length === 0) return [];
    const pending = eq(entityTimers.status, "pending");
    const all = new Set(shards).size === this.shardCount;
    return this.db
      .select({
        entityType: entityTimers.entityType,
        entityId: entityTimers.entityId,
        timerId: entityTimers.timerId,
        fireAt: entityTimers.fireAt,
      })
      .from(entityTimers)
      .where(all ? pending : and(pending, inArray(sql`mod(${entityTimers.keyHash}, ${this.shardCount})`, [...shards])));
  }

  async listPending(filter: TimerFilter): Promise<ListedTimer[]> {
    const t = entityTimers;
    return this.db
      .select({ entityType: t.entityType, entityId: t.entityId, timerId: t.timerId, scheduledAt: t.scheduledAt, fireAt: t.fireAt })
      .from(t)
      .where(
        and(
          eq(t.status, "pending"),
          filter.type === undefined ? undefined : eq(t.entityType, filter.type),
          filter.id === undefined ? undefined : eq(t.entityId, filter.id),
          filter.dueBefore && lt(t.fireAt, filter.dueBefore),
        ),
      )
      .orderBy(asc(t.fireAt), asc(t.entityType), asc(t.entityId), asc(t.timerId))
      .limit(filter.limit);
  }

  /** Forgets fired timers older than `cutoff`: their fires are recorded by the entities. */
  async pruneFired(cutoff: Date): Promise<void> {
    await this.db.delete(entityTimers).where(and(eq(entityTimers.status, "fired"), lt(entityTimers.firedAt, cutoff)));
  }
}
