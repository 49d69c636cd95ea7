/**
 * The operator API, under /admin/: cluster-wide (any runner answers, asking its peers where it
 * must), and behind `Authorization: Bearer $ADMIN_TOKEN` when the runner has one.
 */
import { z } from "zod";
import { procedure } from "./procedure.ts";
import { EntityId, Name, NonNegativeInt, Timestamp } from "./values.ts";
import { WorkflowStatus } from "./workflow.ts";

export const RunnerInfo = z.object({
  /** host:port of its gRPC server: the runner's id. */
  address: z.string(),
  runtime: z.enum(["node", "deno"]),
  version: z.string(),
  started_at: Timestamp,
  shards_owned: NonNegativeInt,
  active_entities: NonNegativeInt,
  /** When etcd last confirmed a keep-alive of the runner's lease (null outside cluster mode). */
  last_keepalive_at: Timestamp.nullable(),
  /** Until when the runner may serve without another confirmed keep-alive (null outside cluster mode). */
  fencing_deadline: Timestamp.nullable(),
  draining: z.boolean(),
  ready: z.boolean(),
});
export type RunnerInfo = z.infer<typeof RunnerInfo>;

export const AdminExecution = z.object({
  entity_type: z.string(),
  entity_id: z.string(),
  exec_id: z.string(),
  workflow: z.string(),
  status: WorkflowStatus,
  /** JSON text of the arguments it was started with. */
  input: z.string(),
  /** JSON text of its result, once completed. */
  result: z.string().nullable(),
  error: z.string().nullable(),
  attempts: NonNegativeInt,
  started_at: Timestamp,
  finished_at: Timestamp.nullable(),
});
export type AdminExecution = z.infer<typeof AdminExecution>;

export const ExecutionPage = z.object({
  executions: z.array(AdminExecution),
  /** Pass as `cursor` for the next page; null on the last one. */
  next_cursor: z.string().nullable(),
});
export type ExecutionPage = z.infer<typeof ExecutionPage>;

export const JournalEntryInfo = z.object({
  name: z.string(),
  /** 0-based position among the steps the workflow reached. */
  position: NonNegativeInt,
  kind: z.enum(["step", "activity"]),
  /** JSON text of its result (only completed steps are journaled; a failed one's error is the execution's). */
  result: z.string().nullable(),
  error: z.string().nullable(),
  /** The execution attempt that journaled it. */
  attempt: NonNegativeInt,
  /** How many times its body produced a result that reached the journal. */
  runs: NonNegativeInt,
  created_at: Timestamp,
});
export type JournalEntryInfo = z.infer<typeof JournalEntryInfo>;

export const ExecutionDetail = z.object({ execution: AdminExecution, journal: z.array(JournalEntryInfo) });
export type ExecutionDetail = z.infer<typeof ExecutionDetail>;

export const AdminTimer = z.object({
  entity_type: z.string(),
  entity_id: z.string(),
  timer_id: z.string(),
  scheduled_at: Timestamp,
  fire_at: Timestamp,
});
export type AdminTimer = z.infer<typeof AdminTimer>;

/** Most rows one list answers. */
export const MAX_ADMIN_LIMIT = 1000;
/** A query-string count: digits only, 1 to MAX_ADMIN_LIMIT. */
const Limit = z
  .string()
  .regex(/^[1-9][0-9]{0,3}$/, `limit must be a whole number from 1 to ${MAX_ADMIN_LIMIT}`)
  .refine((s) => Number(s) <= MAX_ADMIN_LIMIT, `limit must be ≤ ${MAX_ADMIN_LIMIT}`)
  .optional();

const ExecutionPath = { entity_type: Name, entity_id: EntityId, exec_id: Name };
const WORKFLOW = "/admin/workflows/{entity_type}/{entity_id}/{exec_id}";
const RunnerPath = z.object({ address: z.string().min(1).max(512) });

export const admin = {
  runners: procedure("GET /admin/runners", z.object({}), z.array(RunnerInfo)),
  /** Hands every shard of the runner to the others (as SIGTERM does); it takes none until undrained. */
  drain: procedure("POST /admin/runners/{address}/drain", RunnerPath, RunnerInfo),
  undrain: procedure("POST /admin/runners/{address}/undrain", RunnerPath, RunnerInfo),
  workflows: procedure(
    "GET /admin/workflows",
    z.object({
      status: WorkflowStatus.optional(),
      entity_type: Name.optional(),
      workflow: Name.optional(),
      since: Timestamp.optional(),
      limit: Limit,
      cursor: z.string().max(4096).optional(),
    }),
    ExecutionPage,
    { query: ["status", "entity_type", "workflow", "since", "limit", "cursor"] },
  ),
  workflow: procedure(`GET ${WORKFLOW}`, z.object(ExecutionPath), ExecutionDetail),
  /**
   * A running, suspended or failed execution is cancelled at its entity's owner: a running one stops
   * before its next step, then its compensations run (in reverse, once each) and it ends
   * `compensated` or `compensation_failed`, or `cancelled` with nothing to compensate. Answers once
   * that is done; 409 for an execution that has ended or is compensating.
   */
  cancelWorkflow: procedure(`POST ${WORKFLOW}/cancel`, z.object(ExecutionPath), AdminExecution),
  /** A failed execution runs again from its failed step, on its shard's owner; answers once it ends. */
  resumeWorkflow: procedure(`POST ${WORKFLOW}/resume`, z.object(ExecutionPath), AdminExecution),
  timers: procedure(
    "GET /admin/timers",
    z.object({ entity_type: Name.optional(), entity_id: EntityId.optional(), due_before: Timestamp.optional(), limit: Limit }),
    z.array(AdminTimer),
    { query: ["entity_type", "entity_id", "due_before", "limit"] },
  ),
  /** Cancels a pending timer: a turn on its entity, at the entity's owner. 404 if none is pending. */
  cancelTimer: procedure(
    "POST /admin/timers/{entity_type}/{entity_id}/{timer_id}/cancel",
    z.object({ entity_type: Name, entity_id: EntityId, timer_id: Name }),
    AdminTimer,
  ),
};
