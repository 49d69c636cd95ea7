import type { ApprovalExecution } from "../../../contract/index.ts";
import { ApiError, type Client } from "../../../src/client.ts";
import { waitFor } from "../../../tests/support/wait.ts";
import type { Random } from "../random.ts";
import { type Endpoints, EntityWorkload, implemented, type Operation, type Verdict } from "../workload.ts";

type Ending = "approve" | "reject" | "timeout";

interface Approval {
  readonly entity: string;
  readonly execId: string;
  readonly ending: Ending;
  readonly delayMs: number;
  readonly failTimes: number;
  acknowledged: boolean;
}

/** What each ending must have applied, exactly once each: [reserved, charged, released], and the final status. */
const EXPECTED: Record<Ending, { readonly status: string; readonly effects: readonly number[] }> = {
  approve: { status: "completed", effects: [1, 1, 0] },
  reject: { status: "compensated", effects: [1, 0, 1] },
  timeout: { status: "compensated", effects: [1, 0, 1] },
};

/**
 * ApprovalTest executions (start, durable sleep, signal, finish): each is started (202) and, unless
 * it is to time out, signalled (a 409 means an earlier attempt delivered it), retried with its exec
 * id until acknowledged. Afterwards every execution must end as its signal says, with its charge or
 * its compensation applied exactly once, and every journal entry run once.
 */
export class DurableWorkload extends EntityWorkload {
  private readonly approvals: Approval[] = [];

  constructor(run: string, loops: number, entities: number) {
    super("durable", run, loops, entities);
  }

  override available(api: Client): Promise<boolean> {
    return implemented(() => api.approval.execution({ id: this.ids[0] as string, exec_id: "probe" }).catch(notFoundIsFine));
  }

  next(_loop: number, random: Random): Operation {
    const endings: Ending[] = ["approve", "approve", "reject", "timeout"];
    const approval: Approval = {
      entity: random.pick(this.ids),
      execId: `dx-${this.approvals.length}`,
      ending: random.pick(endings),
      delayMs: random.int(100, 1_500),
      failTimes: random.int(0, 2),
      acknowledged: false,
    };
    this.approvals.push(approval);
    return operation(approval);
  }

  async verify(cluster: Endpoints): Promise<Verdict> {
    const anomalies: string[] = [];
    for (const a of this.approvals) {
      if (!a.acknowledged && !(await cluster.settle(operation(a), 30_000))) anomalies.push(`approval ${a.execId} never settled`);
    }
    const ended = (v: ApprovalExecution) => ["completed", "compensated", "compensation_failed", "failed"].includes(v.status);
    let lost = 0;
    let duplicated = 0;
    for (const a of this.approvals) {
      const view = await waitFor(
        `approval ${a.execId} to end`,
        async () => {
          const v = await cluster.read((api) => api.approval.execution({ id: a.entity, exec_id: a.execId }));
          return ended(v) ? v : undefined;
        },
        60_000,
        250,
      ).catch(() => cluster.read((api) => api.approval.execution({ id: a.entity, exec_id: a.execId })).catch(() => undefined));
      const want = EXPECTED[a.ending];
      const effects = view ? [view.reserved, view.charged, view.released] : [];
      if (!view || view.status !== want.status || effects.some((n, i) => n < (want.effects[i] as number))) {
        lost++;
        anomalies.push(`approval ${a.entity}/${a.execId} (${a.ending}) is ${view?.status ?? "missing"}, effects ${effects.join(",")}`);
      }
      if (effects.some((n) => n > 1) || view?.journal.some((e) => e.runs > 1)) {
        duplicated++;
        anomalies.push(`approval ${a.entity}/${a.execId} applied an effect or a step twice: ${JSON.stringify(view)}`);
      }
    }
    return { lost, duplicated, anomalies };
  }
}

const notFoundIsFine = (error: unknown) => {
  if (error instanceof ApiError && error.status === 404) return null;
  throw error;
};

/** A 202 (suspended) acknowledges a start; a 409 a signal delivered by an earlier attempt. */
const accepted = (status: number) => (error: unknown) => {
  if (error instanceof ApiError && error.status === status) return null;
  throw error;
};

/**
 * A retried start answers 422 once an earlier attempt's execution has ended compensated or failed
 * (its signal, if any, was delivered then): the operation is done, and verify() judges the ending.
 */
const endedEarlier = (error: unknown) => {
  if (error instanceof ApiError && error.status === 422) return "ended" as const;
  return accepted(202)(error);
};

function operation(a: Approval): Operation {
  return {
    key: a.execId,
    send: async (api, signal) => {
      const timeout_ms = a.ending === "timeout" ? 800 : 120_000;
      const start = { id: a.entity, exec_id: a.execId, delay_ms: a.delayMs, timeout_ms, fail_times: a.failTimes };
      const started = await api.approval.start(start, { signal }).catch(endedEarlier);
      if (a.ending === "timeout" || started === "ended") return null;
      return api.approval.signal({ id: a.entity, exec_id: a.execId, approve: a.ending === "approve" }, { signal }).catch(accepted(409));
    },
    acknowledged: () => {
      a.acknowledged = true;
    },
  };
}
