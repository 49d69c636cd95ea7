import type { EntityAddress } from "../entity/address.ts";
import type { EntityContext, TurnImplementation } from "../entity/context.ts";
import { ClusterError, SignalTimeout, StepFailed } from "../errors.ts";
import { type Json, toJsonText } from "../json.ts";
import type { Logger } from "../log.ts";
import { type ClusterMetrics, noMetrics } from "../metrics/metrics.ts";
import type { ExecutionKey, JournalEntry, WorkflowStore } from "../storage/workflows/store.ts";
import { activityTurn } from "./activity.ts";
import { type ActivityGroup, type BoundActivities, bindActivities, type GroupActivities } from "./activity-group.ts";
import type { CompensatingRun, Compensation } from "./compensation.ts";
import type { ActivityOptions, Signal, StepOptions, WorkflowContext } from "./definition.ts";
import { persist, superseded } from "./persist.ts";
import { type RetryRun, withRetry } from "./retry.ts";
import { waitTurn } from "./signal.ts";
import { sleepTurn, type WaitOutcome } from "./sleep.ts";

export interface RunHost {
  readonly store: WorkflowStore;
  readonly log: Logger;
  /** Applies `turn` in the mailbox of the entity at `address`. */
  readonly turn: (address: EntityAddress, turn: TurnImplementation) => Promise<unknown>;
  readonly metrics?: ClusterMetrics;
}

/** What a run that suspended waits for. */
export interface Parked {
  readonly name: string;
  readonly signal: boolean;
  /** Its signal was delivered while the wait's turn ran, too late to wake it: it must be woken now. */
  readonly signalled: boolean;
}

/** What the callers of a run that suspended get; a signal delivered while it suspended (`signalled`) wakes it first. */
export function suspended(key: ExecutionKey, parked: Parked, wake: () => void): ClusterError {
  if (parked.signalled) wake();
  const what = parked.signal ? `signal ${parked.name}` : `sleep ${parked.name}`;
  return new ClusterError("SUSPENDED", `exec ${key.execId} is suspended until ${what} ends; it resumes by itself`);
}

/**
 * One run of an execution: the context its workflow body sees. `replayOnly` (a compensating
 * execution resumed): the body is replayed from the journal, to learn which compensations it had
 * registered, and stops at the first step that is not journaled.
 */
export class Run implements WorkflowContext<unknown>, RetryRun, CompensatingRun {
  /** Set once this run has been told to stop; from then on it records nothing. */
  suspension: ClusterError | undefined;
  /** Set once the run suspended on a durable wait: the engine drops it from memory. */
  parked: Parked | undefined;
  readonly compensations: Compensation[] = [];
  /** Position of the next step the body reaches. */
  private next = 0;
  private readonly journal: Map<string, JournalEntry>;
  private halted: ClusterError | undefined;

  constructor(
    private readonly host: RunHost,
    readonly self: EntityAddress,
    private readonly key: ExecutionKey,
    readonly attempt: number,
    readonly abortSignal: AbortSignal,
    journal: readonly JournalEntry[],
    private readonly replayOnly: boolean,
    /** The workflow's name, for its step metrics. */
    private readonly workflow: string,
    /** The activity groups its entity mixes in (`wf.use`). */
    private readonly groups: readonly ActivityGroup[],
  ) {
    this.journal = new Map(journal.map((entry) => [entry.name, entry]));
  }

  get execId(): string {
    return this.key.execId;
  }

  step<T extends Json>(name: string, body: (signal: AbortSignal) => T | Promise<T>, options?: StepOptions): Promise<T> {
    const once = async (seq: number): Promise<T> => {
      const journaled = this.replay<T>(name, seq);
      if (journaled !== undefined) return journaled;
      this.checkLive();
      const started = performance.now();
      let value: T;
      try {
        value = await body(this.abortSignal);
      } catch (error) {
        if (this.abortSignal.aborted)
          throw this.suspend(new ClusterError("NOT_OWNER", `${name} was interrupted: this runner stopped running it`));
        throw new StepFailed(name, error);
      }
      const entry = await this.persist(() => this.host.store.recordStep(this.key, this.attempt, name, seq, toJsonText(value)));
      if (!entry) throw this.suspend(superseded(`exec ${this.execId}`, this.attempt));
      this.timed("step", started);
      return this.remember<T>(entry, seq);
    };
    return options?.retry ? withRetry(this, name, options.retry, once) : once(this.reach());
  }

  async activity<T extends Json>(
    name: string,
    body: (state: unknown, ctx: EntityContext) => T | Promise<T>,
    options?: ActivityOptions<unknown, T>,
  ): Promise<T> {
    const once = async (seq: number): Promise<T> => {
      const journaled = this.replay<T>(name, seq);
      if (journaled !== undefined) return journaled;
      this.checkLive();
      const started = performance.now();
      const entry = await this.applyTurn(activityTurn(this.host.store, this.key, name, seq, this.attempt, body));
      this.timed("activity", started);
      return this.remember<T>(entry, seq);
    };
    const result = await (options?.retry ? withRetry(this, name, options.retry, once) : once(this.reach()));
    const compensate = options?.compensate;
    if (compensate) this.compensations.push({ name, undo: (state, ctx) => compensate(state, ctx, result) });
    return result;
  }

  use<A extends GroupActivities>(group: ActivityGroup<A>): BoundActivities<A> {
    return bindActivities(group, this.groups, this.self.type, (name, body) => this.activity(name, body));
  }

