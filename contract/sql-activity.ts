import { z } from "zod";
import { entity, rpc, workflowRpc } from "./entity.ts";
import { EntityId, NonNegativeInt, SafeInt } from "./values.ts";

/** A transfer's amount: a positive exact integer. */
export const TransferAmount = SafeInt.refine((n) => n >= 1, { message: "must be ≥ 1" });
const Transfer = { to_entity: EntityId, amount: TransferAmount };

export const SqlAccountState = z.object({ account_id: z.string(), transfer_count: NonNegativeInt, total_transferred: NonNegativeInt });

/**
 * Application SQL inside a turn's transaction: each transfer's activity changes the account's
 * state and inserts a row into the application's `transfers` table, in one transaction.
 */
export const sqlActivity = entity("SqlActivityTest", "/sql-activity/{id}", {
  /** Applies the transfer once per (account, recipient, amount); returns the new transfer count. */
  transfer: workflowRpc("POST /transfer", Transfer, NonNegativeInt),
  /** Its activity changes the state and inserts the row, then throws: neither is kept (422). */
  failingTransfer: workflowRpc("POST /failing-transfer", Transfer, NonNegativeInt),
  state: rpc("GET /state", {}, SqlAccountState),
  /** The number of `transfers` rows of this account. */
  sqlCount: rpc("GET /sql-count", {}, NonNegativeInt),
});
