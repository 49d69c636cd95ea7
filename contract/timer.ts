import { z } from "zod";
import { entity, rpc } from "./entity.ts";
import { Name, Null, Timestamp } from "./values.ts";

/** Longest accepted timer delay: 30 days. */
export const MAX_TIMER_DELAY_MS = 30 * 24 * 3600 * 1000;

export const TimerFire = z.object({ timer_id: z.string(), scheduled_at: Timestamp, fired_at: Timestamp });
export type TimerFire = z.infer<typeof TimerFire>;

/** A pending timer as the API shows it (the framework's PendingTimer, on the wire). */
export const TimerInfo = z.object({ timer_id: z.string(), scheduled_at: Timestamp, fire_at: Timestamp });
export type TimerInfo = z.infer<typeof TimerInfo>;

const DelayMs = z.number().int().min(0, "delay_ms must be ≥ 0").max(MAX_TIMER_DELAY_MS, `delay_ms must be ≤ ${MAX_TIMER_DELAY_MS}`);

export const timer = entity("TimerTest", "/timer/{id}", {
  schedule: rpc("POST /schedule", { timer_id: Name, delay_ms: DelayMs }, Null),
  cancel: rpc("POST /cancel", { timer_id: Name }, z.boolean()),
  fires: rpc("GET /fires", {}, z.array(TimerFire)),
  clearFires: rpc("POST /clear-fires", {}, Null),
  pending: rpc("GET /pending", {}, z.array(TimerInfo)),
});
