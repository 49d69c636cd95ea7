import { Etcd3 } from "etcd3";
import { type Backoff, backoffDelay } from "../backoff.ts";
import { deferDestroyInGoaway } from "../deno-http2.ts";
import type { Logger } from "../log.ts";
import type { EtcdSecurity } from "../tls.ts";
import { assignShards } from "./assignment.ts";
import type { OwnershipJournal } from "./journal.ts";
import { FencedLease, type LeaseEvents } from "./lease.ts";
import type { LeaseStatus, Ownership, ShardListener } from "./ownership.ts";
import type { ShardId } from "./shard.ts";
import { Topology, type TopologyChange } from "./topology.ts";

/** Between attempts to rejoin after the lease was lost. */
const REJOIN_BACKOFF: Backoff = { firstMs: 200, maxMs: 5_000, jitter: false };

export interface EtcdOwnershipOptions {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly runnerId: string;
  readonly shardCount: number;
  readonly leaseTtlMs: number;
  /** TLS (a CA, a client certificate) and a user for etcd. */
  readonly security?: EtcdSecurity | undefined;
  readonly log: Logger;
  /** Told when a runner leaves, so calls in flight to it can fail over at once. */
  readonly onRunnerGone?: (runner: string) => void;
  /** Records every ownership interval, for checking that no shard ever has two owners. */
  readonly journal?: OwnershipJournal | undefined;
  readonly leaseEvents?: LeaseEvents;
}

/** Most concurrent lock transactions while acquiring shards. */
const ACQUIRE_CONCURRENCY = 32;

/**
 * Cluster-mode ownership. Membership is an etcd lease per runner with the runner's key under it;
 * the shard table is bounded-load rendezvous over the live runners; serving a shard requires its
 * lock, a key created only if absent, under this runner's lease. A reconcile loop moves the runner
 * towards the table whenever the topology changes: it hands over shards it should no longer serve
 * (after their in-flight calls finish) and takes the ones it should, as their locks come free.
 * Past the lease's fencing deadline nothing is served, before any other runner can take over.
 */
export class EtcdOwnership implements Ownership {
  private readonly client: Etcd3;
  private readonly topology: Topology;
  private readonly listeners: ShardListener[] = [];
  private lease: FencedLease | undefined;
  /** Locks this runner holds under its current lease. */
  private readonly held = new Set<ShardId>();
  /** Held shards being handed over: no new calls, in-flight ones may still commit. */
  private readonly leaving = new Set<ShardId>();
  /** Handed-over shards whose work has settled and whose locks are being deleted: nothing commits. */
  private readonly freeing = new Set<ShardId>();
  private table: string[] = [];
  private reconciling: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Set by an operator (POST /admin/runners/…/drain): hand every shard over, take none. */
  private draining = false;
  private knownRunners = new Set<string>();

  constructor(private readonly options: EtcdOwnershipOptions) {
    const { credentials, auth, serverName } = options.security ?? {};
    deferDestroyInGoaway(); // etcd's graceful restart sends a GOAWAY too (Deno: see deno-http2.ts)
    this.client = new Etcd3({
      hosts: [...options.endpoints],
      dialTimeout: 5_000,
      ...(credentials ? { credentials: { ...credentials } } : {}),
      ...(auth ? { auth: { ...auth } } : {}),
      ...(serverName ? { grpcOptions: { "grpc.ssl_target_name_override": serverName } } : {}),
    });
    this.topology = new Topology(this.client, options.prefix, options.log, (change) => this.onTopology(change));
  }

  get runnerId(): string {
    return this.options.runnerId;
  }

  async start(): Promise<void> {
    await this.join();
    await this.topology.start();
    await this.reconciling;
  }

  ownerOf(shard: ShardId): string | undefined {
    return this.topology.holders.get(shard)?.runner ?? this.table[shard];
  }

  isLocal(shard: ShardId): boolean {
    return this.held.has(shard) && !this.leaving.has(shard) && !this.stopping && this.lease?.alive === true;
  }

  mayCommit(shard: ShardId): boolean {
    return this.held.has(shard) && !this.freeing.has(shard) && this.lease?.alive === true;
  }

  ownedCount(): number {
    let n = 0;
    for (const s of this.held) if (this.isLocal(s)) n++;
    return n;
  }

  runners(): readonly string[] {
    return [...this.topology.runners].sort();
  }

