import { z } from "zod";
import { ActivityRecord, activity } from "../../contract/index.ts";
import { defineEntity } from "../cluster/index.ts";
import { findExecution } from "./execution-view.ts";

/** The spec's `external_call`: a side effect outside the entity (simulated: a deterministic reply). */
function externalCall(url: string): string {
  return `200 OK from ${url}`;
}

/**
 * The spec's ActivityTest. `log_activity` is an activity (a turn of the entity: its record and its
 * journal entry commit together); `external_call` is a journaled step (it has no entity state to
 * commit with).
 */
export const ActivityTest = defineEntity(activity, {
  state: z.object({ activity_log: z.array(ActivityRecord) }),
  initial: () => ({ activity_log: [] }),
  handlers: {
    log: (s) => s.activity_log,
    execution: (_s, { exec_id }, ctx) => findExecution(ctx, exec_id),
  },
  workflows: {
    run: {
      execId: (a) => a.exec_id,
      run: async (wf, { exec_id, fail_once }) => {
        const logActivity = (id: string, action: string, failAfterChange = false) =>
          wf.activity(`log_activity:${id}`, (s, ctx) => {
            s.activity_log.push({ id: `${exec_id}:${id}`, action, timestamp: ctx.now.toISOString() });
            if (failAfterChange) throw new Error("injected failure after the state change (fail_once, first attempt)");
            return action;
          });
        const started = await logActivity("start", "start");
        const url = `https://api.example.invalid/orders/${encodeURIComponent(exec_id)}`;
        const called = await wf.step("external_call", () => `external_call: ${externalCall(url)}`);
        const finished = await logActivity("finish", "finish", fail_once === true && wf.attempt === 1);
        return [started, called, finished];
      },
    },
  },
});
