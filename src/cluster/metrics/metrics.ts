import type { LeaseEvents } from "../ownership/lease.ts";
import type { ShardListener } from "../ownership/ownership.ts";
import { type Counter, type Gauge, type Histogram, Instruments, type Reading } from "./instruments.ts";

/** The label every name outside the registered ones collapses to: hostile input mints no series. */
export const OTHER = "other";

/** The labels of a call: its entity type and RPC as registered, or OTHER. */
export interface CallLabels {
  readonly entity_type: string;
  readonly rpc: string;
}

/** Counts the runner keeps anyway, read at scrape time. */
export interface MetricReadings {
  readonly shardsOwned: () => number;
  readonly liveRunners: () => number;
  readonly activeEntities: Reading<"entity_type">;
  readonly timersPending: () => number;
}

const single =
  (read: () => number): Reading<never> =>
  () => [[{}, read()]];

/**
 * Every instrument of one Cluster, grouped by the room that records it. Names are prefixed
 * `cluster_`; units are seconds and plain counts. Labels: entity_type, rpc and workflow are
 * registered names (else "other"), outcome is "ok" or a ClusterError code, reason a fixed word.
 */
export class ClusterMetrics {
  readonly instruments: Instruments;
  readonly calls: {
    /** Entry runner: one per call (retries included in its duration), by outcome. */
    readonly total: Counter<"entity_type" | "rpc" | "outcome">;
    readonly duration: Histogram<"entity_type" | "rpc">;
    /** Owner: from the call's arrival at the runtime to its reply (queueing, turn, commit). */
    readonly turnDuration: Histogram<"entity_type" | "rpc">;
    /** Attempts sent to a peer over gRPC. */
    readonly forwarded: Counter<"entity_type" | "rpc">;
    /** Attempts retried, by the error that caused it (NOT_OWNER, UNAVAILABLE, CONFLICT), or abandoned at the deadline. */
    readonly retries: Counter<"reason">;
    /** Calls refused past a bound (503 overloaded), by the bound: mailbox, inflight, forwarding. */
    readonly refused: Counter<"reason">;
  };
  readonly ownership: {
    readonly keepAliveFailures: Counter<never>;
    /** The lease's fencing deadline passed: this runner stopped serving. */
    readonly fenced: Counter<never>;
    readonly acquired: Counter<never>;
    readonly released: Counter<never>;
  };
  readonly entities: {
    readonly activations: Counter<"entity_type">;
    readonly evictions: Counter<"entity_type" | "reason">;
  };
  readonly commits: {
    readonly rows: Histogram<never>;
    readonly duration: Histogram<never>;
    readonly conflicts: Counter<never>;
  };
  readonly workflows: {
    readonly started: Counter<"workflow">;
    readonly resumed: Counter<"workflow">;
    readonly completed: Counter<"workflow">;
    readonly failed: Counter<"workflow">;
    /** An operator cancelled an execution (see `workflowCancelled`). */
    readonly cancelled: Counter<"workflow">;
    readonly running: Gauge<"workflow">;
    readonly stepDuration: Histogram<"workflow" | "kind">;
  };
  readonly timers: {
    readonly fires: Counter<never>;
    readonly lateness: Histogram<never>;
  };
  readonly singletons: {
    readonly running: Gauge<"singleton">;
    readonly starts: Counter<"singleton">;
  };
  readonly http: {
    readonly requests: Counter<"method" | "route" | "status">;
    readonly duration: Histogram<"method" | "route">;
  };

