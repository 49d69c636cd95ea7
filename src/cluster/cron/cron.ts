import { setTimeout as sleep } from "node:timers/promises";
import { Cron } from "croner";
import { z } from "zod";
import { backoffDelay } from "../backoff.ts";
import { defineEntity, type EntityType } from "../entity/definition.ts";
import { ClusterError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { SingletonContext, SingletonRun } from "../singleton/manager.ts";
import type { WorkflowContext } from "../workflow/definition.ts";

/** Runs once per due time, as a workflow execution (its steps and activities are journaled). */
export type CronRun = (due: Date, wf: WorkflowContext<unknown>) => Promise<void>;

export interface CronOptions {
  /** IANA time zone the schedule is read in (default: the runner's). */
  readonly timezone?: string;
  /** Due times missed while no runner was up are run on return if younger than this; older ones are skipped (logged). Default 1 day. */
  readonly skipIfOlderThanMs?: number;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * The framework's cron entity, one per registered job (id = its name): its workflow `fire` runs a
 * due time as the execution keyed by that due time (so no due time runs twice, whichever runner
 * asks), and its state keeps the last due time done, where a new scheduler host resumes.
 */
const protocol = {
  type: "$Cron",
  rpcs: {
    fire: { kind: "mutation", workflow: true, args: z.object({ exec_id: z.string(), due: z.iso.datetime() }), output: z.null() },
    last: { kind: "query", args: z.object({}), output: z.string().nullable() },
    advance: { kind: "mutation", args: z.object({ due: z.iso.datetime() }), output: z.null() },
  },
} as const;

const later = (a: string | null, b: string) => (a === null || Date.parse(b) > Date.parse(a) ? b : a);

/** The registered cron jobs of a runner, and the entity type and singletons that run them. */
export class CronJobs {
  private readonly jobs = new Map<string, { pattern: Cron; run: CronRun; skipMs: number }>();

  constructor(private readonly log: Logger) {}

  readonly entity: EntityType = defineEntity(protocol, {
    state: z.object({ last: z.string().nullable() }),
    initial: () => ({ last: null }),
    handlers: {
      last: (s) => s.last,
      advance: (s, { due }) => {
        s.last = later(s.last, due);
        return null;
      },
    },
    workflows: {
      fire: {
        execId: (a) => a.exec_id,
        run: async (wf, { due }) => {
          const job = this.jobs.get(wf.self.id);
          if (!job) throw new ClusterError("NOT_IMPLEMENTED", `no cron job ${wf.self.id} is registered here`);
          await job.run(new Date(due), wf as WorkflowContext<unknown>);
          await wf.activity("$done", (s) => {
            s.last = later(s.last, due);
            return null;
          });
          return null;
        },
      },
    },
  });

  /** Validates and records a job; `schedule` is a cron expression (croner's syntax: 5 fields, or 6 with seconds). */
  add(name: string, schedule: string, run: CronRun, options: CronOptions = {}): void {
    if (this.jobs.has(name)) throw new Error(`cron job ${name} registered twice`);
    const pattern = new Cron(schedule, { paused: true, ...(options.timezone ? { timezone: options.timezone } : {}) });
    this.jobs.set(name, { pattern, run, skipMs: options.skipIfOlderThanMs ?? DAY_MS });
  }

  get size(): number {
    return this.jobs.size;
  }

  names(): string[] {
    return [...this.jobs.keys()];
  }

  /**
   * The scheduler of job `name`, run as a singleton (one runner at a time): from the last due time
   * done (or now, the first time), it fires each due time in turn, waiting for it, skipping those
   * older than `skipIfOlderThan`. A failover re-fires at most the due time in progress, which its
   * exec id makes a join or a resume, never a second run.
   */
  scheduler(name: string): SingletonRun {
    return async (ctx: SingletonContext) => {
      const job = this.jobs.get(name);
      if (!job) return;
      const call = (rpc: "fire" | "last" | "advance", args: Record<string, string>) =>
        ctx.call(protocol as never, name, rpc as never, args as never) as Promise<unknown>;
      let cursor = new Date(((await call("last", {})) as string | null) ?? Date.now());
      while (!ctx.signal.aborted) {
        const next = job.pattern.nextRun(cursor);
        if (!next) return;
        const wait = next.getTime() - Date.now();
        if (wait > 0 && !(await sleep(wait, true, { signal: ctx.signal }).catch(() => false))) return;
        const due = next.toISOString();
        if (Date.now() - next.getTime() > job.skipMs) {
          this.log.warn({ cron: name, due }, "cron due time skipped: older than skipIfOlderThan");
          await this.retrying(ctx, () => call("advance", { due }));
        } else if (!(await this.retrying(ctx, () => call("fire", { exec_id: due, due })))) {
          // It failed for good: move past it (a failover must not run it again).
          await this.retrying(ctx, () => call("advance", { due }));
        }
        cursor = next;
      }
    };
  }

  /**
   * Runs `op` until it is done; false if it failed for good (WORKFLOW_FAILED). A suspended run is
   * done here (its workflow goes on by itself); storage or ownership trouble is retried.
   */
  private async retrying(ctx: SingletonContext, op: () => Promise<unknown>): Promise<boolean> {
    for (let attempt = 1; !ctx.signal.aborted; attempt++) {
      try {
        await op();
        return true;
      } catch (error) {
        const code = error instanceof ClusterError ? error.code : "INTERNAL";
        if (code === "SUSPENDED") return true;
        if (code === "WORKFLOW_FAILED") {
          this.log.warn({ err: error }, "cron run failed");
          return false;
        }
        await sleep(backoffDelay(attempt, { firstMs: 100, maxMs: 5_000, jitter: true }), undefined, { signal: ctx.signal }).catch(() => {});
      }
    }
    return true;
  }
}
