import { bigint, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Pending durable timers, one row per (entity, timer id). The entity's own state is the authority
 * on which timers are pending (it commits in the same transaction as these rows); this table is
 * what a shard's new owner reads to rebuild its schedule without loading every entity. `key_hash`
 * is the stable hash of the entity id, so a shard's rows are found whatever SHARD_COUNT is. A
 * timer's row is deleted when it fires or is cancelled: its fire is recorded where it is handled
 * (the entity's onTimer, a durable wait's journal entry), and a row updated instead cost a new
 * row version and index entries on every fire (migration 0010).
 */
export const entityTimers = pgTable(
  "entity_timers",
  {
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    timerId: text("timer_id").notNull(),
    keyHash: bigint("key_hash", { mode: "number" }).notNull(),
    scheduledAt: timestamp("scheduled_at", { withTimezone: true, mode: "date" }).notNull(),
    fireAt: timestamp("fire_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.entityType, t.entityId, t.timerId] })],
);
