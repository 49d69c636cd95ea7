import type { Random } from "../random.ts";
import { type Endpoints, EntityWorkload, type Operation, type Verdict } from "../workload.ts";

interface Increment {
  readonly counter: string;
  readonly key: string;
  reply?: number;
}

/**
 * Increments by 1, each with its own Idempotency-Key, retried with that key until acknowledged.
 * Afterwards every unacknowledged increment is re-sent with its key (the cluster answers from the
 * stored reply if it had applied it), so each key is applied exactly once iff the counter equals
 * the number of keys and every reply is a distinct value up to it.
 */
export class CounterWorkload extends EntityWorkload {
  private readonly increments: Increment[] = [];

  constructor(run: string, loops: number, counters: number) {
    super("counter", run, loops, counters);
  }

  next(_loop: number, random: Random): Operation {
    const inc: Increment = { counter: random.pick(this.ids), key: `inc-${this.increments.length}` };
    this.increments.push(inc);
    return operation(inc);
  }

  async verify(cluster: Endpoints): Promise<Verdict> {
    const anomalies: string[] = [];
    for (const inc of this.increments) {
      if (inc.reply === undefined && !(await cluster.settle(operation(inc), 30_000))) anomalies.push(`increment ${inc.key} never settled`);
    }
    let lost = 0;
    let duplicated = 0;
    for (const counter of this.ids) {
      const keys = this.increments.filter((i) => i.counter === counter);
      const final = await cluster.read((api) => api.counter.get({ id: counter }));
      // An increment is reflected when its reply is a value no other key got, within the final value.
      const seen = new Map<number, number>();
      for (const { reply } of keys) if (reply !== undefined) seen.set(reply, (seen.get(reply) ?? 0) + 1);
      const reflected = [...seen].filter(([value, n]) => n === 1 && value <= final).length;
      lost += keys.length - reflected;
      duplicated += Math.max(0, final - reflected);
      if (final !== keys.length) anomalies.push(`${counter} = ${final}, but ${keys.length} keys were sent`);
    }
    return { lost, duplicated, anomalies };
  }
}

function operation(inc: Increment): Operation<number> {
  return {
    key: inc.key,
    send: (api, signal) => api.counter.increment({ id: inc.counter, amount: 1 }, { idempotencyKey: inc.key, signal }),
    acknowledged: (reply) => {
      inc.reply = reply;
    },
  };
}
