import { z } from "zod";
import { formatAddress } from "../entity/address.ts";
import { CANCEL_TIMER_RPC, type EntityRuntime } from "../entity/runtime.ts";
import { badRequest, ClusterError, notFound } from "../errors.ts";
import { limits } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { Ownership } from "../ownership/ownership.ts";
import type { ListedTimer, TimerFilter, TimerStore } from "../storage/timers/store.ts";
import type { ExecutionFilter, ExecutionKey, StoredExecution, StoredJournalEntry, WorkflowAdminStore } from "../storage/workflows/store.ts";
import type { PendingTimer } from "../timers/timer.ts";
import { type TraceContext, traceFields } from "../trace.ts";
import type { GrpcTransport } from "../transport/grpc.ts";
import type { RunnerStatus } from "../transport/wire.ts";
import { CANCEL_EXECUTION_RPC } from "../workflow/cancel.ts";

export interface OperatorOptions {
  readonly runnerId: string;
  readonly ownership: Ownership;
  readonly runtime: EntityRuntime;
  readonly transport: GrpcTransport | undefined;
  readonly workflows: WorkflowAdminStore;
  readonly timers: TimerStore;
  /** Calls an entity RPC wherever the entity lives (the router). */
  /** A call to an entity, wherever it lives, in the operator's request's trace. */
  readonly call: (type: string, id: string, rpc: string, args: unknown, trace: TraceContext | undefined) => Promise<unknown>;
  readonly log: Logger;
  /** Told of each execution an operator cancelled (the workflow metrics count them). */
  readonly onCancelled?: (workflow: string) => void;
}

/** A page of executions and the opaque cursor of the next one. */
export interface ExecutionListing {
  readonly executions: StoredExecution[];
  readonly nextCursor: string | undefined;
}

/** Postgres's text form of a timestamptz, e.g. `2026-12-02 00:51:23.123456+00`. */
const PG_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;
const Cursor = z.object({ startedAt: z.string().regex(PG_TIMESTAMP), type: z.string(), id: z.string(), execId: z.string() });

/** The runtime this process runs on, and its version. */
function runtimeOf(): { runtime: "node" | "deno"; version: string } {
  const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
  return deno ? { runtime: "deno", version: deno.version.deno } : { runtime: "node", version: process.versions.node };
}

/**
 * The operator's view of the cluster (the /admin API): any runner answers, from storage where the
 * data is there, and by asking its peers over gRPC (runner status, drain) or the owning runner
 * (timer and execution cancels, resumes) where it is not.
 */
export class Operator {
  private readonly startedAt = new Date();

  constructor(private readonly options: OperatorOptions) {}

  /** This runner, as operators see it. */
  status(): RunnerStatus {
    const { ownership, runtime, runnerId } = this.options;
    const lease = ownership.leaseStatus();
    return {
      address: runnerId,
      ...runtimeOf(),
      startedAt: this.startedAt,
      shardsOwned: ownership.ownedCount(),
      activeEntities: runtime.activeCount,
      lastKeepAlive: lease?.lastKeepAlive,
      fencingDeadline: lease?.fencingDeadline,
      draining: ownership.isDraining(),
      ready: ownership.ready(),
    };
  }

  /** Drains this runner (or undrains it) and answers its status. */
  async drainSelf(on: boolean): Promise<RunnerStatus> {
    await this.options.ownership.drain(on);
    return this.status();
  }

  /** Every live runner; peers that do not answer in time are left out, and logged. */
  async runners(): Promise<RunnerStatus[]> {
    const { ownership, transport, runnerId, log } = this.options;
    const peers = ownership.runners().filter((r) => r !== runnerId);
    const remote = await Promise.all(
      peers.map((peer) =>
        (transport ? transport.status(peer, limits.peerQueryTimeoutMs) : Promise.reject(new Error("no transport"))).catch(
          (err: unknown) => {
            log.warn({ err, peer }, "peer did not report its status");
            return undefined;
          },
        ),
      ),
    );
    return [this.status(), ...remote.filter((s) => s !== undefined)].sort((a, b) => (a.address < b.address ? -1 : 1));
  }

