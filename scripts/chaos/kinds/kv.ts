import type { Random } from "../random.ts";
import { type Endpoints, EntityWorkload, type Operation, type Verdict } from "../workload.ts";

interface KvSet {
  readonly store: string;
  readonly key: string;
  readonly value: { readonly n: number; readonly loop: number };
  acknowledged: boolean;
}

/**
 * Sets of fresh keys, each with an Idempotency-Key, retried until acknowledged. Afterwards every
 * acknowledged key must read back with its value, and no store may hold a key that was never sent.
 */
export class KvWorkload extends EntityWorkload {
  private readonly sets: KvSet[] = [];

  constructor(run: string, loops: number, stores: number) {
    super("kv", run, loops, stores);
  }

  next(loop: number, random: Random): Operation {
    const n = this.sets.length;
    const set: KvSet = { store: random.pick(this.ids), key: `k${n}`, value: { n, loop }, acknowledged: false };
    this.sets.push(set);
    return {
      key: `set-${set.key}`,
      send: (api, signal) => api.kv.set({ id: set.store, key: set.key, value: set.value }, { idempotencyKey: `set-${set.key}`, signal }),
      acknowledged: () => {
        set.acknowledged = true;
      },
    };
  }

  async verify(cluster: Endpoints): Promise<Verdict> {
    const anomalies: string[] = [];
    let lost = 0;
    for (const store of this.ids) {
      const sent = new Map(this.sets.filter((s) => s.store === store).map((s) => [s.key, s]));
      const keys = new Set(await cluster.read((api) => api.kv.keys({ id: store })));
      for (const key of keys) if (!sent.has(key)) anomalies.push(`${store} holds ${key}, which was never sent`);
      for (const set of sent.values()) {
        if (!set.acknowledged) continue;
        const value = keys.has(set.key) ? await cluster.read((api) => api.kv.get({ id: store, key: set.key })) : null;
        if (JSON.stringify(value) !== JSON.stringify(set.value)) {
          lost++;
          anomalies.push(`${store}/${set.key} reads ${JSON.stringify(value)}, acknowledged as ${JSON.stringify(set.value)}`);
        }
      }
    }
    return { lost, duplicated: 0, anomalies };
  }
}
