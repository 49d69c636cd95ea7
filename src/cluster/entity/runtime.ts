import type { Call } from "../call.ts";
import { badRequest, ClusterError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ShardId } from "../ownership/shard.ts";
import type { StateStore } from "../storage/entity-state/store.ts";
import type { WorkflowStore } from "../storage/workflows/store.ts";
import type { FireOutcome, TimerSink } from "../timers/timer.ts";
import { WorkflowEngine } from "../workflow/engine.ts";
import { SIGNAL_RPC, SignalArgs } from "../workflow/signal.ts";
import { parseWaitTimer } from "../workflow/sleep.ts";
import { addressKey, type EntityAddress } from "./address.ts";
import type { ExecutionReader, TurnImplementation } from "./context.ts";
import type { EntityType } from "./definition.ts";
import { type EntityCaller, Mailbox, type MailboxHost } from "./mailbox.ts";

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
  };
  /** How handlers reach other entities (through the router). */
  readonly caller?: EntityCaller;
  /** Told of timer changes once they commit (the shard owner's schedule). */
  readonly timerSink?: TimerSink;
}

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
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: RuntimeOptions) {
    const { workflows, store, log, mayCommit = () => true, caller = noCaller, timerSink } = options;
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
        })
      : undefined;
    const engine = this.workflows;
    this.host = { store, log, mayCommit, caller, timerSink, executions: (address) => engine?.reader(address) ?? NO_EXECUTIONS };
  }

  register(type: EntityType): void {
    if (this.types.has(type.name)) throw new Error(`entity type ${type.name} registered twice`);
    this.types.set(type.name, type);
  }

  has(typeName: string): boolean {
    return this.types.has(typeName);
  }

  start(): void {
    const every = Math.max(50, Math.min(this.options.idleMs / 2, 5_000));
    this.sweeper = setInterval(() => this.evictIdle(), every);
    this.sweeper.unref();
  }

  /**
   * Applies one call to the entity at `address`: a turn in its mailbox, or (workflow RPCs) a run of
   * the workflow. `args` are validated against the RPC's schema here, at the owner, whoever sent them.
   */
  call(call: Call): Promise<unknown> {
    const { address, rpc } = call;
    const type = this.types.get(address.type);
    if (!type) return Promise.reject(new ClusterError("NOT_IMPLEMENTED", `entity type ${address.type} is not registered`));
    const impl = type.rpcs.get(rpc);
    if (rpc === SIGNAL_RPC) return this.deliverSignal(address, call.args);
    if (!impl) return Promise.reject(badRequest(`entity type ${address.type} has no RPC ${rpc}`));
    const parsed = impl.args.safeParse(call.args);
    if (!parsed.success) return Promise.reject(badRequest(`invalid arguments for ${address.type}.${rpc}: ${parsed.error.message}`));
    if (impl.kind === "workflow") {
      // The exec id is the workflow's idempotency key; request ids play no part.
      return this.workflows ? this.workflows.run(address, rpc, impl.workflow, parsed.data) : noWorkflows();
    }
    return this.post(type, { ...call, args: parsed.data }, impl);
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
   * Stops the workflow executions of these shards, lets their running turns finish, then forgets
   * their entities.
   */
  async release(shards: ReadonlySet<ShardId>): Promise<void> {
    await this.workflows?.release(shards);
    const leaving = [...this.active.entries()].filter(([, m]) => shards.has(m.address.shard));
    await Promise.all(leaving.map(([, m]) => m.whenIdle()));
    for (const [key, m] of leaving) if (this.active.get(key) === m && m.idle) this.active.delete(key);
  }

  /** Stops evicting and running workflows, and waits for every in-flight turn to finish. */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    await this.workflows?.stop();
    await Promise.all([...this.active.values()].map((m) => m.whenIdle()));
  }

  /** Queues `call` (its arguments valid) in its entity's mailbox, to be applied by `impl`. */
  private post(type: EntityType, call: Call, impl: TurnImplementation): Promise<unknown> {
    return new Promise((resolve, reject) => this.mailbox(call.address, type).post({ call, impl, resolve, reject }));
  }

  private mailbox(address: EntityAddress, type: EntityType): Mailbox {
    const key = addressKey(address.type, address.id);
    let mailbox = this.active.get(key);
    if (!mailbox) {
      mailbox = new Mailbox(address, type, this.host);
      this.active.set(key, mailbox);
    }
    return mailbox;
  }

  private evictIdle(): void {
    const cutoff = Date.now() - this.options.idleMs;
    for (const [key, mailbox] of this.active) {
      if (mailbox.idle && mailbox.lastActive <= cutoff) this.active.delete(key);
    }
  }
}

/** A turn the framework makes: no caller waits past a deadline, no request id, no chain. */
function frameworkCall(address: EntityAddress, rpc: string, args: unknown): Call {
  return { address, rpc, args, requestId: undefined, fresh: false, callChain: [], deadline: Number.POSITIVE_INFINITY };
}

const noCaller: EntityCaller = () => Promise.reject(new ClusterError("NOT_IMPLEMENTED", "this runtime cannot call other entities"));
