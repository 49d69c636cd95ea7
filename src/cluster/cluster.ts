import { Operator } from "./admin/operator.ts";
import type { CallOptions } from "./call.ts";
import type { ActiveEntity, ClusterMode, ClusterOptions, ShardPlacement } from "./cluster-options.ts";
import { CronJobs, type CronOptions, type CronRun } from "./cron/cron.ts";
import { type EntityAddress, unstorableId } from "./entity/address.ts";
import { EntityRuntime } from "./entity/runtime.ts";
import { badRequest } from "./errors.ts";
import { inboundHandler } from "./inbound.ts";
import type { Json } from "./json.ts";
import { limits } from "./limits.ts";
import { ClusterMetrics } from "./metrics/metrics.ts";
import { callTotals, type RunnerTraffic, TrafficSampler } from "./metrics/traffic.ts";
import { DEFAULT_ADMISSION } from "./overload.ts";
import type { EtcdOwnership } from "./ownership/etcd-ownership.ts";
import { OwnershipJournal } from "./ownership/journal.ts";
import { type Ownership, SoleOwnership } from "./ownership/ownership.ts";
import { shardOf } from "./ownership/shard.ts";
import { Router } from "./router.ts";
import { type SingletonContext, SingletonManager, type SingletonOptions, type SingletonRun } from "./singleton/manager.ts";
import { SqlStateStore } from "./storage/entity-state/sql.ts";
import { pruneEvery } from "./storage/pruning.ts";
import { SqlSingletonRunStore } from "./storage/singletons/sql.ts";
import { SqlTimerStore } from "./storage/timers/sql.ts";
import { SqlWorkflowAdminStore } from "./storage/workflows/admin-sql.ts";
import { SqlWorkflowStore } from "./storage/workflows/sql.ts";
import { TimerService } from "./timers/service.ts";
import type { GrpcTransport } from "./transport/grpc.ts";
import { fromPeers } from "./transport/peers.ts";
import type { InboundHandler } from "./transport/wire.ts";
import { SIGNAL_RPC } from "./workflow/signal.ts";

/** Cluster mode's building blocks, loaded only in cluster mode (etcd and gRPC take ~300 ms to load). */
interface Network {
  readonly GrpcTransport: typeof GrpcTransport;
  readonly EtcdOwnership: typeof EtcdOwnership;
}

/**
 * A runner's view of the cluster: it routes each call to the owner of the entity's shard and
 * runs the calls for the shards it owns.
 */
export class Cluster {
  private readonly runtime: EntityRuntime;
  private readonly store: SqlStateStore;
  private readonly timerStore: SqlTimerStore;
  private readonly timers: TimerService;
  private readonly ownership: Ownership;
  private readonly transport: GrpcTransport | undefined;
  private readonly router: Router;
  private readonly singletons: SingletonManager;
  /** The operator API's view of the cluster (GET/POST /admin/…). */
  readonly operator: Operator;
  private readonly crons: CronJobs;
  private pruner: NodeJS.Timeout | undefined;
  /** Calls/s and latency quantiles of the last minutes, one sample a second (the dashboard's charts). */
  private readonly sampler: TrafficSampler;
  /** This runner's instruments (the /metrics route serves their text). */
  readonly metrics: ClusterMetrics;

  /** A runner's cluster, in the mode its options ask for. */
  static async create(options: ClusterOptions): Promise<Cluster> {
    if (!options.etcd) return new Cluster(options, undefined);
    const [{ GrpcTransport }, { EtcdOwnership }] = await Promise.all([
      import("./transport/grpc.ts"),
      import("./ownership/etcd-ownership.ts"),
    ]);
    return new Cluster(options, { GrpcTransport, EtcdOwnership });
  }

