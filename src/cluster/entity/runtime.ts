import { z } from "zod";
import type { Call } from "../call.ts";
import { badRequest, ClusterError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type CallLabels, type ClusterMetrics, noMetrics, OTHER } from "../metrics/metrics.ts";
import { Admission, type AdmissionLimits } from "../overload.ts";
import type { ShardId } from "../ownership/shard.ts";
import type { StateStore } from "../storage/entity-state/store.ts";
import type { WorkflowStore } from "../storage/workflows/store.ts";
import { EntityTimers } from "../timers/entity-timers.ts";
import type { FireOutcome, PendingTimer, TimerSink } from "../timers/timer.ts";
import { CANCEL_EXECUTION_RPC, CancelExecutionArgs } from "../workflow/cancel.ts";
import { WorkflowEngine } from "../workflow/engine.ts";
import { SIGNAL_RPC, SignalArgs } from "../workflow/signal.ts";
import { parseWaitTimer } from "../workflow/sleep.ts";
import { addressKey, type EntityAddress, formatAddress } from "./address.ts";
import type { ExecutionReader, TurnImplementation } from "./context.ts";
import type { EntityType } from "./definition.ts";
import { Mailbox } from "./mailbox.ts";
import type { EntityCaller, MailboxHost } from "./turn-context.ts";

export interface RuntimeOptions {
  readonly store: StateStore;
  readonly log: Logger;
  /** Evict an entity after this long without calls. */
  readonly idleMs: number;
  /** Whether state of `shard` may still be written here (the ownership fence). */
  readonly mayCommit?: (shard: ShardId) => boolean;
  /** Where workflow executions are recorded; without it, workflow RPCs answer NOT_IMPLEMENTED. */
  readonly workflows?: {
    readonly store: WorkflowStore;
    /** The address of an entity, for resuming executions found in storage. */
    readonly address: (type: string, id: string) => EntityAddress;
    /** How often executions that no run drives are looked for; `limits.workflowSweepMs` by default. */
    readonly sweepMs?: number;
  };
  /** How handlers reach other entities (through the router). */
  readonly caller?: EntityCaller;
  /** Told of timer changes once they commit (the shard owner's schedule). */
  readonly timerSink?: TimerSink;
  readonly metrics?: ClusterMetrics;
  /** The bounds past which calls are refused (OVERLOADED); the framework's defaults when absent. */
  readonly admission?: AdmissionLimits;
}

/**
 * The framework's RPC that cancels one pending timer of an entity (the operator API's): a turn on
 * the entity, since its state is the timers' authority, routed to its owner like any call.
 * Answers the timer it cancelled, or null if none was pending.
 */
export const CANCEL_TIMER_RPC = "$timer.cancel";
const CancelArgs = z.object({ timer_id: z.string() });
const cancelTimerTurn: TurnImplementation = {
  kind: "mutation",
  handler: (state, args, turn): PendingTimer | null => {
    const { timer_id } = args as z.output<typeof CancelArgs>;
    const timers = new EntityTimers(state, turn, true);
    const pending = timers.pending().find((t) => t.timer_id === timer_id);
    if (!pending) return null;
    timers.cancel(timer_id);
    return pending;
  },
};

const noWorkflows = () => Promise.reject(new ClusterError("NOT_IMPLEMENTED", "this runtime has no workflow storage"));
const NO_EXECUTIONS: ExecutionReader = { get: noWorkflows, list: noWorkflows, signal: noWorkflows };

/**
 * The entities active on this runner: one mailbox each, created on first call, evicted when idle,
 * and the workflow executions of its shards. The runtime does not know about ownership; the router
 * only sends it calls for local shards, and the cluster tells it which shards come and go.
 */
