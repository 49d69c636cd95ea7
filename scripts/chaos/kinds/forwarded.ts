import type { Random } from "../random.ts";
import { type Endpoints, EntityWorkload, type Operation, type Verdict } from "../workload.ts";

interface Update {
  readonly entity: string;
  readonly token: string;
  acknowledged: boolean;
}

/**
 * TraitTest updates without an Idempotency-Key, each with a token of its own, sent once to a random
 * runner: mostly not the owner, so the call is forwarded under an id the router mints. A client
 * cannot retry a call that has no key (that would be a second call), so a failed attempt stays
 * unknown; whatever the cluster does inside (a forward retried after a broken stream, across a
 * handover, at a zombie) must apply it at most once. The audit log (trait Auditable) records each
 * application: an acknowledged token appears exactly once, an unknown one at most once, and no
 * other token appears.
 */
export class ForwardedWorkload extends EntityWorkload {
  private readonly updates: Update[] = [];

  constructor(run: string, loops: number, entities: number) {
    super("forwarded", run, loops, entities);
  }

  next(_loop: number, random: Random): Operation {
    const update: Update = { entity: random.pick(this.ids), token: `t${this.updates.length}`, acknowledged: false };
    this.updates.push(update);
    return {
      key: update.token,
      once: true,
      send: (api, signal) => api.trait.update({ id: update.entity, data: update.token }, { signal }),
      acknowledged: () => {
        update.acknowledged = true;
      },
    };
  }

  async verify(cluster: Endpoints): Promise<Verdict> {
    let lost = 0;
    let duplicated = 0;
    const anomalies: string[] = [];
    for (const entity of this.ids) {
      const log = await cluster.read((api) => api.trait.auditLog({ id: entity }));
      const applied = new Map<string, number>();
      for (const entry of log) {
        const token = entry.details === null ? "" : (JSON.parse(entry.details) as { data?: string }).data;
        applied.set(token ?? "", (applied.get(token ?? "") ?? 0) + 1);
      }
      for (const update of this.updates.filter((u) => u.entity === entity)) {
        const n = applied.get(update.token) ?? 0;
        applied.delete(update.token);
        if (n > 1) duplicated += n - 1;
        if (n === 0 && update.acknowledged) lost++;
      }
      for (const [token, n] of applied) anomalies.push(`${entity}: ${n} application(s) of ${token || "no token"}, which was never sent`);
    }
    return { lost, duplicated, anomalies };
  }
}