  private constructor(
    private readonly options: ClusterOptions,
    network: Network | undefined,
  ) {
    const { log } = options;
    const etcd = network && options.etcd;
    const metrics = new ClusterMetrics(options.metrics?.enabled ?? true);
    if (options.metrics?.processMetrics) metrics.instruments.processMetrics();
    this.metrics = metrics;
    this.sampler = new TrafficSampler(() => callTotals(metrics));
    this.store = new SqlStateStore(options.storage, metrics);
    this.timerStore = new SqlTimerStore(options.storage.db, options.shardCount);
    this.timers = new TimerService({
      load: (shards) => this.timerStore.loadPending(shards),
      fire: (address, timerId) => this.runtime.fireTimer(address, timerId),
      address: (type, id) => this.address(type, id),
      log,
      metrics,
    });
    const workflowStore = new SqlWorkflowStore(options.storage);
    this.runtime = new EntityRuntime({
      store: this.store,
      log,
      idleMs: options.entityIdleMs,
      mayCommit: (shard) => this.ownership.mayCommit(shard),
      workflows: { store: workflowStore, address: (type, id) => this.address(type, id) },
      caller: (type, id, rpc, args, from) => this.call(type, id, rpc, args, from),
      timerSink: this.timers,
      metrics,
      admission: {
        ...(options.admission ?? DEFAULT_ADMISSION),
        onRefused: (reason) => {
          metrics.calls.refused.inc({ reason });
          options.admission?.onRefused?.(reason);
        },
      },
    });
    for (const type of options.entities) this.runtime.register(type);
    this.transport = etcd
      ? new network.GrpcTransport({ address: options.runnerId, bind: etcd.grpcListen, secret: options.secret, tls: options.tls, log })
      : undefined;
    this.ownership = etcd
      ? new network.EtcdOwnership({
          ...etcd,
          journal: etcd.ownershipLog ? new OwnershipJournal(etcd.ownershipLog, options.runnerId) : undefined,
          runnerId: options.runnerId,
          shardCount: options.shardCount,
          log,
          onRunnerGone: (runner) => this.transport?.forget(runner),
          leaseEvents: {
            keepAliveFailed: () => metrics.ownership.keepAliveFailures.inc({}),
            fenced: () => metrics.ownership.fenced.inc({}),
          },
        })
      : new SoleOwnership(options.runnerId, options.shardCount);
    // Timers first: a shard's timers are loaded before its calls are accepted, dropped as it leaves.
    this.ownership.subscribe(this.timers);
    this.crons = new CronJobs(log);
    // Singletons before the runtime: a shutdown hook still reaches its shard's entities here.
    this.singletons = new SingletonManager(
      this.ownership,
      new SqlSingletonRunStore(options.storage.db),
      options.shardCount,
      (signal) => ((protocol, id, rpc, args) => this.call(protocol.type, id, rpc, args, { signal })) as SingletonContext["call"],
      ((protocol, id, rpc, args) =>
        this.runtime.call({
          address: this.address(protocol.type, id),
          rpc,
          args,
          requestId: undefined,
          fresh: false,
          callChain: [],
          deadline: Date.now() + limits.callTimeoutMs,
        })) as SingletonContext["call"],
      log,
      metrics,
    );
    this.ownership.subscribe({
      // Executions left running by a crash, a handover or a restart continue here.
      serving: (shards) => this.runtime.resume(shards),
      released: (shards) => this.runtime.release(new Set(shards)),
    });
    this.operator = new Operator({
      runnerId: options.runnerId,
      ownership: this.ownership,
      runtime: this.runtime,
      transport: this.transport,
      workflows: new SqlWorkflowAdminStore(options.storage.db),
      timers: this.timerStore,
      call: (type, id, rpc, args, trace) => this.call(type, id, rpc, args, { trace }),
      log,
      onCancelled: (workflow) => metrics.workflowCancelled(workflow),
    });
    this.ownership.subscribe(metrics.shardListener());
    metrics.read({
      shardsOwned: () => this.ownership.ownedCount(),
      liveRunners: () => this.ownership.runners().length,
      activeEntities: () => [...this.runtime.activeByType()].map(([entity_type, n]) => [{ entity_type }, n] as const),
      timersPending: () => this.timers.size,
    });
    this.router = new Router(this.ownership, this.runtime, this.transport, log, metrics);
  }

  /**
   * Runs `run` once per due time of the cron expression `schedule` (5 fields; croner parses it),
   * on exactly one runner, as a workflow execution keyed by the due time: a due time never runs
   * twice, even across failover. Due times missed while no runner was up run once on return when
   * younger than `skipIfOlderThanMs` (default 1 day); older ones are skipped and logged. Before start().
   */
  registerCron(name: string, schedule: string, run: CronRun, options?: CronOptions): void {
    if (this.crons.size === 0) this.runtime.register(this.crons.entity);
    this.crons.add(name, schedule, run, options);
    this.singletons.register(`$cron:${name}`, this.crons.scheduler(name));
  }

  /** Runs `run` on exactly one runner of the cluster: the owner of `shard(name)`. Before start(). */
  registerSingleton(name: string, run: SingletonRun, options?: SingletonOptions): void {
    this.singletons.register(name, run, options);
  }

  get runnerId(): string {
    return this.options.runnerId;
  }

  get mode(): ClusterMode {
    return this.options.mode;
  }

  /** How long an entity stays active without calls before it is evicted. */
  get entityIdleMs(): number {
    return this.options.entityIdleMs;
  }

  /** Serves peers, joins the cluster and takes this runner's share of the shards. */
  async start(): Promise<void> {
    this.runtime.start();
    this.sampler.start();
    await this.transport?.listen(this.inbound());
    await this.ownership.start();
    this.singletons.start();
    this.pruner = pruneEvery(limits.pruneEveryMs, this.store, this.timerStore, this.options.log);
  }

