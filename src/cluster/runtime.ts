import { addressKey, type EntityAddress } from "./address.ts";
import type { EntityType } from "./entity.ts";
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
    return new Promise((resolve, reject) => {
      this.mailbox(address, type).post({
        rpc,
        impl,
        args: parsed.data,
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
      const { store, log, mayCommit = () => true, caller = noCaller } = this.options;
      mailbox = new Mailbox(address, type, store, log, mayCommit, caller);
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