  subscribe(listener: ShardListener): void {
    this.listeners.push(listener);
  }

  ready(): boolean {
    return this.lease?.alive === true && !this.draining && !this.stopping;
  }

  isDraining(runner: string = this.runnerId): boolean {
    return runner === this.runnerId ? this.draining : this.topology.draining.has(runner);
  }

  leaseStatus(): LeaseStatus | undefined {
    return this.lease?.status();
  }

  /**
   * Publishes (or withdraws) this runner's draining flag under its lease, so that every runner's
   * table leaves it out; the reconcile loop then hands its shards over as SIGTERM would, while the
   * runner goes on serving HTTP and forwarding calls.
   */
  async drain(on: boolean): Promise<void> {
    const key = Topology.drainingKey(this.options.prefix, this.runnerId);
    const lease = this.lease;
    // Published first: a runner that dropped its shards while the others still assigned them to it
    // would leave them unserved. (Without a lease, the next join publishes it.)
    if (on && lease) await this.client.put(key).value(this.runnerId).lease(lease.id).exec();
    if (!on) await this.client.delete().key(key).exec();
    this.draining = on;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    await this.reconciling;
    await this.handOver([...this.held]);
    // Revoking deletes the runner key and every lock at once: the others take over immediately.
    await this.lease?.revoke().catch((err: unknown) => this.options.log.warn({ err }, "lease revoke failed"));
    this.held.clear();
    await this.topology.stop();
    this.client.close();
    this.options.journal?.close();
  }

  /** Grants a lease and registers this runner under it. */
  private async join(): Promise<void> {
    const { log, runnerId, prefix, leaseTtlMs } = this.options;
    const journal = this.options.journal;
    const lease = await FencedLease.grant(
      this.client,
      leaseTtlMs,
      log,
      () => void this.onLeaseLost(lease),
      journal && ((id, remainingMs) => journal.fence(id, remainingMs)),
      this.options.leaseEvents,
    );
    await this.client.put(Topology.runnerKey(prefix, runnerId)).value(runnerId).lease(lease.id).exec();
    // A drain outlives a lost lease: the new lease carries the flag again.
    if (this.draining) await this.client.put(Topology.drainingKey(prefix, runnerId)).value(runnerId).lease(lease.id).exec();
    this.lease = lease;
    log.info({ lease: lease.id }, "joined the cluster");
  }

