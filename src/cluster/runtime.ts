import { addressKey, type EntityAddress } from "./address.ts";
import type { EntityType, RpcImplementation } from "./entity.ts";
import type { FireOutcome, TimerSink } from "./entity-timers.ts";
import { badRequest, ClusterError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { type EntityCaller, Mailbox } from "./mailbox.ts";
import type { ShardId } from "./shard.ts";
import type { StateStore } from "./storage/entity-store.ts";

export interface CallOptions {
  readonly requestId?: string | undefined;
  /** The request id was minted for this very attempt: no stored reply can exist, skip the lookup. */
  readonly fresh?: boolean;
  readonly callChain?: readonly string[];
}

export interface RuntimeOptions {
  readonly store: StateStore;
  readonly log: Logger;
  /** Evict an entity after this long without calls. */
  readonly idleMs: number;
  /** Whether state of `shard` may still be written here (the ownership fence). */
  readonly mayCommit?: (shard: ShardId) => boolean;
  /** How handlers reach other entities (through the router). */
  readonly caller?: EntityCaller;
  /** Told of timer changes once they commit (the shard owner's schedule). */
  readonly timerSink?: TimerSink;
}

/**
 * The entities active on this runner: one mailbox each, created on first call, evicted when idle.
 * The runtime does not know about ownership; the router only sends it calls for local shards.
 */
export class EntityRuntime {
  private readonly types = new Map<string, EntityType>();
  private readonly active = new Map<string, Mailbox>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: RuntimeOptions) {}

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
   * Applies one call to the entity at `address`. `args` are validated against the RPC's schema
   * here, at the owner, whoever sent them.
   */
  call(address: EntityAddress, rpc: string, args: unknown, options: CallOptions = {}): Promise<unknown> {
    const type = this.types.get(address.type);
    if (!type) return Promise.reject(new ClusterError("NOT_IMPLEMENTED", `entity type ${address.type} is not registered`));
    const impl = type.rpcs.get(rpc);
    if (!impl) return Promise.reject(badRequest(`entity type ${address.type} has no RPC ${rpc}`));
    const parsed = impl.args.safeParse(args);
    if (!parsed.success) return Promise.reject(badRequest(`invalid arguments for ${address.type}.${rpc}: ${parsed.error.message}`));
    return this.post(address, type, rpc, impl, parsed.data, options);
  }

  /** Runs the fire turn of timer `timerId` on the entity at `address` (a local shard). */
  fireTimer(address: EntityAddress, timerId: string): Promise<FireOutcome> {
    const type = this.types.get(address.type);
    if (!type?.timerFire) return Promise.reject(new ClusterError("NOT_IMPLEMENTED", `entity type ${address.type} does not handle timers`));
    return this.post(address, type, "$timer", type.timerFire, { timer_id: timerId }, {}) as Promise<FireOutcome>;
  }

  private post(address: EntityAddress, type: EntityType, rpc: string, impl: RpcImplementation, args: unknown, options: CallOptions) {
    return new Promise<unknown>((resolve, reject) => {
      this.mailbox(address, type).post({
        rpc,
        impl,
        args,
        requestId: options.requestId,
        fresh: options.fresh === true,
        callChain: options.callChain ?? [],
        resolve,
        reject,
      });
    });
  }

  /** Addresses of the entities active here now. */
  activeEntities(): EntityAddress[] {
    return [...this.active.values()].map((m) => m.address);
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Lets the running turns of these shards finish, then forgets their entities. */
  async release(shards: ReadonlySet<ShardId>): Promise<void> {
    const leaving = [...this.active.entries()].filter(([, m]) => shards.has(m.address.shard));
    await Promise.all(leaving.map(([, m]) => m.whenIdle()));
    for (const [key, m] of leaving) if (this.active.get(key) === m && m.idle) this.active.delete(key);
  }

  /** Stops evicting and waits for every in-flight turn to finish. */
  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.active.values()].map((m) => m.whenIdle()));
  }

  private mailbox(address: EntityAddress, type: EntityType): Mailbox {
    const key = addressKey(address.type, address.id);
    let mailbox = this.active.get(key);
    if (!mailbox) {
      const { store, log, mayCommit = () => true, caller = noCaller, timerSink } = this.options;
      mailbox = new Mailbox(address, type, store, log, mayCommit, caller, timerSink);
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

const noCaller: EntityCaller = () => Promise.reject(new ClusterError("NOT_IMPLEMENTED", "this runtime cannot call other entities"));
