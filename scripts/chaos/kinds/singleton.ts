import type { Client } from "../../../src/client.ts";
import type { Verdict } from "../workload.ts";
import { SequenceWorkload } from "./sequence.ts";

/**
 * `POST /singleton/next-sequence` from sequential client loops. Values must never repeat
 * (duplicated), and each loop must see them strictly increase: a value at or below one the loop
 * already got means an acknowledged step of the sequence was rolled back (lost). A retry after a
 * lost reply may skip a value; that is allowed.
 */
export class SingletonWorkload extends SequenceWorkload {
  readonly name = "singleton";

  protected read(api: Client, signal: AbortSignal): Promise<number> {
    return api.singleton.nextSequence({}, { signal });
  }

  override async verify(): Promise<Verdict> {
    const all = this.values.flat();
    let lost = 0;
    for (const seen of this.values) for (let i = 1; i < seen.length; i++) if ((seen[i] as number) <= (seen[i - 1] as number)) lost++;
    return { lost, duplicated: all.length - new Set(all).size, anomalies: [] };
  }
}
