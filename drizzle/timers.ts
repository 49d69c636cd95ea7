import { sql } from "drizzle-orm";
import { bigint, index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Durable timers, one row per (entity, timer id). The entity's own state is the authority on which
 * timers are pending (it commits in the same transaction as these rows); this table is what a
 * shard's new owner reads to rebuild its schedule without loading every entity. `key_hash` is the
 * stable hash of the entity id, so a shard's rows are found whatever SHARD_COUNT is.
 * `status` is `pending`: a fired or cancelled timer's row is deleted (a row updated to `fired`
 * instead cost a new row version and index entries on every fire, for nobody to read). Runners of
 * before that marked fired rows, which are pruned after a day; the column stays while such
 * runners may share the database (a rolling upgrade).
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
    status: text("status", { enum: ["pending", "fired"] }).notNull(),
    firedAt: timestamp("fired_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    primaryKey({ columns: [t.entityType, t.entityId, t.timerId] }),
    index("entity_timers_pending").on(t.keyHash).where(sql`${t.status} = 'pending'`),
    index("entity_timers_fired").on(t.firedAt).where(sql`${t.status} = 'fired'`),
  ],
);
