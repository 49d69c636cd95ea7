import type { Operation, Verdict, WorkloadKind } from "../workload.ts";

/**
 * `POST /singleton/next-sequence` from sequential client loops. Values must never repeat
 * (duplicated), and each loop must see them strictly increase: a value at or below one the loop
 * already got means an acknowledged step of the sequence was rolled back (lost). A retry after a
 * lost reply may skip a value; that is allowed.
 */
export class SingletonWorkload implements WorkloadKind {
  readonly name = "singleton";
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
      key: `seq-${loop}-${seen.length}`,
      send: (api, signal) => api.singleton.nextSequence({}, { signal }),
      acknowledged: (value) => seen.push(value as number),
    };
  }

  async verify(): Promise<Verdict> {
    const all = this.values.flat();
    let lost = 0;
    for (const seen of this.values) for (let i = 1; i < seen.length; i++) if ((seen[i] as number) <= (seen[i - 1] as number)) lost++;
    return { lost, duplicated: all.length - new Set(all).size, anomalies: [] };
  }
}
