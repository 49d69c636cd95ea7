import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay } from "../backoff.ts";
import { type EntityAddress, formatAddress } from "../entity/address.ts";
import type { EntityContext, ExecutionReader, TurnImplementation } from "../entity/context.ts";
import type { WorkflowRpc } from "../entity/definition.ts";
import { ClusterError, executionCancelled, StepFailed } from "../errors.ts";
import { type Json, toJsonText } from "../json.ts";
import type { Logger } from "../log.ts";
import { type ClusterMetrics, noMetrics } from "../metrics/metrics.ts";
import type { ShardId } from "../ownership/shard.ts";
import type { ExecutionKey, JournalEntry, Outcome, RunningExecution, WorkflowStore } from "../storage/workflows/store.ts";
import { activityTurn } from "./activity.ts";
import type { WorkflowContext, WorkflowImplementation } from "./definition.ts";
import { executionKey, halt, persist, STORAGE_BACKOFF, superseded } from "./persist.ts";

export interface WorkflowEngineOptions {
  readonly store: WorkflowStore;
  readonly log: Logger;
  /** Applies `turn` in the mailbox of the entity at `address`. */
  readonly turn: (address: EntityAddress, turn: TurnImplementation) => Promise<unknown>;
  /** The workflow RPC `rpc` of entity type `type`, to resume what storage says is running. */
  readonly workflowOf: (type: string, rpc: string) => WorkflowRpc | undefined;
  readonly address: (type: string, id: string) => EntityAddress;
  /** Whether executions of `shard` may run here (this runner serves it). */
  readonly mayRun: (shard: ShardId) => boolean;
  readonly metrics?: ClusterMetrics;
}

/** An execution this runner is driving; callers of its exec id wait for `done`. */
interface Execution {
  readonly address: EntityAddress;
  readonly rpc: string;
  /** JSON text of its arguments. */
  readonly input: string;
  readonly controller: AbortController;
  readonly done: Promise<unknown>;
}

/**
 * Runs the durable workflows of the entities of this runner's shards. An execution runs outside
 * its entity's mailbox (the entity keeps answering calls meanwhile); its activities are turns in
 * that mailbox. Each exec id runs at most once at a time here: callers of an exec id already
 * running join it. Across runners, the attempt number claimed in storage fences out older runs.
 *
 * Failures are sorted three ways. The workflow's own (a step or activity body threw, or the body
 * did): recorded as `failed`, reported as WORKFLOW_FAILED; running the exec id again resumes it.
 * Transient storage trouble: retried in place, with backoff, for as long as this runner serves the
 * shard. Losing the shard (handover, shutdown, fenced by a newer attempt): the run stops where it
 * is, the execution stays `running`, callers get NOT_OWNER (the router retries them at the new
 * owner, which resumes it).
 */
export class WorkflowEngine {
  private readonly executions = new Map<string, Execution>();
  /** Executions running here that an operator cancelled (the store has them `cancelled` already). */
  private readonly cancelled = new Set<string>();
  private stopped = false;

  constructor(private readonly options: WorkflowEngineOptions) {}

  /** Runs a workflow RPC, or joins the run of its exec id going on here; resolves with its result. */
  run(address: EntityAddress, rpc: string, workflow: WorkflowImplementation, args: unknown): Promise<unknown> {
    if (this.stopped) return Promise.reject(new ClusterError("NOT_OWNER", "this runner is shutting down"));
    const execId = workflow.execId(args);
    const running = this.executions.get(executionKey(address, execId));
    if (!running) return this.start(address, rpc, workflow, args, execId, "started").done;
    if (running.rpc !== rpc || running.input !== toJsonText(args)) {
      return Promise.reject(
        new ClusterError("ALREADY_EXISTS", `exec id ${execId} is taken by a ${running.rpc} execution with arguments ${running.input}`),
      );
    }
    return running.done;
  }

  /**
   * Resumes the executions of `shards` that storage has as running (they lost their runner: a crash,
   * a handover, a restart). Runs in the background; a storage failure is retried while the shards
   * are still served here.
   */
  resume(shards: readonly ShardId[]): void {
    const wanted = new Set(shards);
    const stillServed = () => !this.stopped && shards.some((s) => this.options.mayRun(s));
    void (async () => {
      for (let attempt = 1; stillServed(); attempt++) {
        try {
          const running = await this.options.store.running();
          this.startResumed(running, wanted);
          return;
        } catch (err) {
          this.options.log.warn({ err, attempt }, "cannot list running workflow executions yet");
          await sleep(backoffDelay(attempt, STORAGE_BACKOFF));
        }
      }
    })();
  }

