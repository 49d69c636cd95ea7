import type { Operation, Verdict, WorkloadKind } from "../workload.ts";

/**
 * `GET /singleton/tick-count` from sequential client loops while the ticker singleton moves: each
 * loop must never see the count go down (a decrease means acknowledged ticks were rolled back or
 * a second ticker ran from stale state). Nothing here resets it.
 */
export class TickerWorkload implements WorkloadKind {
  readonly name = "ticker";
  private readonly values: number[][];

  constructor(readonly loops: number) {
    this.values = Array.from({ length: loops }, () => []);
  }

  async available(): Promise<boolean> {
    return true;
  }

  next(loop: number): Operation {
    const seen = this.values[loop] as number[];
    return {
      key: `tick-${loop}-${seen.length}`,
      send: (api, signal) => api.ticker.tickCount({}, { signal }),
      acknowledged: (value) => seen.push(value as number),
    };
  }

  async verify(): Promise<Verdict> {
    let lost = 0;
    const anomalies: string[] = [];
    for (const [loop, seen] of this.values.entries()) {
      for (let i = 1; i < seen.length; i++) {
        if ((seen[i] as number) < (seen[i - 1] as number)) {
          lost++;
          anomalies.push(`loop ${loop} saw the tick count go from ${seen[i - 1]} to ${seen[i]}`);
        }
      }
    }
    if (this.values.every((seen) => (seen.at(-1) ?? 0) <= (seen[0] ?? 0))) anomalies.push("the tick count never advanced");
    return { lost, duplicated: 0, anomalies };
  }
}
