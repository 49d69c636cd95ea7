import { closeSync, openSync, writeSync } from "node:fs";
import type { ShardId } from "./shard.ts";

/**
 * One line of the journal. Times are wall-clock epoch milliseconds, comparable across the runners
 * of one machine (or of hosts with synchronized clocks).
 * - `acquired`: the runner serves `shards` from `at` on (written before the first call is accepted);
 * - `released`: it stopped serving them at `at` (written before its lock is given back);
 * - `fence`: its lease `lease` certainly ends serving by `until` (written before that deadline is
 *   in force), which bounds the intervals of a runner that crashed without releasing.
 */
export type OwnershipRecord =
  | {
      readonly kind: "acquired" | "released";
      readonly runner: string;
      readonly lease: string;
      readonly at: number;
      readonly shards: readonly ShardId[];
    }
  | { readonly kind: "fence"; readonly runner: string; readonly lease: string; readonly at: number; readonly until: number };

/**
 * An append-only record of when this runner served which shards, so that a test can prove that no
 * shard ever had two owners at once. Writes are synchronous on purpose: a record must be on disk
 * before the state it describes takes effect, or a crash right after could hide an interval.
 * Costs one short write per ownership change and per lease keep-alive.
 */
export class OwnershipJournal {
  private readonly fd: number;

  constructor(
    path: string,
    private readonly runner: string,
  ) {
    this.fd = openSync(path, "a");
  }

  acquired(lease: string, shards: readonly ShardId[]): void {
    this.write({ kind: "acquired", runner: this.runner, lease, at: Date.now(), shards });
  }

  released(lease: string, shards: readonly ShardId[]): void {
    if (shards.length > 0) this.write({ kind: "released", runner: this.runner, lease, at: Date.now(), shards });
  }

  /** `remainingMs`: time left until the fencing deadline, on the monotonic clock. */
  fence(lease: string, remainingMs: number): void {
    const at = Date.now();
    this.write({ kind: "fence", runner: this.runner, lease, at, until: at + remainingMs });
  }

  close(): void {
    closeSync(this.fd);
  }

  private write(record: OwnershipRecord): void {
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
  }
}