  constructor(enabled: boolean) {
    const m = new Instruments(enabled);
    this.instruments = m;
    this.calls = {
      total: m.counter("cluster_calls_total", "Entity calls entering here, by outcome", ["entity_type", "rpc", "outcome"]),
      duration: m.histogram("cluster_call_duration_seconds", "End-to-end duration of calls entering here", ["entity_type", "rpc"]),
      turnDuration: m.histogram("cluster_turn_duration_seconds", "Calls served here as the owner: arrival to reply", [
        "entity_type",
        "rpc",
      ]),
      forwarded: m.counter("cluster_forwarded_calls_total", "Call attempts forwarded to the owner over gRPC", ["entity_type", "rpc"]),
      retries: m.counter("cluster_call_retries_total", "Call attempts retried (or abandoned: deadline), by reason", ["reason"]),
      refused: m.counter("cluster_calls_refused_total", "Calls refused past a bound (503 overloaded), by bound", ["reason"]),
    };
    this.ownership = {
      keepAliveFailures: m.counter("cluster_lease_keepalive_failures_total", "etcd lease keep-alives that failed", []),
      fenced: m.counter("cluster_fencing_events_total", "Times the lease's fencing deadline passed and this runner stopped serving", []),
      acquired: m.counter("cluster_shard_acquisitions_total", "Shards acquired", []),
      released: m.counter("cluster_shard_releases_total", "Shards released (handed over, lost, or acquisitions undone)", []),
    };
    this.entities = {
      activations: m.counter("cluster_entity_activations_total", "Entities activated in memory", ["entity_type"]),
      evictions: m.counter("cluster_entity_evictions_total", "Entities dropped from memory (idle, or their shard left)", [
        "entity_type",
        "reason",
      ]),
    };
    this.commits = {
      rows: m.histogram("cluster_commit_batch_rows", "Entity states written per commit", [], [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]),
      duration: m.histogram("cluster_commit_duration_seconds", "Duration of one commit statement or transaction", []),
      conflicts: m.counter("cluster_commit_conflicts_total", "State writes refused by the version compare-and-set", []),
    };
    const wf = ["workflow"] as const;
    this.workflows = {
      started: m.counter("cluster_workflows_started_total", "Workflow runs started by a call", wf),
      resumed: m.counter("cluster_workflows_resumed_total", "Workflow runs resumed from storage (crash, hand-over, restart)", wf),
      completed: m.counter("cluster_workflows_completed_total", "Workflow runs that completed", wf),
      failed: m.counter("cluster_workflows_failed_total", "Workflow runs that failed (a step or activity threw)", wf),
      cancelled: m.counter("cluster_workflows_cancelled_total", "Workflow executions cancelled", wf),
      running: m.gauge("cluster_workflows_running", "Workflow runs in progress here", wf),
      stepDuration: m.histogram("cluster_workflow_step_duration_seconds", "Steps and activities that ran (not replayed)", [
        "workflow",
        "kind",
      ]),
    };
    this.timers = {
      fires: m.counter("cluster_timer_fires_total", "Timers fired", []),
      lateness: m.histogram("cluster_timer_fire_lateness_seconds", "fired_at − due of each fired timer", []),
    };
    this.singletons = {
      running: m.gauge("cluster_singletons_running", "Singletons running here", ["singleton"]),
      starts: m.counter("cluster_singleton_starts_total", "Singleton runs started here", ["singleton"]),
    };
    this.http = {
      requests: m.counter("cluster_http_requests_total", "HTTP requests, by route template", ["method", "route", "status"]),
      duration: m.histogram("cluster_http_request_duration_seconds", "HTTP request duration, by route template", ["method", "route"]),
    };
  }

  /** Observes, when called, the turn started now (an unnamed closure: see `Admission`'s release). */
  turnTimer(labels: CallLabels): () => void {
    const started = performance.now();
    return () => this.calls.turnDuration.observe(labels, (performance.now() - started) / 1000);
  }

  /** Gauges read at scrape time, once the cluster's parts exist. */
  read(readings: MetricReadings): void {
    const m = this.instruments;
    m.reading("cluster_shards_owned", "Shards this runner serves", [], single(readings.shardsOwned));
    m.reading("cluster_runners_live", "Live runners this runner sees (itself included)", [], single(readings.liveRunners));
    m.reading("cluster_active_entities", "Entities active in memory here", ["entity_type"], readings.activeEntities);
    m.reading("cluster_timers_pending", "Timers scheduled here", [], single(readings.timersPending));
  }

  /** What the lease reports: keep-alive failures and fencing. */
  leaseEvents(): LeaseEvents {
    const { keepAliveFailures, fenced } = this.ownership;
    return { keepAliveFailed: () => keepAliveFailures.inc({}), fenced: () => fenced.inc({}) };
  }

  /** Counts the shards that arrive and leave. */
  shardListener(): ShardListener {
    const { acquired, released } = this.ownership;
    return { acquired: (shards) => acquired.inc({}, shards.length), released: (shards) => released.inc({}, shards.length) };
  }

  /** The hook for operator cancellation of a workflow execution. */
  workflowCancelled(workflow: string): void {
    this.workflows.cancelled.inc({ workflow });
  }

  /** The Prometheus text exposition (empty when metrics are off). */
  text(): Promise<string> {
    return this.instruments.text();
  }
}

/** Metrics that record nothing: for tests and tools that build parts of a cluster by hand. */
export const noMetrics = new ClusterMetrics(false);
