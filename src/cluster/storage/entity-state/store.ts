import type { TxWrite } from "../../entity/context.ts";

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
   * Whether this runner may still write the entity (the ownership fence), asked again right
   * before the write leaves: a batched commit may wait behind others.
   */
  readonly fence?: () => boolean;
}

/** Entity state and stored replies, with the version compare-and-set that fences stale owners. */
export interface StateStore {
  load(type: string, id: string): Promise<StoredState | undefined>;
  commit(turn: Commit): Promise<number | undefined>;
  /** Stored replies among `requestIds`, by request id. */
  findReplies(type: string, id: string, requestIds: readonly string[]): Promise<Map<string, string>>;
  /** Forgets replies older than `cutoff`: retries are expected within minutes, not days. */
  pruneReplies(cutoff: Date): Promise<void>;
}