  /** A step or activity that ran (replayed ones cost nothing), body and journal write included. */
  private timed(kind: "step" | "activity", started: number): void {
    const m = (this.host.metrics ?? noMetrics).workflows;
    m.stepDuration.observe({ workflow: this.workflow, kind }, (performance.now() - started) / 1000);
  }

  sleep(name: string, ms: number): Promise<void> {
    if (!(ms >= 0)) throw new TypeError(`sleep ${name}: ms must be a number ≥ 0, got ${ms}`);
    return this.sleepTill(name, (now) => now.getTime() + Math.ceil(ms));
  }

  sleepUntil(name: string, until: Date): Promise<void> {
    if (Number.isNaN(until.getTime())) throw new TypeError(`sleepUntil ${name}: invalid date`);
    return this.sleepTill(name, () => until.getTime());
  }

  signal<T extends Json>(name: string): Signal<T> {
    return { name, wait: (timeoutMs) => this.waitFor<T>(name, timeoutMs) };
  }

  /** The position of the step being reached; refuses once the run has been told to stop. */
  reach(): number {
    if (this.suspension) throw this.suspension;
    if (this.halted) throw this.halted;
    if (this.abortSignal.aborted) throw this.suspend(new ClusterError("NOT_OWNER", `exec ${this.execId}: this runner stopped running it`));
    return this.next++;
  }

  /** The journaled result of `name`, if any; it must have been journaled at this same position. */
  replay<T>(name: string, seq: number): T | undefined {
    const entry = this.journal.get(name);
    if (!entry) return undefined;
    if (entry.seq !== seq) {
      throw new ClusterError(
        "INTERNAL",
        `nondeterministic workflow: "${name}" was journaled as step ${entry.seq + 1} but is now reached as step ${seq + 1} ` +
          "(a workflow must reach the same steps, under unique names, in the same order on every run)",
      );
    }
    return JSON.parse(entry.result) as T;
  }

  async recordFailure(name: string, seq: number, error: string): Promise<void> {
    const entry = await this.persist(() => this.host.store.recordStep(this.key, this.attempt, name, seq, toJsonText({ error })));
    if (!entry) throw this.suspend(superseded(`exec ${this.execId}`, this.attempt));
    this.journal.set(name, entry);
  }

  async compensation(name: string, seq: number, undo: Compensation["undo"]): Promise<void> {
    if (this.journal.has(name)) return;
    const entry = await this.applyTurn(activityTurn(this.host.store, this.key, name, seq, this.attempt, undo));
    this.journal.set(name, entry);
  }

  private async sleepTill(name: string, dueAt: (now: Date) => number): Promise<void> {
    const seq = this.reach();
    if (this.replay(name, seq) !== undefined) return;
    this.checkLive();
    await this.wait(name, seq, false, sleepTurn(this.host.store, this.key, this.attempt, name, seq, dueAt));
  }

  private async waitFor<T>(name: string, timeoutMs: number | undefined): Promise<T> {
    if (timeoutMs !== undefined && !(timeoutMs >= 0)) throw new TypeError(`signal ${name}: timeoutMs must be ≥ 0`);
    const seq = this.reach();
    let ended = this.replay<{ signal?: T; timeout?: true }>(name, seq);
    if (ended === undefined) {
      this.checkLive();
      const turn = waitTurn(this.host.store, this.key, this.attempt, name, seq, timeoutMs);
      ended = JSON.parse((await this.wait(name, seq, true, turn)).result) as { signal?: T; timeout?: true };
    }
    if (ended.timeout) throw new SignalTimeout(name);
    return ended.signal as T;
  }

  /** Applies a wait's turn: the wait is over (its entry), or the run is parked (and stops here). */
  private async wait(name: string, seq: number, signal: boolean, turn: TurnImplementation): Promise<JournalEntry> {
    const outcome = (await this.persist(() => this.host.turn(this.self, turn))) as WaitOutcome;
    if ("done" in outcome) {
      this.remember(outcome.done, seq);
      return outcome.done;
    }
    this.parked = { name, signal, signalled: outcome.signalled };
    throw this.halt(new ClusterError("SUSPENDED", `exec ${this.execId} is suspended until ${signal ? "signal" : "sleep"} ${name} ends`));
  }

  /** A compensating replay goes no further than the journal. */
  private checkLive(): void {
    if (this.replayOnly) throw this.halt(new ClusterError("WORKFLOW_FAILED", `exec ${this.execId}: replayed up to its failure`));
  }

  private halt(error: ClusterError): ClusterError {
    this.halted ??= error;
    return this.halted;
  }

  private async applyTurn(turn: TurnImplementation): Promise<JournalEntry> {
    return (await this.persist(() => this.host.turn(this.self, turn))) as JournalEntry;
  }

  private remember<T>(entry: JournalEntry, seq: number): T {
    this.journal.set(entry.name, entry);
    return this.replay<T>(entry.name, seq) as T;
  }

  private async persist<R>(op: () => Promise<R>): Promise<R> {
    try {
      return await persist(op, this.abortSignal, this.host.log);
    } catch (error) {
      if (error instanceof ClusterError && error.code === "NOT_OWNER") throw this.suspend(error);
      throw error;
    }
  }

  private suspend(error: ClusterError): ClusterError {
    this.suspension ??= error;
    return this.suspension;
  }
}
