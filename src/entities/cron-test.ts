import { z } from "zod";
import { CRON_TEST_NAME, CronRunRecord, cron, MAX_CRON_RUNS } from "../../contract/index.ts";
import { type Cluster, type CronRun, defineEntity } from "../cluster/index.ts";

/** The cron test job's record of its runs. */
export const CronTest = defineEntity(cron, {
  state: z.object({ runs: z.array(CronRunRecord) }),
  initial: () => ({ runs: [] }),
  handlers: {
    runs: (s) => s.runs,
    record: (s, { due, runner }, ctx) => {
      s.runs.push({ due, runner, at: ctx.now.toISOString() });
      if (s.runs.length > MAX_CRON_RUNS) s.runs.splice(0, s.runs.length - MAX_CRON_RUNS);
      return null;
    },
  },
});

/**
 * The cron job: records its due time and runner, as a journaled step whose call carries the due
 * time as its request id (a step re-run after a crash is answered from the stored reply).
 */
export function cronTestRun(cluster: Cluster): CronRun {
  return async (due, wf) => {
    const args = { due: due.toISOString(), runner: cluster.runnerId };
    await wf.step("record", () =>
      cluster.call(cron.type, CRON_TEST_NAME, "record", args, { requestId: `cron:${args.due}` }).then(() => null),
    );
  };
}
