import type { TxWrite } from "../../entity/context.ts";
import type { OpenTransaction } from "../transaction.ts";

export interface StoredState {
  readonly json: string;
  readonly version: number;
  /** The replies to forwarded calls kept with the state (entity/forwarded-replies.ts); "" or absent when none. */
  readonly forwarded?: string | undefined;
}

export interface ReplyRecord {
  readonly requestId: string;
  readonly json: string;
  /** Epoch milliseconds after which no retry can come, and storage may forget the reply. */
  readonly expiresAt: number;
}

/** What an entity activates with: its state and its most recent unexpired replies. */
export interface LoadedEntity {
  /** Undefined when the entity never committed. */
  readonly state: StoredState | undefined;
  /** Oldest first; at most the `replyLimit` most recent ones. */
  readonly replies: readonly ReplyRecord[];
  /** More unexpired replies are stored than were returned. */
  readonly more: boolean;
}

/** What a turn writes: the entity's new state, and with it the replies and the handlers' own writes. */
export interface Commit {
  readonly type: string;
  readonly id: string;
  /** The version the turn started from (0 = never stored). */
  readonly expected: number;
  readonly json: string;
  readonly replies: readonly ReplyRecord[];
  /** The replies to forwarded calls, when they changed ("" for none left); undefined keeps the stored ones. */
  readonly forwarded?: string | undefined;
  /**
   * Request ids of `replies` the mailbox could not rule out (its reply index overflowed): if one
   * of them already has a stored reply, nothing is written and the commit fails like a version
   * conflict. The reply insert itself finds it: no lookup, no round trip.
   */
  readonly unseen?: readonly string[];
  readonly writes?: readonly TxWrite[];
  /**
   * The transaction the turn's handlers already ran their own queries in (from `begin`): the
   * commit completes it, or rolls it back when the compare-and-set or the fence fails.
   */
  readonly open?: OpenTransaction;
  /**
   * Whether this runner may still write the entity (the ownership fence), asked again right
   * before the write leaves: a batched commit may wait behind others.
   */
  readonly fence?: () => boolean;
}

/** Entity state and stored replies, with the version compare-and-set that fences stale owners. */
export interface StateStore {
  /** The state and the `replyLimit` most recent unexpired replies, in one query. */
  load(type: string, id: string, replyLimit: number): Promise<LoadedEntity>;
  /** The new version, or `undefined` when the compare-and-set (or an `unseen` check) failed. */
  commit(turn: Commit): Promise<number | undefined>;
  /** Opens a transaction for a turn's own queries; it ends with `commit({ open })` or its `rollback()`. */
  begin(): Promise<OpenTransaction>;
  /** Stored replies among `requestIds` (the rare path: after a conflict with an overflowed index). */
  findReplies(type: string, id: string, requestIds: readonly string[]): Promise<ReplyRecord[]>;
  /** Forgets replies that expired before `now`. */
  pruneReplies(now: Date): Promise<void>;
}