  has(entityType: string): boolean {
    return this.runtime.has(entityType);
  }

  address(type: string, id: string): EntityAddress {
    return { type, id, shard: shardOf(id, this.options.shardCount) };
  }

  /** Calls `rpc` on the entity `(type, id)`, wherever it lives. */
  call(type: string, id: string, rpc: string, args: unknown, options: CallOptions = {}): Promise<unknown> {
    // Refused here, before routing: storage would fail on every retry until the deadline.
    const unstorable = unstorableId(id);
    if (unstorable) return Promise.reject(badRequest(unstorable));
    return this.router.call({
      address: this.address(type, id),
      rpc,
      args,
      requestId: options.requestId,
      fresh: false,
      callChain: options.callChain ?? [],
      deadline: Math.min(options.deadline ?? Number.POSITIVE_INFINITY, Date.now() + (options.timeoutMs ?? limits.callTimeoutMs)),
      trace: options.trace,
      signal: options.signal,
    });
  }

  /** What peers may ask of this runner (see inbound.ts). */
  private inbound(): InboundHandler {
    return inboundHandler({
      runnerId: this.runnerId,
      log: this.options.log,
      ownership: this.ownership,
      runtime: this.runtime,
      locate: (type, id) => this.address(type, id),
      traffic: () => this.sampler.recent(),
      operator: this.operator,
    });
  }

  shards(): ShardPlacement[] {
    return Array.from({ length: this.options.shardCount }, (_, shard) => ({
      shard,
      owner: this.ownership.ownerOf(shard),
      local: this.ownership.isLocal(shard),
    }));
  }

  /** Entities active on this runner. */
  localEntities(): ActiveEntity[] {
    return this.runtime.activeEntities().map((address) => ({ address, runner: this.runnerId }));
  }

  /** Entities active anywhere in the cluster (peers that do not answer in time are left out, and logged). */
  async allEntities(): Promise<ActiveEntity[]> {
    const remote = await this.askPeers("its entities", async (transport, peer) =>
      (await transport.activeEntities(peer, limits.peerQueryTimeoutMs)).map((address) => ({ address, runner: peer })),
    );
    return [...this.localEntities(), ...remote];
  }

  /** Every runner's recent traffic (see TrafficSampler), this one's first. */
  async traffic(): Promise<RunnerTraffic[]> {
    const remote = await this.askPeers("its traffic samples", async (transport, peer) => [
      { runner: peer, samples: await transport.traffic(peer, limits.peerQueryTimeoutMs) },
    ]);
    return [{ runner: this.runnerId, samples: this.sampler.recent() }, ...remote];
  }

  private async askPeers<T>(what: string, ask: (transport: GrpcTransport, peer: string) => Promise<readonly T[]>): Promise<T[]> {
    const transport = this.transport;
    if (!transport) return [];
    return fromPeers(
      this.ownership.runners().filter((r) => r !== this.runnerId),
      (peer) => ask(transport, peer),
      what,
      this.options.log,
    );
  }

  /** False until this runner holds its lease (cluster mode), and while it drains or stops. */
  get ready(): boolean {
    return this.ownership.ready();
  }

  get shardsOwned(): number {
    return this.ownership.ownedCount();
  }

  get activeEntityCount(): number {
    return this.runtime.activeCount;
  }

  /** Workflow executions held in memory on this runner (suspended ones are held nowhere). */
  get activeExecutionCount(): number {
    return this.runtime.activeExecutionCount;
  }

  /**
   * Delivers signal `name` with `payload` to execution `execId` of entity `(type, id)`, wherever
   * it lives: exactly once (a second delivery, or one after the wait timed out, is refused with
   * ALREADY_EXISTS, HTTP 409, and the first payload stands). A signal may come before the
   * execution reaches its wait, or even starts: the wait consumes it when it gets there.
   */
  async signal(type: string, id: string, execId: string, name: string, payload: Json, options: CallOptions = {}): Promise<void> {
    await this.call(type, id, SIGNAL_RPC, { exec_id: execId, name, payload }, options);
  }

  /**
   * Hands the shards over (in-flight turns finish first), leaves the cluster, closes storage.
   * `exiting`: the process ends right after, so peer connections are left for the kernel to
   * close. A graceful gRPC shutdown sends HTTP/2 GOAWAY frames, and Deno's HTTP/2 client aborts
   * the whole process on some of them (nghttp2 assertion in find_stream_on_goaway_func).
   */
  async shutdown(options: { exiting?: boolean } = {}): Promise<void> {
    clearInterval(this.pruner);
    this.sampler.stop();
    await this.ownership.stop();
    this.timers.stop();
    await this.singletons.stop();
    await this.runtime.stop();
    if (!options.exiting) await this.transport?.close();
    await this.options.storage.close();
  }
}