export class EntityRuntime {
  private readonly types = new Map<string, EntityType>();
  private readonly active = new Map<string, Mailbox>();
  private readonly workflows: WorkflowEngine | undefined;
  private readonly host: MailboxHost;
  private readonly metrics: ClusterMetrics;
  /** Label sets by type and RPC, made once: unregistered names share the OTHER one. */
  private readonly labelSets = new Map<string, Map<string, CallLabels>>();
  private readonly admission: Admission;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: RuntimeOptions) {
    const { workflows, store, log, mayCommit = () => true, caller = noCaller, timerSink, metrics = noMetrics } = options;
    this.metrics = metrics;
    this.workflows = workflows
      ? new WorkflowEngine({
          store: workflows.store,
          log: options.log,
          address: workflows.address,
          turn: (address, turn) => this.turn(address, turn),
          workflowOf: (type, rpc) => {
            const impl = this.types.get(type)?.rpcs.get(rpc);
            return impl?.kind === "workflow" ? impl : undefined;
          },
          mayRun: mayCommit,
          metrics,
          sweepMs: workflows.sweepMs,
        })
      : undefined;
    const engine = this.workflows;
    this.admission = new Admission(options.admission);
    this.host = { store, log, mayCommit, caller, timerSink, executions: (address) => engine?.reader(address) ?? NO_EXECUTIONS };
  }

  register(type: EntityType): void {
    if (this.types.has(type.name)) throw new Error(`entity type ${type.name} registered twice`);
    this.types.set(type.name, type);
    const rpcs = new Map([...type.rpcs.keys()].map((rpc) => [rpc, { entity_type: type.name, rpc }]));
    this.labelSets.set(type.name, rpcs.set(OTHER, { entity_type: type.name, rpc: OTHER }));
  }

  /** The metric labels of a call of `rpc` on `type`: registered names only, so hostile input mints no series. */
  labels(type: string, rpc: string): CallLabels {
    const rpcs = this.labelSets.get(type);
    if (!rpcs) return UNKNOWN;
    return rpcs.get(rpc) ?? (rpcs.get(OTHER) as CallLabels);
  }

  has(typeName: string): boolean {
    return this.types.has(typeName);
  }

  /**
   * Whether a retry of `rpc` could apply it twice, so that a forwarded call of it needs an id: not
   * a query (it changes nothing) nor a workflow (its exec id is its key; it may run for minutes).
   * Unknown here (another runner's type), it might: it gets one.
   */
  needsRequestId(type: string, rpc: string): boolean {
    const kind = this.types.get(type)?.rpcs.get(rpc)?.kind;
    return kind !== "query" && kind !== "workflow";
  }

  start(): void {
    const every = Math.max(50, Math.min(this.options.idleMs / 2, 5_000));
    this.sweeper = setInterval(() => this.evictIdle(), every);
    this.sweeper.unref();
  }

  /**
   * Applies one call to the entity at `address`: a turn in its mailbox, or (workflow RPCs) a run of
   * the workflow. `args` are validated against the RPC's schema here, at the owner, whoever sent them.
   * Past the runner's or the mailbox's bound it is refused (OVERLOADED) unapplied. Turns the
   * framework makes (activities, timer fires) are never refused: their callers would only retry.
   */
  call(call: Call): Promise<unknown> {
    const observe = this.metrics.turnTimer(this.labels(call.address.type, call.rpc));
    const reply = this.apply(call);
    reply.then(observe, observe);
    return reply;
  }

  private apply(call: Call): Promise<unknown> {
    const { address, rpc } = call;
    const type = this.types.get(address.type);
    if (!type) return Promise.reject(new ClusterError("NOT_IMPLEMENTED", `entity type ${address.type} is not registered`));
    if (rpc === CANCEL_TIMER_RPC) {
      const args = CancelArgs.safeParse(call.args);
      if (!args.success) return Promise.reject(badRequest(`invalid arguments for ${CANCEL_TIMER_RPC}: ${args.error.message}`));
      // An entity without timers has none pending; nothing to load or commit.
      return type.timerFire ? this.post(type, { ...call, args: args.data }, cancelTimerTurn) : Promise.resolve(null);
    }
    const impl = type.rpcs.get(rpc);
    if (rpc === SIGNAL_RPC) return this.deliverSignal(address, call.args);
    if (rpc === CANCEL_EXECUTION_RPC) return this.cancelExecution(type, call);
    if (!impl) return Promise.reject(badRequest(`entity type ${address.type} has no RPC ${rpc}`));
    const parsed = impl.args.safeParse(call.args);
    if (!parsed.success) return Promise.reject(badRequest(`invalid arguments for ${address.type}.${rpc}: ${parsed.error.message}`));
    if (impl.kind === "workflow") {
      // The exec id is the workflow's idempotency key; request ids play no part.
      const { workflows } = this;
      if (!workflows) return noWorkflows();
      return this.admission.admit(0, formatAddress(address), () => workflows.run(address, rpc, impl.workflow, parsed.data));
    }
    const mailbox = this.mailbox(address, type);
    // A reentrant call (its chain passed through this entity) joins the running turn, not the queue.
    const backlog = call.callChain.length > 0 && call.callChain.includes(formatAddress(address)) ? 0 : mailbox.backlog;
    return this.admission.admit(backlog, formatAddress(address), () => this.postTo(mailbox, { ...call, args: parsed.data }, impl));
  }

  /** Applies a turn the framework makes (an activity) to the entity at `address`. */
  turn(address: EntityAddress, turn: TurnImplementation): Promise<unknown> {
    const type = this.types.get(address.type);
    if (!type) return Promise.reject(new ClusterError("NOT_IMPLEMENTED", `entity type ${address.type} is not registered`));
    return this.post(type, frameworkCall(address, "(activity)", undefined), turn);
  }

  /** Resumes the running workflow executions of `shards`, in the background. */
  resume(shards: readonly ShardId[]): void {
    this.workflows?.resume(shards);
  }

  /** Runs the fire turn of timer `timerId` on the entity at `address` (a local shard). */
  fireTimer(address: EntityAddress, timerId: string): Promise<FireOutcome> {
    const type = this.types.get(address.type);
    // The framework's own timers (durable workflow waits) fire a framework turn, not onTimer.
    if (type && this.workflows && parseWaitTimer(timerId)) {
      return this.post(
        type,
        frameworkCall(address, "$timer", { timer_id: timerId }),
        this.workflows.fireTurn(address, timerId),
      ) as Promise<FireOutcome>;
    }
    if (!type?.timerFire) return Promise.reject(new ClusterError("NOT_IMPLEMENTED", `entity type ${address.type} does not handle timers`));
    return this.post(type, frameworkCall(address, "$timer", { timer_id: timerId }), type.timerFire) as Promise<FireOutcome>;
  }

  /** Addresses of the entities active here now. */
  activeEntities(): EntityAddress[] {
    return [...this.active.values()].map((m) => m.address);
  }

  /** Active entities per registered type, every type listed (zero included). */
  activeByType(): Map<string, number> {
    const counts = new Map([...this.types.keys()].map((type) => [type, 0]));
    for (const m of this.active.values()) counts.set(m.address.type, (counts.get(m.address.type) ?? 0) + 1);
    return counts;
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Workflow executions held in memory here (suspended ones are not). */
  get activeExecutionCount(): number {
    return this.workflows?.activeCount ?? 0;
  }

  /** A signal delivery (`SIGNAL_RPC`), at the owner of the entity's shard. */
  private async deliverSignal(address: EntityAddress, args: unknown): Promise<null> {
    if (!this.workflows) return noWorkflows();
    const parsed = SignalArgs.safeParse(args);
    if (!parsed.success) throw badRequest(`invalid signal: ${parsed.error.message}`);
    await this.workflows.deliver(address, parsed.data.exec_id, parsed.data.name, parsed.data.payload);
    return null;
  }

  /**
   * An operator's cancel (`CANCEL_EXECUTION_RPC`), at the owner of the entity's shard: its turn is
   * posted as the call itself (a retry is answered from its stored reply), then the compensations
   * run here; answers once they ended.
   */
  private async cancelExecution(type: EntityType, call: Call): Promise<null> {
    if (!this.workflows) return noWorkflows();
    const parsed = CancelExecutionArgs.safeParse(call.args);
    if (!parsed.success) throw badRequest(`invalid arguments for ${CANCEL_EXECUTION_RPC}: ${parsed.error.message}`);
    await this.workflows.cancel(call.address, parsed.data.exec_id, (turn) => this.post(type, { ...call, args: parsed.data }, turn));
    return null;
  }

  /**
   * Stops the workflow executions of these shards, lets their running turns finish, then forgets
   * their entities.
   */
  async release(shards: ReadonlySet<ShardId>): Promise<void> {
    await this.workflows?.release(shards);
    const leaving = [...this.active.entries()].filter(([, m]) => shards.has(m.address.shard));
    await Promise.all(leaving.map(([, m]) => m.whenIdle()));
    for (const [key, m] of leaving) {
      if (this.active.get(key) !== m || !m.idle) continue;
      this.active.delete(key);
      this.metrics.entities.evictions.inc({ entity_type: m.address.type, reason: "released" });
    }
  }

  /** Stops evicting and running workflows, and waits for every in-flight turn to finish. */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    await this.workflows?.stop();
    await Promise.all([...this.active.values()].map((m) => m.whenIdle()));
  }

  /** Queues `call` (its arguments valid) in its entity's mailbox, to be applied by `impl`. */
  private post(type: EntityType, call: Call, impl: TurnImplementation): Promise<unknown> {
    return this.postTo(this.mailbox(call.address, type), call, impl);
  }

  private postTo(mailbox: Mailbox, call: Call, impl: TurnImplementation): Promise<unknown> {
    return new Promise((resolve, reject) => mailbox.post({ call, impl, resolve, reject }));
  }

  private mailbox(address: EntityAddress, type: EntityType): Mailbox {
    const key = addressKey(address.type, address.id);
    let mailbox = this.active.get(key);
    if (!mailbox) {
      mailbox = new Mailbox(address, type, this.host);
      this.active.set(key, mailbox);
      this.metrics.entities.activations.inc({ entity_type: type.name });
    }
    return mailbox;
  }

  private evictIdle(): void {
    const cutoff = Date.now() - this.options.idleMs;
    for (const [key, mailbox] of this.active) {
      if (!mailbox.idle || mailbox.lastActive > cutoff) continue;
      this.active.delete(key);
      this.metrics.entities.evictions.inc({ entity_type: mailbox.address.type, reason: "idle" });
    }
  }
}

/** A turn the framework makes: no caller waits past a deadline, no request id, no chain. */
function frameworkCall(address: EntityAddress, rpc: string, args: unknown): Call {
  return { address, rpc, args, requestId: undefined, fresh: false, callChain: [], deadline: Number.POSITIVE_INFINITY };
}

const UNKNOWN: CallLabels = { entity_type: OTHER, rpc: OTHER };

const noCaller: EntityCaller = () => Promise.reject(new ClusterError("NOT_IMPLEMENTED", "this runtime cannot call other entities"));
