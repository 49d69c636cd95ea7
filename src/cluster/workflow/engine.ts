import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay } from "../backoff.ts";
import { type EntityAddress, formatAddress } from "../entity/address.ts";
import type { ExecutionReader, TurnImplementation } from "../entity/context.ts";
import type { WorkflowRpc } from "../entity/definition.ts";
import { ClusterError, executionCancelled } from "../errors.ts";
import { type Json, toJsonText } from "../json.ts";
import { type ClusterMetrics, noMetrics } from "../metrics/metrics.ts";
import type { ShardId } from "../ownership/shard.ts";
import type { ExecutionKey, Outcome, RunningExecution } from "../storage/workflows/store.ts";
import { runCompensations } from "./compensation.ts";
import type { WorkflowImplementation } from "./definition.ts";
import { executionKey, halt, persist, STORAGE_BACKOFF, superseded } from "./persist.ts";
import { type Parked, Run, type RunHost } from "./run.ts";
import { waitFireTurn } from "./sleep.ts";

export interface WorkflowEngineOptions extends RunHost {
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

/** Statuses a wake-up leaves alone: the execution ended (or, `failed`, waits for a caller to run it again). */
const AT_REST = new Set(["completed", "failed", "compensated", "compensation_failed"]);

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
 *
 * Durable waits (sleep, signal) suspend an execution: it is marked `suspended`, dropped from
 * memory, and its callers get SUSPENDED (HTTP 202). A wait timer's fire turn or a signal delivery
 * marks it running again and wakes it here (`wake`); a crash in between leaves it `running` for
 * the next owner's resume. A terminal failure runs the compensations its activities registered
 * (`compensate`), and so should a cancel.
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

  /** Executions held in memory here now (a suspended one is not). */
  get activeCount(): number {
    return this.executions.size;
  }

  reader(address: EntityAddress): ExecutionReader {
    const { store } = this.options;
    return {
      get: (execId) => store.get({ type: address.type, id: address.id, execId }),
      list: () => store.list(address.type, address.id),
      signal: (execId, name, payload) => this.deliver(address, execId, name, payload),
    };
  }

  /**
   * Delivers signal `name` to an execution of the entity at `address` (a shard served here), once:
   * a second delivery, or one after the wait timed out, is refused (ALREADY_EXISTS, HTTP 409).
   */
  async deliver(address: EntityAddress, execId: string, name: string, payload: Json): Promise<void> {
    const delivery = await this.options.store.deliver({ type: address.type, id: address.id, execId }, name, toJsonText(payload));
    if (!delivery.delivered) {
      const why =
        delivery.reason === "duplicate" ? "was delivered already (the first payload stands)" : "is no longer awaited (it timed out)";
      throw new ClusterError("ALREADY_EXISTS", `signal ${name} of exec ${execId} ${why}`);
    }
    if (delivery.woke) this.wake(address, execId);
  }

  /** The fire turn of a framework wait timer (`$wf:…`) on the entity at `address`. */
  fireTurn(address: EntityAddress, timerId: string): TurnImplementation {
    return waitFireTurn(this.options.store, address, timerId, (key) => this.wake(address, key.execId));
  }

  /** Runs a suspended (or resumable) execution again, here, once any run of it going on here ends. */
  wake(address: EntityAddress, execId: string): void {
    const { store, log, mayRun } = this.options;
    if (this.stopped || !mayRun(address.shard)) return;
    const running = this.executions.get(executionKey(address, execId));
    if (running) {
      const again = () => this.wake(address, execId);
      running.done.then(again, again);
      return;
    }
    const key: ExecutionKey = { type: address.type, id: address.id, execId };
    void (async () => {
      for (let attempt = 1; !this.stopped && mayRun(address.shard); attempt++) {
        try {
          const found = await store.load(key);
          if (found && !AT_REST.has(found.status) && !this.executions.has(executionKey(address, execId))) this.resumeOne(address, found);
          return;
        } catch (err) {
          log.warn({ err, attempt, execId }, "cannot load an execution to wake yet");
          await sleep(backoffDelay(attempt, STORAGE_BACKOFF));
        }
      }
    })();
  }

