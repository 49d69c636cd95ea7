import { z } from "zod";
import { entity, rpc } from "./entity.ts";
import { Name, NonNegativeInt, Timestamp } from "./values.ts";

/** Most steps a `run-long` workflow may have. */
export const MAX_WORKFLOW_STEPS = 10_000;

export const WorkflowExecution = z.object({
  id: z.string(),
  status: z.enum(["running", "completed", "failed"]),
  steps_completed: z.array(z.string()),
  result: z.string().nullable(),
  error: z.string().nullable(),
  /** How many times each step's body actually ran: 1 everywhere proves nothing ran twice. */
  step_runs: z.record(z.string(), NonNegativeInt),
  attempts: NonNegativeInt,
  started_at: Timestamp,
  finished_at: Timestamp.nullable(),
});
export type WorkflowExecution = z.infer<typeof WorkflowExecution>;

const StepCount = z.number().int().min(1, "steps must be ≥ 1").max(MAX_WORKFLOW_STEPS, `steps must be ≤ ${MAX_WORKFLOW_STEPS}`);

export const workflow = entity("WorkflowTest", "/workflow/{id}", {
  runSimple: rpc("POST /run-simple", { exec_id: Name }, z.string()),
  runFailing: rpc("POST /run-failing", { exec_id: Name, fail_at: NonNegativeInt }, z.string()),
  runLong: rpc("POST /run-long", { exec_id: Name, steps: StepCount }, z.string()),
  execution: rpc("GET /execution/{exec_id}", { exec_id: Name }, WorkflowExecution),
  executions: rpc("GET /executions", {}, z.array(WorkflowExecution)),
});