  /** Stops the executions of `shards` (they stay `running` in storage) and waits until they have. */
  release(shards: ReadonlySet<ShardId>): Promise<void> {
    return halt([...this.executions.values()].filter((x) => shards.has(x.address.shard)));
  }

  /**
   * An operator cancelled the execution in storage: if it runs here, stop it now (its next write
   * would be refused anyway) and end its run as cancelled.
   */
  cancel(address: EntityAddress, execId: string): void {
    const key = executionKey(address, execId);
    const running = this.executions.get(key);
    if (!running) return;
    this.cancelled.add(key);
    running.controller.abort();
  }

  /** Stops every execution and refuses new ones. */
  stop(): Promise<void> {
    this.stopped = true;
    return halt([...this.executions.values()]);
  }

  reader(address: EntityAddress): ExecutionReader {
    const { store } = this.options;
    return {
      get: (execId) => store.get({ type: address.type, id: address.id, execId }),
      list: () => store.list(address.type, address.id),
    };
  }

  private startResumed(running: readonly RunningExecution[], shards: ReadonlySet<ShardId>): void {
    const { log, workflowOf, mayRun } = this.options;
    let resumed = 0;
    for (const { key, workflow, input } of running) {
      const address = this.options.address(key.type, key.id);
      if (!shards.has(address.shard) || !mayRun(address.shard) || this.executions.has(executionKey(address, key.execId))) continue;
      const rpc = workflowOf(key.type, workflow);
      const args = rpc?.args.safeParse(JSON.parse(input));
      if (!rpc || !args?.success) {
        log.error(
          { entity: formatAddress(address), execId: key.execId, workflow },
          "cannot resume execution: unknown workflow or arguments",
        );
        continue;
      }
      // No caller waits for a resumed run: its failures are logged here.
      this.start(address, workflow, rpc.workflow, args.data, key.execId, "resumed").done.catch((err: unknown) => {
        const code = err instanceof ClusterError ? err.code : "INTERNAL";
        if (code !== "NOT_OWNER")
          log.warn({ err, entity: formatAddress(address), execId: key.execId }, "resumed execution did not complete");
      });
      resumed++;
    }
    if (resumed > 0) log.info({ resumed }, "resumed running workflow executions");
  }

  private start(
    address: EntityAddress,
    rpc: string,
    workflow: WorkflowImplementation,
    args: unknown,
    execId: string,
    how: "started" | "resumed",
  ): Execution {
    const key = executionKey(address, execId);
    const controller = new AbortController();
    const input = toJsonText(args);
    const done = this.drive(address, rpc, workflow, args, input, execId, controller.signal).catch((error: unknown) =>
      this.explain(key, address, execId, error),
    );
    const execution: Execution = { address, rpc, input, controller, done };
    this.executions.set(key, execution);
    const forget = () => {
      if (this.executions.get(key) !== execution) return;
      this.executions.delete(key);
      this.cancelled.delete(key);
    };
    done.then(forget, forget);
    this.count(rpc, how, done);
    return execution;
  }

  /** A run's start and how it ended; one stopped by a hand-over (NOT_OWNER) is neither completed nor failed. */
  private count(workflow: string, how: "started" | "resumed", done: Promise<unknown>): void {
    const m = (this.options.metrics ?? noMetrics).workflows;
    const labels = { workflow };
    m[how].inc(labels);
    m.running.inc(labels);
    done
      .then(
        () => m.completed.inc(labels),
        (error: unknown) => error instanceof ClusterError && error.code === "WORKFLOW_FAILED" && m.failed.inc(labels),
      )
      .finally(() => m.running.dec(labels));
  }

  /**
   * A run stopped short (NOT_OWNER: aborted, or a fenced write refused) because an operator
   * cancelled the execution ends as cancelled, not as a handover the router would retry.
   */
  private async explain(key: string, address: EntityAddress, execId: string, error: unknown): Promise<never> {
    if (!(error instanceof ClusterError) || error.code !== "NOT_OWNER") throw error;
    const record = this.cancelled.has(key)
      ? { status: "cancelled" }
      : await this.options.store.get({ type: address.type, id: address.id, execId }).catch(() => undefined);
    if (record?.status === "cancelled") throw executionCancelled(execId, formatAddress(address));
    throw error;
  }

