import { and, asc, eq, inArray, lt, sql } from "drizzle-orm";
import { entityTimers } from "../../../../drizzle/schema.ts";
import { keyHash, type ShardId } from "../../ownership/shard.ts";
import type { Database } from "../database.ts";
import { type SetForm, setRows } from "../statement.ts";
import type { ListedTimer, StoredTimer, TimerFilter, TimerKey, TimerStore, TimerWrites } from "./store.ts";

const TIMER = "entity_type = $1 and entity_id = $2 and timer_id = $3";
const UPSERT = `
  insert into entity_timers (entity_type, entity_id, timer_id, key_hash, scheduled_at, fire_at, status, fired_at)
  values ($1, $2, $3, ($4::text)::bigint, $5::timestamptz, $6::timestamptz, 'pending', null)
  on conflict (entity_type, entity_id, timer_id) do update
    set scheduled_at = excluded.scheduled_at, fire_at = excluded.fire_at, status = 'pending', fired_at = null`;
const REMOVE = `delete from entity_timers where ${TIMER} and status = 'pending'`;
// Their set forms (`SetForm`: $1, $2 the entity, $3 the rows of table k).
const UPSERT_SET = `
  insert into entity_timers (entity_type, entity_id, timer_id, key_hash, scheduled_at, fire_at, status, fired_at)
  select $1, $2, k.t, k.h, k.s, k.f, 'pending', null from ${setRows("t text, h bigint, s timestamptz, f timestamptz")}
  on conflict (entity_type, entity_id, timer_id) do update
    set scheduled_at = excluded.scheduled_at, fire_at = excluded.fire_at, status = 'pending', fired_at = null`;
const REMOVE_SET = `
  delete from entity_timers x using ${setRows("t text")}
  where x.entity_type = $1 and x.entity_id = $2 and x.timer_id = k.t and x.status = 'pending'`;

const onTimer = (key: TimerKey, text: string, row: SetForm["row"]): SetForm => ({
  text,
  entity: [key.type, key.id],
  row: { t: key.timerId, ...row },
  touches: `timer\u0000${key.timerId}`,
});

/** The timer rows' writes, as statements: each runs in a turn, most in a commit of one round trip. */
export const sqlTimerWrites: TimerWrites = {
  upsert: (key, scheduledAt, fireAt) => {
    const [h, s, f] = [String(keyHash(key.id)), scheduledAt.toISOString(), fireAt.toISOString()];
    return { text: UPSERT, params: [key.type, key.id, key.timerId, h, s, f], many: onTimer(key, UPSERT_SET, { h, s, f }) };
  },
  remove: (key) => ({ text: REMOVE, params: [key.type, key.id, key.timerId], many: onTimer(key, REMOVE_SET, {}) }),
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

  /** Forgets rows marked fired before `cutoff` (by runners of before the delete on fire). */
  async pruneFired(cutoff: Date): Promise<void> {
    await this.db.delete(entityTimers).where(and(eq(entityTimers.status, "fired"), lt(entityTimers.firedAt, cutoff)));
  }
}
