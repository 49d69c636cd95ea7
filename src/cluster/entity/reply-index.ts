import type { Call } from "../call.ts";
import { limits } from "../limits.ts";
import type { ReplyRecord } from "../storage/entity-state/store.ts";

/**
 * The replies an active entity committed recently, by request id: what lets a retried call be
 * answered without a read. The mailbox is the single writer of its entity while its shard is
 * here, so it knows every reply committed up to the version it holds; a reply enters only once
 * its commit succeeded (or it was read from storage), so nothing here is uncommitted. Replies
 * committed elsewhere (a newer owner) come with a newer version: the mailbox's compare-and-set
 * fails, and it reloads state and replies together.
 *
 * Bounded by count and bytes (limits.ts): the oldest are dropped first. Once one is dropped, or
 * the load found more than fit, `complete` is false and a miss is only "not here": the commit
 * statement then checks storage for that id (see Commit.unseen).
 */
export class ReplyIndex {
  private readonly entries = new Map<string, ReplyRecord>();
  /**
   * Replies in the order they came, from `head` on: what goes first when a bound is passed. (Not the
   * Map's own order: V8 leaves a deleted entry's slot behind, and iterating past them from the
   * front on every add cost a microsecond a call.) A reply replaced since is skipped when its turn comes.
   */
  private order: ReplyRecord[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    loaded: readonly ReplyRecord[],
    /** Every unexpired reply committed up to the loaded version is in `loaded`. */
    private complete: boolean,
    private readonly maxEntries: number = limits.replyIndexEntries,
    private readonly maxBytes: number = limits.replyIndexBytes,
  ) {
    this.add(loaded);
  }

  /** The committed reply to `requestId`, if known here. */
  get(requestId: string): string | undefined {
    return this.entries.get(requestId)?.json;
  }

  /** Whether a reply to `requestId` may be stored although it is not here. */
  mayMiss(requestId: string): boolean {
    return !this.complete && !this.entries.has(requestId);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Replies whose commit succeeded (or that were read from storage), oldest first. */
  add(replies: readonly ReplyRecord[]): void {
    for (const reply of replies) {
      const old = this.entries.get(reply.requestId);
      if (old) this.bytes -= weight(old);
      this.entries.set(reply.requestId, reply);
      this.order.push(reply);
      this.bytes += weight(reply);
    }
    // Over a bound, the oldest go. An expired one goes without loss (storage forgets it too); a
    // live one leaves a gap. Expired replies within the bounds cost nothing but room: they stay.
    let now: number | undefined;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.order[this.head++] as ReplyRecord;
      if (this.entries.get(oldest.requestId) !== oldest) continue;
      now ??= Date.now();
      if (oldest.expiresAt > now) this.complete = false;
      this.entries.delete(oldest.requestId);
      this.bytes -= weight(oldest);
    }
    // The order keeps at most about twice what the index holds.
    if (this.head > this.maxEntries || this.order.length - this.head > 2 * this.maxEntries + 8) {
      this.order = this.order.slice(this.head).filter((r) => this.entries.get(r.requestId) === r);
      this.head = 0;
    }
  }
}

/** Bytes a reply holds: its id and JSON (UTF-16 in memory), plus the entry's overhead. */
function weight(reply: ReplyRecord): number {
  return 2 * (reply.requestId.length + reply.json.length) + 64;
}

/**
 * When no retry of `call` can come any more: shortly after its deadline for an id the router
 * minted (its retries stop there), 24 h for a client's idempotency key (a client retries when it likes).
 */
export function replyExpiry(call: Call): number {
  const now = Date.now();
  const retained = now + limits.retentionMs;
  return call.minted ? Math.min(Math.max(call.deadline, now) + limits.mintedReplyGraceMs, retained) : retained;
}