  /** Drains or undrains runner `address`, wherever it is; refuses to drain the last runner that could take shards. */
  async drain(address: string, on: boolean): Promise<RunnerStatus> {
    const { ownership, transport, runnerId } = this.options;
    const live = ownership.runners();
    if (!live.includes(address)) throw notFound(`no live runner ${address} (runners: ${live.join(", ")})`);
    if (on && !live.some((r) => r !== address && !ownership.isDraining(r))) {
      throw new ClusterError("CONFLICT", `${address} is the only runner that can take shards: there is no one to drain it to`);
    }
    if (address === runnerId) return this.drainSelf(on);
    if (!transport) throw notFound(`no live runner ${address}`);
    return transport.drain(address, on, limits.peerQueryTimeoutMs);
  }

  async executions(filter: Omit<ExecutionFilter, "after">, cursor: string | undefined): Promise<ExecutionListing> {
    const page = await this.options.workflows.search({ ...filter, after: cursor === undefined ? undefined : decodeCursor(cursor) });
    return { executions: page.rows, nextCursor: page.next && Buffer.from(JSON.stringify(page.next)).toString("base64url") };
  }

  async execution(key: ExecutionKey): Promise<{ execution: StoredExecution; journal: StoredJournalEntry[] }> {
    const [execution, journal] = await Promise.all([this.options.workflows.find(key), this.options.workflows.detailedJournal(key)]);
    if (!execution) throw notFound(`no execution ${key.execId} of ${key.type}/${key.id}`);
    return { execution, journal };
  }

  /**
   * Cancels a running, suspended or failed execution by a turn on its entity, at the entity's owner
   * (which fences out the run that held it, and runs its compensations there), and answers it once
   * they ran: `compensated` or `compensation_failed`, `cancelled` if there was nothing to compensate
   * (`compensating` if the shard moved meanwhile: the new owner goes on with them).
   */
  async cancelExecution(key: ExecutionKey, trace?: TraceContext): Promise<StoredExecution> {
    const { runtime, workflows, log } = this.options;
    if (!runtime.has(key.type)) throw notFound(`no entity type ${key.type}`);
    await this.options.call(key.type, key.id, CANCEL_EXECUTION_RPC, { exec_id: key.execId }, trace);
    const cancelled = await workflows.find(key);
    if (!cancelled) throw notFound(`no execution ${key.execId} of ${key.type}/${key.id}`);
    this.options.onCancelled?.(cancelled.workflow);
    log.info(
      { entity: `${key.type}/${key.id}`, execId: key.execId, status: cancelled.status, ...traceFields(trace) },
      "workflow execution cancelled by an operator",
    );
    return cancelled;
  }

  /** Runs a failed execution again from its failed step, on its shard's owner, with its stored input; answers once it ends. */
  async resumeExecution(key: ExecutionKey, trace?: TraceContext): Promise<StoredExecution> {
    const found = await this.options.workflows.find(key);
    if (!found) throw notFound(`no execution ${key.execId} of ${key.type}/${key.id}`);
    if (found.status !== "failed") {
      throw new ClusterError("ALREADY_EXISTS", `execution ${key.execId} is ${found.status}: only failed executions can be resumed`);
    }
    await this.options.call(key.type, key.id, found.workflow, JSON.parse(found.input), trace);
    return (await this.options.workflows.find(key)) ?? found;
  }

  timers(filter: TimerFilter): Promise<ListedTimer[]> {
    return this.options.timers.listPending(filter);
  }

  /** Cancels a pending timer by a turn on its entity, at the entity's owner. */
  async cancelTimer(type: string, id: string, timerId: string, trace?: TraceContext): Promise<PendingTimer> {
    if (!this.options.runtime.has(type)) throw notFound(`no entity type ${type}`);
    const cancelled = (await this.options.call(type, id, CANCEL_TIMER_RPC, { timer_id: timerId }, trace)) as PendingTimer | null;
    if (!cancelled) throw notFound(`${formatAddress({ type, id })} has no pending timer ${timerId}`);
    return cancelled;
  }
}

function decodeCursor(cursor: string): ExecutionFilter["after"] {
  try {
    return Cursor.parse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
  } catch {
    throw badRequest("invalid cursor: pass back the next_cursor of a previous page");
  }
}
