import { limits } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { SqlStateStore } from "./entity-state/sql.ts";
import type { SqlTimerStore } from "./timers/sql.ts";

/**
 * Deletes, every `everyMs`, the replies past their expiry and the timer rows marked fired (by
 * runners of before) longer ago than the retention. A failed prune is logged and tried again next
 * time: nothing reads what it would have deleted. Every runner prunes; the deletes are idempotent.
 */
export function pruneEvery(everyMs: number, replies: SqlStateStore, timers: SqlTimerStore, log: Logger): NodeJS.Timeout {
  const prune = () => {
    replies.pruneReplies(new Date()).catch((err: unknown) => log.warn({ err }, "reply pruning failed"));
    timers.pruneFired(new Date(Date.now() - limits.retentionMs)).catch((err: unknown) => log.warn({ err }, "fired timer pruning failed"));
  };
  const timer = setInterval(prune, everyMs);
  timer.unref();
  return timer;
}
