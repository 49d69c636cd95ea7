import type { Client } from "../../../src/client.ts";
import { waitFor } from "../../../tests/support/wait.ts";
import type { Random } from "../random.ts";
import { type Endpoints, EntityWorkload, implemented, type Operation, type Verdict } from "../workload.ts";

interface Scheduled {
  readonly entity: string;
  readonly timerId: string;
  readonly delayMs: number;
  /** When the schedule was acknowledged (epoch ms). */
  acknowledgedAt?: number;
}

/** Longest delay the workload asks for. */
const MAX_DELAY_MS = 3_000;

/**
 * Timers with short delays, each scheduled with its own key, retried until acknowledged. Afterwards
 * the unacknowledged ones are scheduled again with their keys; then every timer must fire exactly
 * once, and not before its delay.
 */
export class TimerWorkload extends EntityWorkload {
  private readonly timers: Scheduled[] = [];

  constructor(run: string, loops: number, entities: number) {
    super("timer", run, loops, entities);
  }

  override available(api: Client): Promise<boolean> {
    return implemented(() => api.timer.fires({ id: this.ids[0] as string }));
  }

  next(_loop: number, random: Random): Operation {
    const timer: Scheduled = {
      entity: random.pick(this.ids),
      timerId: `t${this.timers.length}`,
      delayMs: random.int(100, MAX_DELAY_MS),
    };
    this.timers.push(timer);
    return operation(timer);
  }

  async verify(cluster: Endpoints): Promise<Verdict> {
    const anomalies: string[] = [];
    for (const timer of this.timers) {
      if (timer.acknowledgedAt === undefined && !(await cluster.settle(operation(timer), 30_000))) {
        anomalies.push(`timer ${timer.timerId} never settled`);
      }
    }
    const delays = new Map(this.timers.map((t) => [`${t.entity}/${t.timerId}`, t.delayMs]));
    const fired = async () => {
      const counts = new Map<string, { n: number; early: boolean }>();
      for (const entity of this.ids) {
        for (const fire of await cluster.read((api) => api.timer.fires({ id: entity }))) {
          const key = `${entity}/${fire.timer_id}`;
          const early = Date.parse(fire.fired_at) - Date.parse(fire.scheduled_at) < (delays.get(key) ?? 0);
          counts.set(key, { n: (counts.get(key)?.n ?? 0) + 1, early: early || counts.get(key)?.early === true });
        }
      }
      return counts;
    };
    const all = await waitFor(
      "every timer to fire",
      async () => {
        const counts = await fired();
        return this.timers.every((t) => counts.has(`${t.entity}/${t.timerId}`)) ? counts : undefined;
      },
      MAX_DELAY_MS + 30_000,
      250,
    ).catch(() => fired());
    let lost = 0;
    let duplicated = 0;
    for (const timer of this.timers) {
      const fire = all.get(`${timer.entity}/${timer.timerId}`);
      if (!fire) {
        lost++;
        const acked =
          timer.acknowledgedAt === undefined ? "never acknowledged" : `acknowledged ${new Date(timer.acknowledgedAt).toISOString()}`;
        anomalies.push(`timer ${timer.entity}/${timer.timerId} (delay ${timer.delayMs} ms, ${acked}) never fired`);
      } else if (fire.n > 1) duplicated += fire.n - 1;
      if (fire?.early) anomalies.push(`timer ${timer.timerId} fired before its delay of ${timer.delayMs} ms`);
    }
    return { lost, duplicated, anomalies };
  }
}

function operation(timer: Scheduled): Operation {
  return {
    key: timer.timerId,
    send: (api, signal) =>
      api.timer.schedule({ id: timer.entity, timer_id: timer.timerId, delay_ms: timer.delayMs }, { idempotencyKey: timer.timerId, signal }),
    acknowledged: () => {
      timer.acknowledgedAt = Date.now();
    },
  };
}
