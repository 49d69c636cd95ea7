import { z } from "zod";
import { entity, internalRpc, rpc } from "./entity.ts";
import { NonNegativeInt, Null, Timestamp } from "./values.ts";

/** The ticker singleton's name; its durable state is the entity with this id, on its shard. */
export const TICKER_NAME = "SingletonTicker";

export const TickerState = z.object({
  runner_id: z.string().nullable(),
  tick_count: NonNegativeInt,
  last_tick_at: Timestamp.nullable(),
  /** Set by the host's shutdown hook as it hands the ticker over; the next host clears it. */
  graceful_shutdown_at: Timestamp.nullable(),
  /** What the current host found when it started: the previous host and its marker (null after a crash). */
  previous_host: z.object({ runner_id: z.string(), graceful_shutdown_at: Timestamp.nullable() }).nullable(),
});
export type TickerState = z.infer<typeof TickerState>;

/**
 * The second test singleton: a ticker with a persisted lifecycle. More `/singleton/*` routes,
 * addressing its state entity `TICKER_NAME` (a fixed id, like the first singleton's).
 */
export const ticker = entity(
  "SingletonTicker",
  "/singleton",
  {
    state: rpc("GET /state", {}, TickerState),
    tickCount: rpc("GET /tick-count", {}, NonNegativeInt),
    /** The tick count goes back to 0; the ticker goes on from there. */
    reset: rpc("POST /reset", {}, Null),
    started: internalRpc("mutation", { runner: z.string().min(1) }, Null),
    tick: internalRpc("mutation", {}, NonNegativeInt),
    shuttingDown: internalRpc("mutation", {}, Null),
  },
  { fixedId: TICKER_NAME },
);
