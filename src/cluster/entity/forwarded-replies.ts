import type { MintedId } from "../call.ts";
import { ClusterError } from "../errors.ts";

/** What an attempt of a forwarded call gets without being applied. */
export type ForwardedAnswer = { readonly json: string } | "stale" | undefined;

/** A reply as kept: [sequence number, reply JSON, expiry ms]. */
type Reply = [seq: number, json: string, expiresAt: number];

/** One router's calls to this entity, as kept: what it settled, until when its attempts may arrive, and the replies it may still ask for. */
type RouterRecord = [router: string, below: number, until: number, replies: Reply[]];

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
  // Plain arrays, in the stored shape: an entity has a router or two, with a reply or two each,
  // and a batch copies and writes them whole (Maps cost more to copy than to search here).
  private constructor(private readonly routers: RouterRecord[]) {}

  static readonly none = new ForwardedReplies([]);

  /**
   * From the state row's column (null or "" when there are none). Anything else than what
   * `serialize` writes is refused by name: guessing would risk applying a call twice.
   */
  static parse(text: string | null | undefined): ForwardedReplies {
    if (!text) return ForwardedReplies.none;
    let stored: unknown;
    try {
      stored = JSON.parse(text);
    } catch {
      stored = undefined;
    }
    if (!Array.isArray(stored) || !stored.every(isRouterRecord)) {
      throw new ClusterError("INTERNAL", `unreadable forwarded_replies (not written by this version?): ${text.slice(0, 120)}`);
    }
    return new ForwardedReplies(stored);
  }

  get empty(): boolean {
    return this.routers.length === 0;
  }

  answer(id: MintedId): ForwardedAnswer {
    const record = this.routers.find((r) => r[0] === id.router);
    if (!record) return undefined;
    if (id.seq < record[1]) return "stale";
    const reply = record[3].find((r) => r[0] === id.seq);
    return reply && { json: reply[1] };
  }

  /** A copy a batch may change, without what expired by `now`. */
  draft(now = Date.now()): ForwardedReplies {
    const routers: RouterRecord[] = [];
    for (const [router, below, until, replies] of this.routers) {
      if (until > now) routers.push([router, below, until, replies.filter((r) => r[2] > now)]);
    }
    return new ForwardedReplies(routers);
  }

  /** A call of `id` arrived, whose attempts may arrive until `until`: the replies its router settled go. */
  note(id: MintedId, until: number): void {
    let record = this.routers.find((r) => r[0] === id.router);
    if (!record) {
      record = [id.router, id.settledBelow, until, []];
      this.routers.push(record);
    }
    record[2] = Math.max(record[2], until);
    if (id.settledBelow <= record[1]) return;
    record[1] = id.settledBelow;
    record[3] = record[3].filter((r) => r[0] >= id.settledBelow);
  }

  /** The reply of an applied call (after `note`). */
  record(id: MintedId, json: string, expiresAt: number): void {
    const replies = this.routers.find((r) => r[0] === id.router)?.[3];
    if (!replies) return;
    const at = replies.findIndex((r) => r[0] === id.seq);
    if (at >= 0) replies.splice(at, 1);
    replies.push([id.seq, json, expiresAt]);
  }

  /** The column's text: "" when there is nothing. */
  serialize(): string {
    return this.routers.length === 0 ? "" : JSON.stringify(this.routers);
  }
}

const isNumber = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

function isRouterRecord(x: unknown): x is RouterRecord {
  if (!Array.isArray(x) || x.length !== 4 || typeof x[0] !== "string" || !isNumber(x[1]) || !isNumber(x[2]) || !Array.isArray(x[3]))
    return false;
  return (x[3] as unknown[]).every(
    (r) => Array.isArray(r) && r.length === 3 && isNumber(r[0]) && typeof r[1] === "string" && isNumber(r[2]),
  );
}
