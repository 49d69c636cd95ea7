import { bigserial, index, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * One row per run of a cluster singleton: where it ran and when. A run refreshes `last_seen_at`
 * while its runner still owns the singleton's shard, and sets `stopped_at` when it stops cleanly;
 * a run cut short by a crash ends at its last `last_seen_at`. Runs of one singleton never overlap.
 */
export const singletonRuns = pgTable(
  "singleton_runs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    name: text("name").notNull(),
    runner: text("runner").notNull(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date", precision: 3 }).notNull(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true, mode: "date", precision: 3 }).notNull(),
    stoppedAt: timestamp("stopped_at", { withTimezone: true, mode: "date", precision: 3 }),
  },
  (t) => [index("singleton_runs_name_started").on(t.name, t.startedAt)],
);
