import { z } from "zod";
import { procedure } from "./procedure.ts";
import { NonNegativeInt, Null, Timestamp } from "./values.ts";

export const LeaderRecord = z.object({
  runner_id: z.string(),
  became_leader_at: Timestamp,
  lost_leadership_at: Timestamp.nullable(),
});
export type LeaderRecord = z.infer<typeof LeaderRecord>;

const none = z.object({});

export const singleton = {
  nextSequence: procedure("POST /singleton/next-sequence", none, NonNegativeInt),
  leaderHistory: procedure("GET /singleton/leader-history", none, z.array(LeaderRecord)),
  currentRunner: procedure("GET /singleton/current-runner", none, z.string()),
  clearHistory: procedure("POST /singleton/clear-history", none, Null),
  resetSequence: procedure("POST /singleton/reset-sequence", none, Null),
};
