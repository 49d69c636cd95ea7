import type { Client } from "../../../src/client.ts";
import type { Random } from "../random.ts";
import { type Endpoints, EntityWorkload, implemented, type Operation, type Verdict } from "../workload.ts";

interface Run {
  readonly entity: string;
  readonly execId: string;
  acknowledged: boolean;
}

const STEPS = ["step1", "step2", "step3"];

/**
 * `run-simple` workflows, each retried with its exec id until acknowledged. Afterwards the ones
 * never acknowledged are run again (which resumes or returns the stored result), then every
 * execution must be completed with each of its steps run exactly once.
 */
export class WorkflowWorkload extends EntityWorkload {
  private readonly runs: Run[] = [];

  constructor(run: string, loops: number, entities: number) {
    super("workflow", run, loops, entities);
  }

  override available(api: Client): Promise<boolean> {
    return implemented(() => api.workflow.executions({ id: this.ids[0] as string }));
  }

  next(_loop: number, random: Random): Operation {
    const run: Run = { entity: random.pick(this.ids), execId: `exec-${this.runs.length}`, acknowledged: false };
    this.runs.push(run);
    return operation(run);
  }

  async verify(cluster: Endpoints): Promise<Verdict> {
    const anomalies: string[] = [];
    for (const run of this.runs) {
      if (!run.acknowledged && !(await cluster.settle(operation(run), 30_000))) anomalies.push(`workflow ${run.execId} never settled`);
    }
    let lost = 0;
    let duplicated = 0;
    for (const run of this.runs) {
      const execution = await cluster.read((api) => api.workflow.execution({ id: run.entity, exec_id: run.execId }));
      const complete = execution.status === "completed" && STEPS.every((s) => execution.steps_completed.includes(s));
      if (!complete) {
        lost++;
        anomalies.push(`workflow ${run.entity}/${run.execId} is ${execution.status}, steps ${execution.steps_completed.join(",")}`);
      }
      if (Object.values(execution.step_runs).some((n) => n > 1)) duplicated++;
    }
    return { lost, duplicated, anomalies };
  }
}

function operation(run: Run): Operation {
  return {
    key: run.execId,
    send: (api, signal) => api.workflow.runSimple({ id: run.entity, exec_id: run.execId }, { idempotencyKey: run.execId, signal }),
    acknowledged: () => {
      run.acknowledged = true;
    },
  };
}