  private startResumed(running: readonly RunningExecution[], shards: ReadonlySet<ShardId>): void {
    const { log, mayRun } = this.options;
    let resumed = 0;
    for (const execution of running) {
      const { key } = execution;
      const address = this.options.address(key.type, key.id);
      if (!shards.has(address.shard) || !mayRun(address.shard) || this.executions.has(executionKey(address, key.execId))) continue;
      if (this.resumeOne(address, execution)) resumed++;
    }
    if (resumed > 0) log.info({ resumed }, "resumed running workflow executions");
  }

  /** Runs an execution found in storage; no caller waits for it, so its failures are logged here. */
  private resumeOne(address: EntityAddress, { key, workflow, input }: RunningExecution): boolean {
    const { log } = this.options;
    const rpc = this.options.workflowOf(key.type, workflow);
    const args = rpc?.args.safeParse(JSON.parse(input));
    if (!rpc || !args?.success) {
      log.error({ entity: formatAddress(address), execId: key.execId, workflow }, "cannot resume execution: unknown workflow or arguments");
      return false;
    }
    this.start(address, workflow, rpc.workflow, args.data, key.execId, "resumed").done.catch((err: unknown) => {
      const code = err instanceof ClusterError ? err.code : "INTERNAL";
      const where = { entity: formatAddress(address), execId: key.execId };
      if (code === "WORKFLOW_FAILED") log.info({ ...where, error: (err as Error).message }, "resumed execution ended without a result");
      else if (code !== "NOT_OWNER" && code !== "SUSPENDED") log.warn({ err, ...where }, "resumed execution did not complete");
    });
    return true;
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
    if (claim.status === "ended") throw new ClusterError("WORKFLOW_FAILED", `${what} ended ${claim.ended}: ${claim.error}`);

    const compensating = claim.compensating !== undefined;
    const run = new Run(this.options, address, key, claim.attempt, signal, claim.journal, compensating, rpc, workflow.groups ?? []);
    let outcome: Outcome;
    try {
      outcome = { status: "completed", result: toJsonText(await workflow.run(run, args)) };
    } catch (error) {
      outcome = { status: "failed", error: error instanceof Error ? error.message : String(error) };
    }
    // Told to stop: whatever the body made of that, this run records nothing more.
    if (run.suspension) throw run.suspension;
    if (run.parked) return this.suspended(address, key, run.parked);
    if (compensating) outcome = await this.compensate(run, claim.attempt, claim.compensating ?? "failed", false);
    else if (outcome.status === "failed" && run.compensations.length > 0)
      outcome = await this.compensate(run, claim.attempt, outcome.error, true);
    const recorded = await persist(() => store.finish(key, claim.attempt, outcome), signal, this.options.log);
    if (!recorded) throw superseded(what, claim.attempt);
    if (outcome.status !== "completed") throw new ClusterError("WORKFLOW_FAILED", `${what} ${outcome.status}: ${outcome.error}`);
    return JSON.parse(outcome.result);
  }

  /**
   * The terminal-failure path: records `compensating` (unless resumed so), then runs the
   * compensations `run` registered, in reverse. A cancel is to end here too.
   */
  private async compensate(run: Run, attempt: number, error: string, begin: boolean): Promise<Outcome> {
    const { store, log } = this.options;
    const key: ExecutionKey = { type: run.self.type, id: run.self.id, execId: run.execId };
    if (begin && !(await persist(() => store.beginCompensation(key, attempt, error), run.abortSignal, log))) {
      throw superseded(`exec ${run.execId}`, attempt);
    }
    const outcome = await runCompensations(run, error);
    if (run.suspension) throw run.suspension;
    return outcome;
  }

  /**
   * A run that suspended: its callers are told so. A signal delivered while the wait's turn ran
   * may have found the execution still running, and not woken it: if it is there, wake it now.
   */
  private async suspended(address: EntityAddress, key: ExecutionKey, parked: Parked): Promise<never> {
    if (parked.signal) {
      const delivered = await this.options.store.signal(key, parked.name).catch(() => undefined);
      if (delivered !== undefined) this.wake(address, key.execId);
    }
    const what = parked.signal ? `signal ${parked.name}` : `sleep ${parked.name}`;
    throw new ClusterError("SUSPENDED", `exec ${key.execId} is suspended until ${what} ends; it resumes by itself`);
  }
}
