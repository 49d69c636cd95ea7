import type { ApprovalExecution, WorkflowExecution } from "../../contract/index.ts";
import { type EntityContext, type ExecutionRecord, notFound } from "../cluster/index.ts";

/** An execution as the spec's WorkflowExecution shows it (results are strings there). */
export function executionView(record: ExecutionRecord): WorkflowExecution {
  const { result } = record;
  return {
    id: record.execId,
    status: record.status,
    steps_completed: record.steps.map((s) => s.name),
    result: result === null || typeof result === "string" ? result : JSON.stringify(result),
    error: record.error,
    step_runs: Object.fromEntries(record.steps.map((s) => [s.name, s.runs])),
    attempts: record.attempts,
    started_at: record.startedAt.toISOString(),
    finished_at: record.finishedAt?.toISOString() ?? null,
  };
}

/** The `execution/{exec_id}` query: 404 when this entity has no such execution. */
export async function findExecution(ctx: EntityContext, execId: string): Promise<WorkflowExecution> {
  const record = await ctx.workflows.get(execId);
  if (!record) throw notFound(`${ctx.self.type}/${ctx.self.id} has no execution ${execId}`);
  return executionView(record);
}

type Effects = { readonly reserved: readonly string[]; readonly released: readonly string[]; readonly charged: readonly string[] };

/** ApprovalTest's execution: the engine's record, its journal and compensations, and how often each effect was applied. */
export async function approvalView(state: Effects, ctx: EntityContext, execId: string): Promise<ApprovalExecution> {
  const record = await ctx.workflows.get(execId);
  if (!record) throw notFound(`${ctx.self.type}/${ctx.self.id} has no execution ${execId}`);
  const times = (list: readonly string[]) => list.filter((x) => x === execId).length;
  return {
    ...executionView(record),
    journal: record.steps.map(({ name, runs, result, at }) => ({ name, runs, result, at: at.toISOString() })),
    compensations: record.steps.filter((s) => s.name.startsWith("$compensate:")).map((s) => s.name.slice("$compensate:".length)),
    reserved: times(state.reserved),
    released: times(state.released),
    charged: times(state.charged),
  };
}
