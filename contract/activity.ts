import { z } from "zod";
import { entity, rpc, workflowRpc } from "./entity.ts";
import { Name, Timestamp } from "./values.ts";
import { WorkflowExecution } from "./workflow.ts";

export const ActivityRecord = z.object({ id: z.string(), action: z.string(), timestamp: Timestamp });
export type ActivityRecord = z.infer<typeof ActivityRecord>;

export const activity = entity("ActivityTest", "/activity/{id}", {
  /**
   * Activities `log_activity` (start), `external_call`, `log_activity` (finish); returns their
   * actions. `fail_once`: the finish activity changes the state, then throws, on the execution's
   * first attempt (to show that neither its change nor its journal entry is kept).
   */
  run: workflowRpc("POST /run", { exec_id: Name, fail_once: z.boolean().optional() }, z.array(z.string())),
  log: rpc("GET /log", {}, z.array(ActivityRecord)),
  /** The execution record of a run (journal, runs per activity, attempts), for checking replays. */
  execution: rpc("GET /execution/{exec_id}", { exec_id: Name }, WorkflowExecution),
});
