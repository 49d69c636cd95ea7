import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelay } from "../backoff.ts";
import { type EntityAddress, formatAddress } from "../entity/address.ts";
import type { ExecutionReader, TurnImplementation } from "../entity/context.ts";
import type { WorkflowRpc } from "../entity/definition.ts";
import { ClusterError, executionCancelled } from "../errors.ts";
import { type Json, toJsonText } from "../json.ts";
import { limits } from "../limits.ts";
import { type ClusterMetrics, noMetrics } from "../metrics/metrics.ts";
import type { ShardId } from "../ownership/shard.ts";
import type { ExecutionKey, Outcome, RunningClaim, RunningExecution, WokenExecution } from "../storage/workflows/store.ts";
import { CANCELLED, cancelTurn, stoppedShort, wasCancelled } from "./cancel.ts";
import { compensate } from "./compensation.ts";
import type { WorkflowImplementation } from "./definition.ts";
import { executionKey, halt, persist, STORAGE_BACKOFF, superseded } from "./persist.ts";
import { Run, type RunHost, suspended } from "./run.ts";
import { countRun } from "./run-metrics.ts";
import { deliverSignal } from "./signal.ts";
import { waitFireTurn } from "./sleep.ts";
import { AbandonedSweep } from "./sweep.ts";

export interface WorkflowEngineOptions extends RunHost {
  /** The workflow RPC `rpc` of entity type `type`, to resume what storage says is running. */
  readonly workflowOf: (type: string, rpc: string) => WorkflowRpc | undefined;
  readonly address: (type: string, id: string) => EntityAddress;
  /** Whether executions of `shard` may run here (this runner serves it). */
  readonly mayRun: (shard: ShardId) => boolean;
  readonly metrics?: ClusterMetrics;
  /** How often executions nobody drives are looked for (`AbandonedSweep`); the default is `limits.workflowSweepMs`. */
  readonly sweepMs?: number;
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
const AT_REST = new Set(["completed", "failed", "cancelled", "compensated", "compensation_failed"]);

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
 * the next owner's resume. An execution left running with no run here driving it is picked up by
 * a periodic sweep (sweep.ts). A terminal failure runs the compensations its activities registered
 * (`compensate`), and so does an operator's cancel (cancel.ts), at the entity's owner.
 */
export class WorkflowEngine {
  private readonly executions = new Map<string, Execution>();
  /** Executions running here that an operator cancelled (the store has them compensating already). */
  private readonly cancelled = new Set<string>();
  private stopped = false;
  private readonly sweep: AbandonedSweep;

  constructor(private readonly options: WorkflowEngineOptions) {
    const { store, log, address } = options;
    const undriven = (key: ExecutionKey) => this.undriven(address(key.type, key.id), key.execId);
    const resume = (found: readonly RunningExecution[]) => this.startResumed(found, () => true);
    this.sweep = new AbandonedSweep(
      { unfinished: () => store.unfinished(), undriven, resume, log },
      options.sweepMs ?? limits.workflowSweepMs,
    );
  }

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
          this.startResumed(running, (shard) => wanted.has(shard));
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
   * An operator's cancel, at the owner: applies the cancel turn (`apply` posts it to the entity's
   * mailbox), stops a run of the execution going on here once it has committed (fenced out already,
   * its callers learn of the cancel), then runs the compensations. Resolves once that run ended.
   */
  async cancel(address: EntityAddress, execId: string, apply: (turn: TurnImplementation) => Promise<unknown>): Promise<void> {
    const key = executionKey(address, execId);
    await apply(
      cancelTurn(this.options.store, { type: address.type, id: address.id, execId }, () => {
        const running = this.executions.get(key);
        if (!running) return;
        this.cancelled.add(key);
        running.controller.abort();
      }),
    );
    await this.awaken(address, execId);
  }

  /** Stops every execution and refuses new ones. */
  stop(): Promise<void> {
    this.stopped = true;
    this.sweep.stop();
    return halt([...this.executions.values()]);
  }

  /** Executions held in memory here now (a suspended one is not). */
  get activeCount(): number {
    return this.executions.size;
  }

  /** Every turn's `ctx.workflows`: methods, for the reason `turnContext` gives. */
  reader(address: EntityAddress): ExecutionReader {
    const { store } = this.options;
    const engine = this;
    return {
      get(execId) {
        return store.get({ type: address.type, id: address.id, execId });
      },
      list() {
        return store.list(address.type, address.id);
      },
      signal(execId, name, payload) {
        return engine.deliver(address, execId, name, payload);
      },
    };
  }

  /**
   * Delivers signal `name` to an execution of the entity at `address` (a shard served here), once:
   * a second delivery, or one after the wait timed out, is refused (ALREADY_EXISTS, HTTP 409).
   */
  async deliver(address: EntityAddress, execId: string, name: string, payload: Json): Promise<void> {
    if (await deliverSignal(this.options.store, { type: address.type, id: address.id, execId }, name, payload)) this.wake(address, execId);
  }

  /** The fire turn of a framework wait timer (`$wf:…`) on the entity at `address`. */
  fireTurn(address: EntityAddress, timerId: string): TurnImplementation {
    return waitFireTurn(this.options.store, address, timerId, (key, woken) => void this.awaken(address, key.execId, woken));
  }

  /** Runs a suspended (or resumable) execution again, here, once any run of it going on here ends. */
  wake(address: EntityAddress, execId: string): void {
    void this.awaken(address, execId);
  }

