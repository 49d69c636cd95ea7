import { z } from "zod";
import { LeaderRecord, NonNegativeInt, SINGLETON_NAME, singleton } from "../../contract/index.ts";
import { ClusterError, defineEntity, type SingletonContext } from "../cluster/index.ts";

/** The test singleton's durable state, hosted with the singleton on its shard. */
export const SingletonTest = defineEntity(singleton, {
  state: z.object({ sequence: NonNegativeInt, current_runner: z.string().nullable(), leader_history: z.array(LeaderRecord) }),
  initial: () => ({ sequence: 0, current_runner: null, leader_history: [] }),
  handlers: {
    nextSequence: (s) => ++s.sequence,
    resetSequence: (s) => {
      s.sequence = 0;
      return null;
    },
    leaderHistory: (s) => s.leader_history,
    currentRunner: (s) => {
      if (s.current_runner === null) throw new ClusterError("UNAVAILABLE", "the singleton has not started yet");
      return s.current_runner;
    },
    clearHistory: (s) => {
      s.leader_history = [];
      return null;
    },
    becameLeader: (s, { runner }, ctx) => {
      const at = ctx.now.toISOString();
      for (const record of s.leader_history) record.lost_leadership_at ??= at;
      s.leader_history.push({ runner_id: runner, became_leader_at: at, lost_leadership_at: null });
      s.current_runner = runner;
      return null;
    },
  },
});

/** The singleton itself: records its leadership, then holds it until ownership moves. */
export async function runSingletonTest(ctx: SingletonContext): Promise<void> {
  await ctx.call(singleton, SINGLETON_NAME, "becameLeader", { runner: ctx.runnerId });
  await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
}
