import type { AdminExecution, AdminTimer, JournalEntryInfo, RunnerInfo } from "../../contract/index.ts";
import type { ListedTimer, Operator, RunnerStatus, StoredExecution, StoredJournalEntry } from "../cluster/index.ts";
import type { ApiContext } from "./services.ts";

/** Default page size of the admin lists. */
const DEFAULT_LIMIT = 100;

const runnerInfo = (s: RunnerStatus): RunnerInfo => ({
  address: s.address,
  runtime: s.runtime,
  version: s.version,
  started_at: s.startedAt.toISOString(),
  shards_owned: s.shardsOwned,
  active_entities: s.activeEntities,
  last_keepalive_at: s.lastKeepAlive?.toISOString() ?? null,
  fencing_deadline: s.fencingDeadline?.toISOString() ?? null,
  draining: s.draining,
  ready: s.ready,
});

const execution = (x: StoredExecution): AdminExecution => ({
  entity_type: x.key.type,
  entity_id: x.key.id,
  exec_id: x.key.execId,
  workflow: x.workflow,
  status: x.status,
  input: x.input,
  result: x.result,
  error: x.error,
  attempts: x.attempts,
  started_at: x.startedAt.toISOString(),
  finished_at: x.finishedAt?.toISOString() ?? null,
});

const journalEntry = (e: StoredJournalEntry): JournalEntryInfo => ({
  name: e.name,
  position: e.seq,
  kind: e.kind,
  result: e.result,
  error: null,
  attempt: e.attempt,
  runs: e.runs,
  created_at: e.createdAt.toISOString(),
});

const timer = (t: ListedTimer): AdminTimer => ({
  entity_type: t.entityType,
  entity_id: t.entityId,
  timer_id: t.timerId,
  scheduled_at: t.scheduledAt.toISOString(),
  fire_at: t.fireAt.toISOString(),
});

const str = (v: unknown) => v as string;
const optional = (v: unknown) => (v === undefined ? undefined : (v as string));
const date = (v: unknown) => (v === undefined ? undefined : new Date(v as string));
const limit = (v: unknown) => (v === undefined ? DEFAULT_LIMIT : Number(v));
const key = (input: Record<string, unknown>) => ({ type: str(input.entity_type), id: str(input.entity_id), execId: str(input.exec_id) });

/** The /admin procedures over the cluster's operator view, in the contract's shapes (input already validated). */
export function adminResolvers(operator: Operator): Record<string, (input: Record<string, unknown>, ctx: ApiContext) => Promise<unknown>> {
  return {
    runners: async () => (await operator.runners()).map(runnerInfo),
    drain: async (input) => runnerInfo(await operator.drain(str(input.address), true)),
    undrain: async (input) => runnerInfo(await operator.drain(str(input.address), false)),
    workflows: async (input) => {
      const filter = {
        status: input.status as StoredExecution["status"] | undefined,
        type: optional(input.entity_type),
        workflow: optional(input.workflow),
        since: date(input.since),
        limit: limit(input.limit),
      };
      const page = await operator.executions(filter, optional(input.cursor));
      return { executions: page.executions.map(execution), next_cursor: page.nextCursor ?? null };
    },
    workflow: async (input) => {
      const found = await operator.execution(key(input));
      return { execution: execution(found.execution), journal: found.journal.map(journalEntry) };
    },
    cancelWorkflow: async (input, ctx) => execution(await operator.cancelExecution(key(input), ctx.trace)),
    resumeWorkflow: async (input, ctx) => execution(await operator.resumeExecution(key(input), ctx.trace)),
    timers: async (input) =>
      (
        await operator.timers({
          type: optional(input.entity_type),
          id: optional(input.entity_id),
          dueBefore: date(input.due_before),
          limit: limit(input.limit),
        })
      ).map(timer),
    cancelTimer: async (input, ctx) => {
      const [type, id] = [str(input.entity_type), str(input.entity_id)];
      const cancelled = await operator.cancelTimer(type, id, str(input.timer_id), ctx.trace);
      return { entity_type: type, entity_id: id, ...cancelled };
    },
  };
}