  private async drive(
    address: EntityAddress,
    rpc: string,
    workflow: WorkflowImplementation,
    args: unknown,
    input: string,
    execId: string,
    signal: AbortSignal,
  ): Promise<unknown> {
    const { store } = this.options;
    const key: ExecutionKey = { type: address.type, id: address.id, execId };
    const what = `workflow ${rpc} of ${formatAddress(address)}, exec ${execId},`;
    const claim = await persist(() => store.claim(key, rpc, input), signal, this.options.log);
    if (claim.status === "completed") return JSON.parse(claim.result);

    const run = new Run(this.options, rpc, address, key, claim.attempt, signal, claim.journal);
    let outcome: Outcome;
    try {
      outcome = { status: "completed", result: toJsonText(await workflow.run(run, args)) };
    } catch (error) {
      outcome = { status: "failed", error: error instanceof Error ? error.message : String(error) };
    }
    // Told to stop: whatever the body made of that, this run records nothing more.
    if (run.suspension) throw run.suspension;
    const recorded = await persist(() => store.finish(key, claim.attempt, outcome), signal, this.options.log);
    if (!recorded) throw superseded(what, claim.attempt);
    if (outcome.status === "failed") throw new ClusterError("WORKFLOW_FAILED", `${what} failed: ${outcome.error}`);
    return JSON.parse(outcome.result);
  }
}

/** One run of an execution: the context its workflow body sees. */
class Run implements WorkflowContext<unknown> {
  /** Set once this run has been told to stop; from then on it records nothing. */
  suspension: ClusterError | undefined;
  /** Position of the next step the body reaches. */
  private next = 0;
  private readonly journal: Map<string, JournalEntry>;

  constructor(
    private readonly options: WorkflowEngineOptions,
    private readonly workflow: string,
    readonly self: EntityAddress,
    private readonly key: ExecutionKey,
    readonly attempt: number,
    readonly signal: AbortSignal,
    journal: readonly JournalEntry[],
  ) {
    this.journal = new Map(journal.map((entry) => [entry.name, entry]));
  }

  get execId(): string {
    return this.key.execId;
  }

  async step<T extends Json>(name: string, body: (signal: AbortSignal) => T | Promise<T>): Promise<T> {
    const seq = this.reach();
    const journaled = this.replay<T>(name, seq);
    if (journaled !== undefined) return journaled;
    const started = performance.now();
    let value: T;
    try {
      value = await body(this.signal);
    } catch (error) {
      if (this.signal.aborted) throw this.suspend(new ClusterError("NOT_OWNER", `${name} was interrupted: this runner stopped running it`));
      throw new StepFailed(name, error);
    }
    const entry = await this.persist(() => this.options.store.recordStep(this.key, this.attempt, name, seq, toJsonText(value)));
    if (!entry) throw this.suspend(superseded(`exec ${this.execId}`, this.attempt));
    this.timed("step", started);
    return this.remember<T>(entry, seq);
  }

  async activity<T extends Json>(name: string, body: (state: unknown, ctx: EntityContext) => T | Promise<T>): Promise<T> {
    const seq = this.reach();
    const journaled = this.replay<T>(name, seq);
    if (journaled !== undefined) return journaled;
    const started = performance.now();
    const turn = activityTurn(this.options.store, this.key, name, seq, this.attempt, body);
    const entry = (await this.persist(() => this.options.turn(this.self, turn))) as JournalEntry;
    this.timed("activity", started);
    return this.remember<T>(entry, seq);
  }

  /** A step or activity that ran (replayed ones cost nothing), body and journal write included. */
  private timed(kind: "step" | "activity", started: number): void {
    const m = (this.options.metrics ?? noMetrics).workflows;
    m.stepDuration.observe({ workflow: this.workflow, kind }, (performance.now() - started) / 1000);
  }

  /** The position of the step being reached; refuses once the run has been told to stop. */
  private reach(): number {
    if (this.suspension) throw this.suspension;
    if (this.signal.aborted) throw this.suspend(new ClusterError("NOT_OWNER", `exec ${this.execId}: this runner stopped running it`));
    return this.next++;
  }

  /** The journaled result of `name`, if any; it must have been journaled at this same position. */
  private replay<T>(name: string, seq: number): T | undefined {
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

  private remember<T>(entry: JournalEntry, seq: number): T {
    this.journal.set(entry.name, entry);
    return this.replay<T>(entry.name, seq) as T;
  }

  private async persist<R>(op: () => Promise<R>): Promise<R> {
    try {
      return await persist(op, this.signal, this.options.log);
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
