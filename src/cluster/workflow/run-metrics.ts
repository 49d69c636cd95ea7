import { ClusterError } from "../errors.ts";
import type { ClusterMetrics } from "../metrics/metrics.ts";

/** A run's start and how it ended; one stopped by a hand-over (NOT_OWNER) is neither completed nor failed. */
export function countRun(m: ClusterMetrics["workflows"], workflow: string, how: "started" | "resumed", done: Promise<unknown>): void {
  const labels = { workflow };
  m[how].inc(labels);
  m.running.inc(labels);
  done
    .then(
      () => m.completed.inc(labels),
      (error: unknown) => error instanceof ClusterError && error.code === "WORKFLOW_FAILED" && m.failed.inc(labels),
    )
    .finally(() => m.running.dec(labels));
}
