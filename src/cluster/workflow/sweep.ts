import type { Logger } from "../log.ts";
import type { ExecutionKey, RunningExecution } from "../storage/workflows/store.ts";

export interface SweepHost {
  /** Executions storage has running or compensating, across all entities. */
  readonly unfinished: () => Promise<RunningExecution[]>;
  /** Whether this runner should be driving `key`: it serves its shard and holds no run of it. */
  readonly undriven: (key: ExecutionKey) => boolean;
  /** Starts runs of these executions here. */
  readonly resume: (executions: readonly RunningExecution[]) => void;
  readonly log: Logger;
}

const keyText = ({ type, id, execId }: ExecutionKey) => JSON.stringify([type, id, execId]);

/**
 * Finds executions left running with nobody driving them, and drives them. The paths that hand an
 * execution to a run (its caller, a wake-up, a shard's resume on acquisition) can each miss: a
 * run stopped by the fence going down for a moment, or fenced out by a zombie's newer attempt,
 * or a wake-up that came while the fence was down, leaves the execution `running`, its caller
 * gone, and its shard never moved, so no resume follows. Every `everyMs`, storage's unfinished
 * executions of this runner's shards that no run here holds are noted; one still so at the next
 * sweep is resumed (two sightings: a run being handed over between the two is not raced). The
 * attempt number in storage keeps any other run of it from writing.
 */
export class AbandonedSweep {
  private seen = new Set<string>();
  private sweeping = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly host: SweepHost,
    everyMs: number,
  ) {
    this.timer = setInterval(() => void this.sweep(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      // Storage unreachable: nothing can run anyway; the next sweep looks again.
      const listed = await this.host.unfinished().catch(() => undefined);
      if (!listed) return;
      const undriven = listed.filter((x) => this.host.undriven(x.key)).map((x) => ({ x, text: keyText(x.key) }));
      const again = undriven.filter((u) => this.seen.has(u.text)).map((u) => u.x);
      this.seen = new Set(undriven.filter((u) => !this.seen.has(u.text)).map((u) => u.text));
      if (again.length === 0) return;
      this.host.log.warn({ executions: again.length }, "resuming workflow executions that no run was driving");
      this.host.resume(again);
    } finally {
      this.sweeping = false;
    }
  }
}
