import type { EntityContext } from "../entity/context.ts";
import { type ClusterError, StepFailed } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ExecutionKey, Outcome, WorkflowStore } from "../storage/workflows/store.ts";
import { persist, superseded } from "./persist.ts";

/** The undo of a completed activity, registered when the workflow got past it. */
export interface Compensation {
  readonly name: string;
  readonly undo: (state: unknown, ctx: EntityContext) => unknown;
}

/** Compensations are journaled after every step the workflow can reach, in the order they ran. */
export const COMPENSATION_SEQ = 1_000_000;
export const compensationName = (activity: string) => `$compensate:${activity}`;

/** What running compensations needs of a run. */
export interface CompensatingRun {
  readonly self: { readonly type: string; readonly id: string };
  readonly execId: string;
  readonly attempt: number;
  readonly abortSignal: AbortSignal;
  /** Set once the run has been told to stop; from then on it records nothing. */
  readonly suspension: ClusterError | undefined;
  readonly compensations: readonly Compensation[];
  /** Runs `undo` as an activity journaled as `name` at `seq`, unless journaled already. */
  compensation(name: string, seq: number, undo: Compensation["undo"]): Promise<void>;
}

/**
 * Runs the compensations of a failed execution in reverse order, each once (a journaled one is
 * skipped: a run resumed after a crash midway continues where the last stopped). A compensation
 * that throws ends it all as `compensation_failed`; anything else (the runner stopping) propagates.
 */
export async function runCompensations(run: CompensatingRun, error: string): Promise<Outcome> {
  const list = run.compensations;
  for (let k = 0; k < list.length; k++) {
    const c = list[list.length - 1 - k] as Compensation;
    try {
      await run.compensation(compensationName(c.name), COMPENSATION_SEQ + k, c.undo);
    } catch (failure) {
      if (!(failure instanceof StepFailed)) throw failure;
      return { status: "compensation_failed", error: `${error}; then the compensation of ${c.name} failed: ${failure.message}` };
    }
  }
  return { status: "compensated", error };
}

/**
 * The terminal-failure path (a cancel's too): records `compensating` with `error` (unless `begin`
 * is false: it is so already), then runs the compensations `run` registered, in reverse.
 */
export async function compensate(store: WorkflowStore, log: Logger, run: CompensatingRun, error: string, begin: boolean): Promise<Outcome> {
  const key: ExecutionKey = { type: run.self.type, id: run.self.id, execId: run.execId };
  if (begin && !(await persist(() => store.beginCompensation(key, run.attempt, error), run.abortSignal, log))) {
    throw superseded(`exec ${run.execId}`, run.attempt);
  }
  const outcome = await runCompensations(run, error);
  if (run.suspension) throw run.suspension;
  return outcome;
}
