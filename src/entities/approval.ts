import { z } from "zod";
import { approval, CHARGE_MAX_ATTEMPTS } from "../../contract/index.ts";
import { defineEntity } from "../cluster/index.ts";
import { approvalView } from "./execution-view.ts";

const retry = { maxAttempts: CHARGE_MAX_ATTEMPTS, initialMs: 100, factor: 2, maxMs: 1_000 };
/** Failed attempts of `charge` so far, from the journal (`charge#1`, `charge#2`, …): durable, unlike a counter in memory. */
const chargeFailures = (steps: readonly { name: string }[] = []) => steps.filter((s) => /^charge#\d+$/.test(s.name)).length;

/** Records that an effect of execution `execId` was applied (once each, the view checks). */
const record = (effects: string[], execId: string, reply: string) => {
  effects.push(execId);
  return reply;
};

/** The ApprovalTest: reserve (compensated by release), sleep, wait for approval, charge (retried). */
export const ApprovalTest = defineEntity(approval, {
  state: z.object({ reserved: z.array(z.string()), released: z.array(z.string()), charged: z.array(z.string()) }),
  initial: () => ({ reserved: [], released: [], charged: [] }),
  handlers: {
    signal: async (_s, { exec_id, approve }, ctx) => {
      await ctx.workflows.signal(exec_id, "approve", { approve });
      return null;
    },
    execution: (s, { exec_id }, ctx) => approvalView(s, ctx, exec_id),
  },
  workflows: {
    start: {
      execId: (a) => a.exec_id,
      run: async (wf, { exec_id, delay_ms, timeout_ms, fail_times }) => {
        const release = (s: { released: string[] }) => record(s.released, exec_id, "released");
        await wf.activity("reserve", (s) => record(s.reserved, exec_id, "reserved"), { compensate: release });
        await wf.sleep("delay", delay_ms);
        const { approve } = await wf.signal<{ approve: boolean }>("approve").wait(timeout_ms);
        if (!approve) throw new Error("rejected");
        const charge = async (s: { charged: string[] }, ctx: Parameters<typeof approvalView>[1]) => {
          const failed = chargeFailures((await ctx.workflows.get(exec_id))?.steps);
          if (failed < fail_times) throw new Error(`charge attempt ${failed + 1} refused (fail_times=${fail_times})`);
          s.charged.push(exec_id);
          return "charged";
        };
        return wf.activity("charge", charge, { retry });
      },
    },
  },
});
