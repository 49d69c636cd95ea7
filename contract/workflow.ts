import { z } from "zod";
import { entity, rpc, workflowRpc } from "./entity.ts";
import { Name, NonNegativeInt, Timestamp } from "./values.ts";

/** Most steps a `run-long` workflow may have (and the highest `fail_at`). */
export const MAX_WORKFLOW_STEPS = 10_000;
/** Longest pause a `run-long` step may take, to keep a run within a caller's patience. */
export const MAX_STEP_DELAY_MS = 10_000;

/**
 * The spec's three, `cancelled` (an operator ended it, with nothing to compensate: POST
 * /admin/workflows/…/cancel; it never runs again), and those of durable waits and compensation
 * (see the README's Durable workflows).
 */
export const WorkflowStatus = z.enum([
  "running",
  "completed",
  "failed",
  "cancelled",
  "suspended",
  "compensating",
  "compensated",
  "compensation_failed",
]);

export const WorkflowExecution = z.object({
  id: z.string(),
  status: WorkflowStatus,
  /** Journaled steps (and activities), in the order the workflow reached them. */
  steps_completed: z.array(z.string()),
  result: z.string().nullable(),
  error: z.string().nullable(),
  /** How many times each step's body actually ran: 1 everywhere proves nothing ran twice. */
  step_runs: z.record(z.string(), NonNegativeInt),
  /** Runs of the execution: the first, plus one per resume (crash, handover) or retry (after a failure). */
  attempts: NonNegativeInt,
  started_at: Timestamp,
  finished_at: Timestamp.nullable(),
});
export type WorkflowExecution = z.infer<typeof WorkflowExecution>;

const StepCount = z.number().int().min(1, "steps must be ≥ 1").max(MAX_WORKFLOW_STEPS, `steps must be ≤ ${MAX_WORKFLOW_STEPS}`);
const StepNumber = z.number().int().min(1, "fail_at must be ≥ 1").max(MAX_WORKFLOW_STEPS, `fail_at must be ≤ ${MAX_WORKFLOW_STEPS}`);
const StepDelay = z
  .number()
  .int()
  .min(0, "step_delay_ms must be ≥ 0")
  .max(MAX_STEP_DELAY_MS, `step_delay_ms must be ≤ ${MAX_STEP_DELAY_MS}`);

export const workflow = entity("WorkflowTest", "/workflow/{id}", {
  /** Steps step1–step3. */
  runSimple: workflowRpc("POST /run-simple", { exec_id: Name }, z.string()),
  /** Steps step1…step(max(3, fail_at)); step `fail_at` fails on the execution's first attempt. */
  runFailing: workflowRpc("POST /run-failing", { exec_id: Name, fail_at: StepNumber }, z.string()),
  /** Steps step1…stepN, each pausing `step_delay_ms` (default 0) first. */
  runLong: workflowRpc("POST /run-long", { exec_id: Name, steps: StepCount, step_delay_ms: StepDelay.optional() }, z.string()),
  execution: rpc("GET /execution/{exec_id}", { exec_id: Name }, WorkflowExecution),
  executions: rpc("GET /executions", {}, z.array(WorkflowExecution)),
});
