import type { Call } from "../call.ts";
import { ClusterError } from "../errors.ts";
import type { ReplyRecord } from "../storage/entity-state/store.ts";
import { formatAddress } from "./address.ts";
import type { ForwardedReplies } from "./forwarded-replies.ts";
import { type ReplyIndex, replyExpiry } from "./reply-index.ts";
import type { Outcome } from "./turn-context.ts";

/**
 * What one mailbox batch learns of its mutations' request ids: the outcome a call gets without
 * being applied (applied before, here or in this batch), and what its commit stores. A client's
 * key gets a reply row; an id the router minted, an entry in the state row (forwarded-replies.ts).
 */
export class BatchReplies {
  /** Reply rows to insert with the commit. */
  readonly rows: ReplyRecord[] = [];
  /** Ids of `rows` the index could not rule out: the commit's insert checks them (Commit.unseen). */
  readonly unseen: string[] = [];
  /** Ids the index could not rule out whose calls failed here: storage says whether they were applied before. */
  readonly refused: string[] = [];
  /** Outcomes by request id, once the batch has one (most batches of most entities carry none). */
  private settled: Map<string, Outcome> | undefined;
  /** The forwarded replies as this batch left them; undefined while it saw no minted id. */
  private draft: ForwardedReplies | undefined;
  private recorded = false;

  constructor(
    private readonly index: ReplyIndex | undefined,
    private readonly forwarded: ForwardedReplies,
  ) {}

  /** The outcome of an earlier application of `call`, which it gets instead of being applied again. */
  earlier(call: Call): Outcome | undefined {
    const { requestId, minted } = call;
    if (requestId === undefined) return undefined;
    const settled = this.settled?.get(requestId);
    if (settled) return settled;
    if (minted) {
      const answer = (this.draft ?? this.forwarded).answer(minted);
      if (answer === "stale") return { ok: false, error: staleCopy(call) };
      if (answer) return { ok: true, reply: JSON.parse(answer.json) };
    }
    // A minted id may have a row too: a retry's (below), or one a runner of before wrote.
    const json = this.index?.get(requestId);
    return json === undefined ? undefined : { ok: true, reply: JSON.parse(json) };
  }

  /**
   * Whether storage must decide if `call` was applied before: its id may be among the replies the
   * index dropped for room. A freshly minted id never is.
   */
  doubtful(call: Call): boolean {
    return call.requestId !== undefined && !call.fresh && this.index?.mayMiss(call.requestId) === true;
  }

  /** `call` is about to be applied: what its router has settled can be forgotten. */
  applying(call: Call): void {
    if (!call.minted) return;
    this.draft ??= this.forwarded.draft();
    this.draft.note(call.minted, replyExpiry(call));
  }

  applied(call: Call, reply: unknown, doubtful: boolean): void {
    const { requestId, minted } = call;
    if (requestId === undefined) return;
    const json = JSON.stringify(reply);
    if (minted) {
      this.draft?.record(minted, json, replyExpiry(call));
      this.recorded = true;
    }
    // A doubtful id's reply row is what lets the commit find an earlier application (Commit.unseen).
    if (!minted || doubtful) this.rows.push({ requestId, json, expiresAt: replyExpiry(call) });
    if (doubtful) this.unseen.push(requestId);
  }

  failed(call: Call, doubtful: boolean): void {
    if (doubtful && call.requestId !== undefined) this.refused.push(call.requestId);
  }

  /**
   * `apply`, unless `call` was applied before, with its outcome recorded as the batch's loop records
   * it (for a call that joins the batch's turn from outside the loop: a reentrant one).
   */
  async once(call: Call, mutation: boolean, apply: () => Promise<unknown>): Promise<Outcome> {
    const earlier = mutation ? this.earlier(call) : undefined;
    if (earlier) return earlier;
    const doubtful = mutation && this.doubtful(call);
    if (mutation) this.applying(call);
    let outcome: Outcome;
    try {
      const reply = await apply();
      if (mutation) this.applied(call, reply, doubtful);
      outcome = { ok: true, reply };
    } catch (error) {
      this.failed(call, doubtful);
      outcome = { ok: false, error };
    }
    if (mutation) this.settle(call, outcome);
    return outcome;
  }

  /** Remembers `outcome` for the rest of the batch: a second copy of the call gets it too. */
  settle(call: Call, outcome: Outcome): void {
    if (call.requestId === undefined) return;
    this.settled ??= new Map();
    this.settled.set(call.requestId, outcome);
  }

  /**
   * Calls refused in the batch whose request ids the index could not rule out: if one was applied
   * before, its caller gets the stored reply (`find` reads them), as a retry would have. Failures only.
   */
  async answerRefused(
    batch: readonly { readonly call: Call }[],
    outcomes: Outcome[],
    find: (requestIds: readonly string[]) => Promise<readonly ReplyRecord[]>,
  ): Promise<void> {
    if (this.refused.length === 0) return;
    for (const reply of await find(this.refused).catch(() => [])) {
      batch.forEach((queued, i) => {
        if (queued.call.requestId === reply.requestId) outcomes[i] = { ok: true, reply: JSON.parse(reply.json) };
      });
    }
  }

  /** The state row's new forwarded replies, if the batch saw minted ids. */
  forwardedText(): string | undefined {
    return this.draft?.serialize();
  }

  /** The forwarded replies, once the batch's commit succeeded (with `forwardedText`). */
  committedForwarded(): ForwardedReplies {
    return this.draft ?? this.forwarded;
  }

  /**
   * Whether the batch has replies to store. What minted ids only said of their router's settled
   * calls needs no commit of its own: without one, the batch's draft is dropped, and a later
   * call says it again.
   */
  get pending(): boolean {
    return this.rows.length > 0 || this.recorded;
  }
}

/** A late copy of a call its router has settled (answered or given up): it ignores whatever this gets. */
function staleCopy(call: Call): ClusterError {
  return new ClusterError(
    "TIMEOUT",
    `${formatAddress(call.address)}.${call.rpc}: a late copy of a call its sender has settled; not applied`,
  );
}
