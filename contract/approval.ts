import { z } from "zod";
import { entity, rpc, workflowRpc } from "./entity.ts";
import { Name, NonNegativeInt, Null, Timestamp } from "./values.ts";
import { WorkflowExecution } from "./workflow.ts";

/** Longest sleep or signal timeout an approval may ask for: 30 days (one timer row either way). */
export const MAX_APPROVAL_WAIT_MS = 30 * 24 * 3600 * 1000;
/** The charge is retried up to this many attempts; `fail_times` ≥ this makes it fail for good. */
export const CHARGE_MAX_ATTEMPTS = 5;

const WaitMs = z.number().int().min(0, "must be ≥ 0").max(MAX_APPROVAL_WAIT_MS, `must be ≤ ${MAX_APPROVAL_WAIT_MS}`);

/** One journal entry: a step, an activity, a sleep, a signal wait, a failed attempt or a compensation. */
export const JournalEntryView = z.object({ name: z.string(), runs: NonNegativeInt, result: z.string(), at: Timestamp });

export const ApprovalExecution = WorkflowExecution.extend({
  journal: z.array(JournalEntryView),
  /** The compensations that ran, in the order they ran. */
  compensations: z.array(z.string()),
  /** How often this execution's effects were applied to the entity's state: 0 or 1 each, always. */
  reserved: NonNegativeInt,
  released: NonNegativeInt,
  charged: NonNegativeInt,
});
export type ApprovalExecution = z.infer<typeof ApprovalExecution>;

export const approval = entity("ApprovalTest", "/approval/{id}", {
  /** Reserves, sleeps `delay_ms`, waits `timeout_ms` for `approve`, then charges (failing `fail_times` times first). */
  start: workflowRpc(
    "POST /start",
    { exec_id: Name, delay_ms: WaitMs, timeout_ms: WaitMs, fail_times: z.number().int().min(0).max(10) },
    z.string(),
  ),
  /** Delivers the `approve` signal; 409 if it was delivered already or the wait timed out. */
  signal: rpc("POST /signal", { exec_id: Name, approve: z.boolean() }, Null),
  execution: rpc("GET /execution/{exec_id}", { exec_id: Name }, ApprovalExecution),
});