  /** The lease expired (etcd unreachable too long, or this process was paused): start over. */
  private async onLeaseLost(lost: FencedLease): Promise<void> {
    if (this.stopping || this.lease !== lost) return;
    this.lease = undefined;
    const dropped = [...this.held];
    this.options.journal?.released(lost.id, dropped);
    this.held.clear();
    this.leaving.clear();
    this.freeing.clear();
    // Nothing can be committed any more (the fence is down); just forget the entities.
    await this.notifyReleased(dropped);
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        await this.join();
        this.schedule();
        return;
      } catch (err) {
        this.options.log.warn({ err, attempt }, "cannot rejoin the cluster yet");
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, REJOIN_BACKOFF)));
      }
    }
  }

  private onTopology(change: TopologyChange): void {
    if (change.runnersChanged) {
      const now = new Set(this.topology.runners);
      for (const gone of this.knownRunners) if (!now.has(gone)) this.options.onRunnerGone?.(gone);
      this.knownRunners = now;
      this.schedule();
    } else if (change.freed.some((s) => this.table[s] === this.runnerId && !this.held.has(s))) {
      this.schedule();
    }
  }

  /** Runs the reconcile loop, or asks the running one to go round again. */
  private schedule(): void {
    if (this.reconciling) {
      this.again = true;
      return;
    }
    this.reconciling = (async () => {
      do {
        this.again = false;
        try {
          await this.reconcile();
        } catch (err) {
          this.options.log.warn({ err }, "shard reconcile failed; retrying");
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => this.schedule(), 500);
        }
      } while (this.again && !this.stopping);
      this.reconciling = undefined;
    })();
  }

  private async reconcile(): Promise<void> {
    const lease = this.lease;
    if (this.stopping || !lease) return;
    this.table = assignShards(this.options.shardCount, this.candidates());
    const me = this.runnerId;
    // Shards still `leaving` had a hand-over fail half-way (etcd unreachable): it is finished too.
    // Hand-overs and acquisitions (disjoint shards) go on together: a turn that the hand-over waits
    // for may be calling an entity of a shard this runner is about to take.
    const handingOver = this.handOver([...this.held].filter((s) => this.table[s] !== me || this.leaving.has(s)));
    try {
      await this.acquireWanted(lease, me);
    } finally {
      await handingOver;
    }
  }

  private async acquireWanted(lease: FencedLease, me: string): Promise<void> {
    const wanted: ShardId[] = [];
    this.table.forEach((owner, shard) => {
      const holder = this.topology.holders.get(shard);
      if (owner === me && !this.held.has(shard) && (!holder || holder.lease === lease.id)) wanted.push(shard);
    });
    const acquired: ShardId[] = [];
    for (let i = 0; i < wanted.length; i += ACQUIRE_CONCURRENCY) {
      const chunk = wanted.slice(i, i + ACQUIRE_CONCURRENCY);
      const results = await Promise.all(chunk.map((s) => this.lock(s, lease)));
      acquired.push(...chunk.filter((_, j) => results[j]));
    }
    if (this.lease !== lease) return;
    if (acquired.length > 0) {
      try {
        for (const listener of this.listeners) await listener.acquired?.(acquired);
      } catch (error) {
        // Not served after all: undo what the listeners prepared and free the locks, so that the
        // retry (or whoever the table names by then) can take the shards.
        await this.notifyReleased(acquired);
        await this.unlock(acquired, lease.id).catch((err: unknown) => this.options.log.warn({ err }, "cannot free unserved shard locks"));
        throw error;
      }
      if (this.lease !== lease) {
        // The lease was lost while the listeners prepared (its locks went with it): never served.
        await this.notifyReleased(acquired);
        return;
      }
      this.options.journal?.acquired(lease.id, acquired);
      for (const s of acquired) this.held.add(s);
      for (const listener of this.listeners) listener.serving?.(acquired);
      this.options.log.info({ acquired: acquired.length, owned: this.held.size }, "shards acquired");
    }
  }

  /** The runners shards may be assigned to: the live ones not draining (all of them, if every one is). */
  private candidates(): string[] {
    const takers = [...this.topology.runners].filter((r) => !this.isDraining(r));
    return takers.length > 0 ? takers : [...this.topology.runners];
  }

  /** Deletes the shards' locks if they are still held under `leaseId`. */
  private async unlock(shards: readonly ShardId[], leaseId: string): Promise<void> {
    await Promise.all(
      shards.map((s) => {
        const key = Topology.shardKey(this.options.prefix, s);
        return this.client.if(key, "Lease", "==", leaseId).then(this.client.delete().key(key)).commit();
      }),
    );
  }

  /** Creates the shard's lock under our lease if no one holds it. */
  private async lock(shard: ShardId, lease: FencedLease): Promise<boolean> {
    const key = Topology.shardKey(this.options.prefix, shard);
    const result = await this.client.if(key, "Create", "==", 0).then(this.client.put(key).value(this.runnerId).lease(lease.id)).commit();
    if (result.succeeded) return true;
    // Held under our own lease already (a retried transaction that did succeed).
    return this.topology.holders.get(shard)?.lease === lease.id;
  }

  /** Stops accepting calls for `shards`, lets their in-flight work finish, then frees their locks. */
  private async handOver(shards: ShardId[]): Promise<void> {
    if (shards.length === 0) return;
    for (const s of shards) this.leaving.add(s);
    await this.notifyReleased(shards);
    const leaseId = this.lease?.id;
    // Nothing may commit from here on: once a lock is deleted, another runner may take the shard.
    if (leaseId) this.options.journal?.released(leaseId, shards);
    for (const s of shards) this.freeing.add(s);
    if (leaseId) await this.unlock(shards, leaseId);
    for (const s of shards) {
      this.held.delete(s);
      this.leaving.delete(s);
      this.freeing.delete(s);
    }
    this.options.log.info({ released: shards.length, owned: this.held.size }, "shards handed over");
  }

  private async notifyReleased(shards: readonly ShardId[]): Promise<void> {
    if (shards.length === 0) return;
    for (const listener of this.listeners) {
      await Promise.resolve(listener.released?.(shards)).catch((err: unknown) =>
        this.options.log.error({ err }, "shard release listener failed"),
      );
    }
  }
}
