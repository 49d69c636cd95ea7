import type { EntityAddress } from "./entity/address.ts";
import type { TraceContext } from "./trace.ts";

/**
 * A call of an entity RPC, the one shape it has inside a runner: the API and the handlers make it,
 * the router sends it to the shard's owner, whose runtime validates it and queues it in the
 * entity's mailbox. Between runners it travels as its wire form (transport/wire.ts).
 */
export interface Call {
  readonly address: EntityAddress;
  readonly rpc: string;
  /** As the caller sent them; the owner validates them against the RPC's schema. */
  readonly args: unknown;
  /** The caller's idempotency key, or the one the router minted for a forwarded call; retries reuse it. */
  readonly requestId: string | undefined;
  /** The request id was minted for this very attempt: no stored reply can exist, skip the lookup. */
  readonly fresh: boolean;
  /**
   * Set when the router minted the request id (a forwarded call without one): its reply is kept
   * in the entity's state row only until the router says it has it (forwarded-replies.ts).
   */
  readonly minted?: MintedId | undefined;
  /** Entities ("Type/id") the call passed through, its origin first. */
  readonly callChain: readonly string[];
  /** Epoch milliseconds after which nobody waits for the reply (retries included). */
  readonly deadline: number;
  /** The W3C trace the call belongs to (its span: the sender's), carried to the owner and into the calls it makes. */
  readonly trace?: TraceContext | undefined;
  /** Aborts when the caller gives up (a halted singleton): no attempt is sent after; one already sent may still apply. */
  readonly signal?: AbortSignal | undefined;
}

/** A request id a router minted, and what that router no longer waits for. */
export interface MintedId {
  /** The router that minted it (one per runner process). */
  readonly router: string;
  /** Its place in that router's sequence of minted ids. */
  readonly seq: number;
  /**
   * Every call this router minted an id below this for, to the same entity, is settled there:
   * answered, or given up. Never above `seq`.
   */
  readonly settledBelow: number;
}

/** What a caller may say of a call besides its target and arguments. */
export interface CallOptions {
  /** An idempotency key: a retried call with the same key applies once. */
  readonly requestId?: string | undefined;
  readonly callChain?: readonly string[];
  /** How long the caller waits, retries and failovers included (default 30 s). */
  readonly timeoutMs?: number;
  /** The trace the call belongs to (a call made in a turn gets the turn's: see CallOrigin); none by default. */
  readonly trace?: TraceContext | undefined;
  /**
   * Epoch milliseconds after which nobody waits: a call made inside another call's turn inherits
   * that call's deadline (the earlier of it and `timeoutMs` wins).
   */
  readonly deadline?: number;
  /** Stops the retries once it aborts: the caller no longer wants the call made. */
  readonly signal?: AbortSignal;
}

/** What a call made inside a turn inherits from the call being handled. */
export interface CallOrigin {
  /** The chain, ending with the entity making the call. */
  readonly callChain: readonly string[];
  /** The handled call's deadline: nobody waits for the nested call beyond it. */
  readonly deadline: number;
  /** The handled call's trace, which the nested call joins. */
  readonly trace?: TraceContext | undefined;
}
