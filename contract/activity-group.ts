import { z } from "zod";
import { entity, rpc, workflowRpc } from "./entity.ts";
import { NonNegativeInt, SafeInt, Timestamp } from "./values.ts";

export const OrderResult = z.object({
  order_id: z.string(),
  reservation_id: z.string(),
  transaction_id: z.string(),
  confirmation: z.string(),
  summary: z.string(),
});
export const OrderStep = z.object({ step: z.string(), detail: z.string(), created_at: Timestamp });

/**
 * Activity groups: an order (the entity id) processed by a workflow that mixes in the Inventory
 * and Payments groups plus a local `summarize` activity; each records its step in an application table.
 */
export const activityGroup = entity("ActivityGroupTest", "/activity-group/{id}", {
  /** Runs once per order: running it again returns the stored result and records nothing. */
  processOrder: workflowRpc(
    "POST /process-order",
    { item_count: SafeInt.refine((n) => n >= 1, { message: "must be ≥ 1" }), amount: NonNegativeInt },
    OrderResult,
  ),
  /** The steps recorded for this order, in order. */
  orderSteps: rpc("GET /order-steps", {}, z.array(OrderStep)),
});
