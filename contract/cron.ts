import { z } from "zod";
import { entity, internalRpc, rpc } from "./entity.ts";
import { Null, Timestamp } from "./values.ts";

/** The name the cron test job is registered under; its state entity has this id. */
export const CRON_TEST_NAME = "cron-test";
/** The runs kept (the oldest are dropped). */
export const MAX_CRON_RUNS = 500;

export const CronRunRecord = z.object({ due: Timestamp, runner: z.string(), at: Timestamp });
export type CronRunRecord = z.infer<typeof CronRunRecord>;

/** The cron test job's runs: one per due time it ran, with the runner that ran it. */
export const cron = entity(
  "CronTest",
  "/cron",
  {
    runs: rpc("GET /runs", {}, z.array(CronRunRecord)),
    /** A run of the job records itself (idempotent by its request id, the due time). */
    record: internalRpc("mutation", { due: Timestamp, runner: z.string().min(1) }, Null),
  },
  { fixedId: CRON_TEST_NAME },
);
