import { z } from "zod";
import { entity, internalRpc, rpc } from "./entity.ts";
import { NonNegativeInt, Null, Timestamp } from "./values.ts";

export const LeaderRecord = z.object({
  runner_id: z.string(),
  became_leader_at: Timestamp,
  lost_leadership_at: Timestamp.nullable(),
});
export type LeaderRecord = z.infer<typeof LeaderRecord>;

/** The name the test singleton is registered under; its state entity has this id. */
export const SINGLETON_NAME = "SingletonTest";

/**
 * The test singleton's routes, and the durable state behind them: an entity on the singleton's own
 * shard (so it lives on the singleton's host), whose sequence never repeats across failover and
 * which records each leadership change. Every route addresses the one entity `SINGLETON_NAME`.
 */
export const singleton = entity(
  "SingletonTest",
  "/singleton",
  {
    nextSequence: rpc("POST /next-sequence", {}, NonNegativeInt),
    leaderHistory: rpc("GET /leader-history", {}, z.array(LeaderRecord)),
    currentRunner: rpc("GET /current-runner", {}, z.string()),
    clearHistory: rpc("POST /clear-history", {}, Null),
    resetSequence: rpc("POST /reset-sequence", {}, Null),
    /** The singleton, starting on a runner, records its leadership. */
    becameLeader: internalRpc("mutation", { runner: z.string().min(1) }, Null),
  },
  { fixedId: SINGLETON_NAME },
);
