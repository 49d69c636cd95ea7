import type { TxWrite } from "../../entity/context.ts";
import type { OpenTransaction } from "../transaction.ts";

export interface StoredState {
  readonly json: string;
  readonly version: number;
}

export interface ReplyRecord {
  readonly requestId: string;
  readonly json: string;
}

/** What a turn writes: the entity's new state, and with it the replies and the handlers' own writes. */
export interface Commit {
  readonly type: string;
  readonly id: string;
  /** The version the turn started from (0 = never stored). */
  readonly expected: number;
  readonly json: string;
  readonly replies: readonly ReplyRecord[];
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
  load(type: string, id: string): Promise<StoredState | undefined>;
  commit(turn: Commit): Promise<number | undefined>;
  /** Opens a transaction for a turn's own queries; it ends with `commit({ open })` or its `rollback()`. */
  begin(): Promise<OpenTransaction>;
  /** Stored replies among `requestIds`, by request id. */
  findReplies(type: string, id: string, requestIds: readonly string[]): Promise<Map<string, string>>;
  /** Forgets replies older than `cutoff`: retries are expected within minutes, not days. */
  pruneReplies(cutoff: Date): Promise<void>;
}
