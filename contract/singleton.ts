import { z } from "zod";
import { internalEntity } from "./entity.ts";
import { procedure } from "./procedure.ts";
import { NonNegativeInt, Null, Timestamp } from "./values.ts";

export const LeaderRecord = z.object({
  runner_id: z.string(),
  became_leader_at: Timestamp,
  lost_leadership_at: Timestamp.nullable(),
});
export type LeaderRecord = z.infer<typeof LeaderRecord>;

const none = z.object({});

/** The name the test singleton is registered under; its state entity has this id. */
export const SINGLETON_NAME = "SingletonTest";

/**
 * The durable state of the test singleton, an entity on the singleton's own shard (so it lives on
 * the singleton's host): the sequence never repeats across failover, and leadership is recorded.
 */
export const singletonState = internalEntity("SingletonTest", {
  nextSequence: { kind: "mutation", args: none, output: NonNegativeInt },
  resetSequence: { kind: "mutation", args: none, output: Null },
  leaderHistory: { kind: "query", args: none, output: z.array(LeaderRecord) },
  currentRunner: { kind: "query", args: none, output: z.string() },
  clearHistory: { kind: "mutation", args: none, output: Null },
  becameLeader: { kind: "mutation", args: z.object({ runner: z.string().min(1) }), output: Null },
});

export const singleton = {
  nextSequence: procedure("POST /singleton/next-sequence", none, NonNegativeInt),
  leaderHistory: procedure("GET /singleton/leader-history", none, z.array(LeaderRecord)),
  currentRunner: procedure("GET /singleton/current-runner", none, z.string()),
  clearHistory: procedure("POST /singleton/clear-history", none, Null),
  resetSequence: procedure("POST /singleton/reset-sequence", none, Null),
};
