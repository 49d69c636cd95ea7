import type { Client } from "../../../src/client.ts";
import type { Verdict } from "../workload.ts";
import { SequenceWorkload } from "./sequence.ts";

/**
 * `GET /singleton/tick-count` from sequential client loops while the ticker singleton moves: each
 * loop must never see the count go down (a decrease means acknowledged ticks were rolled back or
 * a second ticker ran from stale state). Nothing here resets it.
 */
export class TickerWorkload extends SequenceWorkload {
  readonly name = "ticker";

  protected read(api: Client, signal: AbortSignal): Promise<number> {
    return api.ticker.tickCount({}, { signal });
  }

  override async verify(): Promise<Verdict> {
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
