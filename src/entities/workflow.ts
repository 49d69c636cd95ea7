import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { workflow } from "../../contract/index.ts";
import { defineEntity, type WorkflowContext } from "../cluster/index.ts";
import { executionView, findExecution } from "./execution-view.ts";

type Wf = WorkflowContext<Record<string, never>>;

/** Steps step1…stepN; each pauses `delayMs` first (honouring the run's abort signal). */
async function steps(wf: Wf, n: number, delayMs = 0): Promise<string> {
  for (let k = 1; k <= n; k++) {
    await wf.step(`step${k}`, async (signal) => {
      if (delayMs > 0) await sleep(delayMs, undefined, { signal });
      return `step${k}`;
    });
  }
  return `completed ${n} steps`;
}

/** The spec's WorkflowTest: its workflows are made of steps only; the executions are the engine's records. */
export const WorkflowTest = defineEntity(workflow, {
  state: z.object({}),
  initial: () => ({}),
  handlers: {
    execution: (_s, { exec_id }, ctx) => findExecution(ctx, exec_id),
    executions: async (_s, _args, ctx) => (await ctx.workflows.list()).map(executionView),
  },
  workflows: {
    runSimple: { execId: (a) => a.exec_id, run: (wf) => steps(wf, 3) },
    runFailing: {
      execId: (a) => a.exec_id,
      run: async (wf, { fail_at }) => {
        const n = Math.max(3, fail_at);
        for (let k = 1; k <= n; k++) {
          await wf.step(`step${k}`, () => {
            if (k === fail_at && wf.attempt === 1) throw new Error(`injected failure (fail_at=${fail_at}, first attempt)`);
            return `step${k}`;
          });
        }
        return `completed ${n} steps`;
      },
    },
    runLong: { execId: (a) => a.exec_id, run: (wf, { steps: n, step_delay_ms }) => steps(wf, n, step_delay_ms) },
  },
});