  /**
   * `wake`, resolving once the run it started (or found started meanwhile) ended, or it gave up.
   * `woken`: what the wake write returned (the execution, claimed for this run), so it need not be
   * read or claimed again.
   */
  private async awaken(address: EntityAddress, execId: string, woken?: WokenExecution): Promise<void> {
    const { store, log, mayRun } = this.options;
    const key: ExecutionKey = { type: address.type, id: address.id, execId };
    const running = () => this.executions.get(executionKey(address, execId))?.done;
    for (let attempt = 1; !this.stopped && mayRun(address.shard); ) {
      const before = running();
      if (before) {
        // That run may have moved the execution on: read it afresh afterwards (and claim it again).
        woken = undefined;
        await before.catch(() => {});
        continue;
      }
      try {
        const found = woken ? { ...woken, status: "running" as const } : await store.load(key);
        const run = found && !AT_REST.has(found.status) ? (running() ?? this.resumeOne(address, found, woken?.claim)) : undefined;
        await run?.catch(() => {});
        return;
      } catch (err) {
        log.warn({ err, attempt, execId }, "cannot load an execution to wake yet");
        await sleep(backoffDelay(attempt++, STORAGE_BACKOFF));
      }
    }
  }

  /** Whether an execution should have a run here and has none: this runner serves its shard. */
  private undriven(address: EntityAddress, execId: string): boolean {
    return !this.stopped && this.options.mayRun(address.shard) && !this.executions.has(executionKey(address, execId));
  }

  private startResumed(running: readonly RunningExecution[], wanted: (shard: ShardId) => boolean): void {
    let resumed = 0;
    for (const execution of running) {
      const { key } = execution;
      const address = this.options.address(key.type, key.id);
      if (!wanted(address.shard) || !this.undriven(address, key.execId)) continue;
      if (this.resumeOne(address, execution)) resumed++;
    }
    if (resumed > 0) this.options.log.info({ resumed }, "resumed running workflow executions");
  }

  /**
   * Runs an execution found in storage (undefined: it cannot), from `claim` when a wake-up claimed
   * it already; no caller waits for it, so its failures are logged here.
   */
  private resumeOne(
    address: EntityAddress,
    { key, workflow, input }: RunningExecution,
    claim?: RunningClaim,
  ): Promise<unknown> | undefined {
    const { log } = this.options;
    const rpc = this.options.workflowOf(key.type, workflow);
    const args = rpc?.args.safeParse(JSON.parse(input));
    if (!rpc || !args?.success) {
      log.error({ entity: formatAddress(address), execId: key.execId, workflow }, "cannot resume execution: unknown workflow or arguments");
      return undefined;
    }
    const { done } = this.start(address, workflow, rpc.workflow, args.data, key.execId, "resumed", claim);
    done.catch((err: unknown) => {
      const code = err instanceof ClusterError ? err.code : "INTERNAL";
      const where = { entity: formatAddress(address), execId: key.execId };
      // ALREADY_EXISTS: it was cancelled (the stored arguments it runs with cannot clash).
      if (code === "WORKFLOW_FAILED" || code === "ALREADY_EXISTS")
        log.info({ ...where, error: (err as Error).message }, "resumed execution ended without a result");
      else if (code !== "NOT_OWNER" && code !== "SUSPENDED") log.warn({ err, ...where }, "resumed execution did not complete");
    });
    return done;
  }

  private start(
    address: EntityAddress,
    rpc: string,
    workflow: WorkflowImplementation,
    args: unknown,
    execId: string,
    how: "started" | "resumed",
    claimed?: RunningClaim,
  ): Execution {
    const key = executionKey(address, execId);
    const controller = new AbortController();
    const input = toJsonText(args);
    const stored: ExecutionKey = { type: address.type, id: address.id, execId };
    const done = this.drive(address, rpc, workflow, args, input, execId, controller.signal, claimed).catch((error: unknown) =>
      stoppedShort(this.options.store, stored, this.cancelled.has(key), error),
    );
    const execution: Execution = { address, rpc, input, controller, done };
    this.executions.set(key, execution);
    const forget = () => {
      if (this.executions.get(key) !== execution) return;
      this.executions.delete(key);
      this.cancelled.delete(key);
    };
    done.then(forget, forget);
    countRun((this.options.metrics ?? noMetrics).workflows, rpc, how, done);
    return execution;
  }

  private async drive(
    address: EntityAddress,
    rpc: string,
    workflow: WorkflowImplementation,
    args: unknown,
    input: string,
    execId: string,
    signal: AbortSignal,
    claimed: RunningClaim | undefined,
  ): Promise<unknown> {
    const { store } = this.options;
    const key: ExecutionKey = { type: address.type, id: address.id, execId };
    const what = `workflow ${rpc} of ${formatAddress(address)}, exec ${execId},`;
    const claim = claimed ?? (await persist(() => store.claim(key, rpc, input), signal, this.options.log));
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
    if (run.parked) throw suspended(key, run.parked, () => this.wake(address, execId));
    // A cancelled execution that registered no undo has nothing to compensate: it just ends cancelled.
    if (compensating && run.compensations.length === 0 && wasCancelled(claim.journal)) outcome = { status: "cancelled", error: CANCELLED };
    else if (compensating) outcome = await compensate(store, this.options.log, run, claim.compensating ?? "failed", false);
    else if (outcome.status === "failed" && run.compensations.length > 0)
      outcome = await compensate(store, this.options.log, run, outcome.error, true);
    const recorded = await persist(() => store.finish(key, claim.attempt, outcome), signal, this.options.log);
    if (!recorded) throw superseded(what, claim.attempt);
    if (outcome.status === "cancelled") throw executionCancelled(execId, formatAddress(address));
    if (outcome.status !== "completed") throw new ClusterError("WORKFLOW_FAILED", `${what} ${outcome.status}: ${outcome.error}`);
    return JSON.parse(outcome.result);
  }
}
