import type { Client } from "../../../src/client.ts";
import type { Operation, Verdict, WorkloadKind } from "../workload.ts";

/**
 * A kind whose sequential client loops each read a number that must only grow (the singleton's
 * sequence, the ticker's count): it keeps what every loop saw, in order, for `verify`.
 */
export abstract class SequenceWorkload implements WorkloadKind {
  abstract readonly name: string;
  protected readonly values: number[][];

  constructor(readonly loops: number) {
    this.values = Array.from({ length: loops }, () => []);
  }

  async available(): Promise<boolean> {
    return true;
  }

  next(loop: number): Operation {
    const seen = this.values[loop] as number[];
    return {
      key: `${this.name}-${loop}-${seen.length}`,
      send: (api, signal) => this.read(api, signal),
      acknowledged: (value) => seen.push(value as number),
    };
  }

  protected abstract read(api: Client, signal: AbortSignal): Promise<number>;
  abstract verify(): Promise<Verdict>;
}
