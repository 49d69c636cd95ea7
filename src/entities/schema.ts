import { bigint, bigserial, index, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The test entities' own tables: the application's schema, apart from the framework's
 * (drizzle/schema.ts). drizzle-kit migrates it from drizzle.entities.config.ts into
 * src/entities/migrations/, which the runner hands to openStorage. Handlers reach these tables
 * through `ctx.sql`, inside their turn's transaction.
 */

/** SqlActivityTest: one row per applied transfer, written with the account's state. */
export const transfers = pgTable(
  "transfers",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    account: text("account").notNull(),
    recipient: text("recipient").notNull(),
    amount: bigint("amount", { mode: "number" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("transfers_account").on(t.account)],
);

/** StatelessCounter: its whole state, one row per counter id. */
export const statelessCounters = pgTable("stateless_counters", {
  id: text("id").primaryKey(),
  value: bigint("value", { mode: "number" }).notNull(),
});

/** ActivityGroupTest: the steps an order went through, one row per activity that ran. */
export const orderSteps = pgTable(
  "order_steps",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    orderId: text("order_id").notNull(),
    step: text("step").notNull(),
    detail: text("detail").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("order_steps_order").on(t.orderId, t.id)],
);
