import { sql } from "drizzle-orm";
import { bigint, index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * One row per entity that has ever committed a turn. `state` is the JSON text exactly as the
 * runtime serialized it (text, not jsonb, so key order and content round-trip byte for byte).
 * `version` is the storage fence: every write is a compare-and-set on it. `forwarded_replies` holds
 * the replies to forwarded calls that their routers may still retry (entity/forwarded-replies.ts),
 * written with the state instead of a row each; null or "" when there are none.
 */
export const entityState = pgTable(
  "entity_state",
  {
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    state: text("state").notNull(),
    version: bigint("version", { mode: "number" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    forwardedReplies: text("forwarded_replies"),
  },
  (t) => [primaryKey({ columns: [t.entityType, t.entityId] })],
);

/**
 * Replies of mutations that carried a request id, committed in the same transaction as the state
 * they produced: a retried call finds its reply here instead of applying twice. `expires_at` is
 * when no retry can come any more: 24 h after commit for a client's Idempotency-Key. (Replies to
 * forwarded calls live in the state row; a row here of one is a retry's, or an older runner's.)
 */
export const entityReplies = pgTable(
  "entity_replies",
  {
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    requestId: text("request_id").notNull(),
    reply: text("reply").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull().default(sql`now() + interval '24 hours'`),
  },
  // BRIN: replies are inserted in expiry order (all keep 24 h), so block ranges say where the
  // expired ones are at almost no cost per insert, where a btree entry cost each reply.
  (t) => [primaryKey({ columns: [t.entityType, t.entityId, t.requestId] }), index("entity_replies_expiry_brin").using("brin", t.expiresAt)],
);
export * from "./singletons.ts";
export * from "./timers.ts";
export * from "./workflows.ts";
