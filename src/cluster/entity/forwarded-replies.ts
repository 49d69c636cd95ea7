import type { MintedId } from "../call.ts";

/** What an attempt of a forwarded call gets without being applied. */
export type ForwardedAnswer = { readonly json: string } | "stale" | undefined;

interface Reply {
  readonly json: string;
  readonly expiresAt: number;
}

/** One router's calls to this entity: what it settled, until when its attempts may arrive, and the replies it may still ask for. */
interface RouterRecord {
  below: number;
  until: number;
  readonly replies: Map<number, Reply>;
}

/** As stored: router → [settledBelow, until, [[seq, reply JSON, expires ms], …]]. */
type Stored = Record<string, [number, number, [number, string, number][]]>;

/**
 * The replies to forwarded calls (request ids the router minted) that their routers may still ask
 * for, kept in the entity's state row instead of a row each: they are written with the state,
 * at the cost of their bytes, and loaded with it.
 *
 * They stay few because each call says what its router no longer waits for: every call that
 * router minted for this entity below `settledBelow` has its answer (or was given up), so its
 * reply can go. A later attempt of such a call can only be a delayed copy (a partition that
 * healed): its router ignores whatever it gets, so it is refused ("stale"), never applied. A
 * router that stops calling (it crashed) leaves its replies until they expire, shortly after
 * their calls' deadlines, when no attempt can arrive any more.
 *
 * Immutable once committed: a batch works on a `draft()`, which replaces it when its commit succeeds.
 */
export class ForwardedReplies {
  private constructor(private readonly routers: Map<string, RouterRecord>) {}

  static readonly none = new ForwardedReplies(new Map());

  /** From the state row's column (null or "" when there are none). */
  static parse(text: string | null | undefined): ForwardedReplies {
    if (!text) return ForwardedReplies.none;
    const stored = JSON.parse(text) as Stored;
    const routers = new Map<string, RouterRecord>();
    for (const [router, [below, until, replies]] of Object.entries(stored)) {
      routers.set(router, { below, until, replies: new Map(replies.map(([seq, json, expiresAt]) => [seq, { json, expiresAt }])) });
    }
    return new ForwardedReplies(routers);
  }

  get empty(): boolean {
    return this.routers.size === 0;
  }

  answer(id: MintedId): ForwardedAnswer {
    const record = this.routers.get(id.router);
    if (!record) return undefined;
    if (id.seq < record.below) return "stale";
    return record.replies.get(id.seq);
  }

  /** A copy a batch may change, without what expired by `now`. */
  draft(now = Date.now()): ForwardedReplies {
    const routers = new Map<string, RouterRecord>();
    for (const [router, r] of this.routers) {
      if (r.until <= now) continue;
      const replies = new Map<number, Reply>();
      for (const [seq, reply] of r.replies) if (reply.expiresAt > now) replies.set(seq, reply);
      routers.set(router, { below: r.below, until: r.until, replies });
    }
    return new ForwardedReplies(routers);
  }

  /** A call of `id` arrived, whose attempts may arrive until `until`: the replies its router settled go. */
  note(id: MintedId, until: number): void {
    let record = this.routers.get(id.router);
    if (!record) {
      record = { below: id.settledBelow, until, replies: new Map() };
      this.routers.set(id.router, record);
    }
    record.until = Math.max(record.until, until);
    if (id.settledBelow <= record.below) return;
    record.below = id.settledBelow;
    for (const seq of record.replies.keys()) if (seq < record.below) record.replies.delete(seq);
  }

  /** The reply of an applied call (after `note`). */
  record(id: MintedId, json: string, expiresAt: number): void {
    this.routers.get(id.router)?.replies.set(id.seq, { json, expiresAt });
  }

  /** The column's text: "" when there is nothing. */
  serialize(): string {
    if (this.routers.size === 0) return "";
    const stored: Stored = {};
    for (const [router, r] of this.routers) {
      stored[router] = [r.below, r.until, [...r.replies].map(([seq, reply]) => [seq, reply.json, reply.expiresAt])];
    }
    return JSON.stringify(stored);
  }
}
