import type { Commit, LoadedEntity, ReplyRecord, StateStore, StoredState } from "../../src/cluster/storage/entity-state/store.ts";

/**
 * An in-memory store that counts commits and reads and can be told to fail or to lose a race.
 * Handlers' transactional writes (`ctx.transact`) are counted, not run: there is no database.
 */
export class MemoryStore implements StateStore {
  rows = new Map<string, StoredState>();
  /** By "type/id/requestId", in commit order. */
  replies = new Map<string, ReplyRecord>();
  commits = 0;
  writes = 0;
  loads = 0;
  /** Reads of replies outside a load: what the reply index exists to avoid. */
  finds = 0;
  /** Request ids commits asked to check (`unseen`), and commits refused because one was stored. */
  checked = 0;
  duplicates = 0;
  failNext = false;
  conflictNext = false;

  /** No database: a handler's `ctx.sql` fails here. */
  begin(): never {
    throw new Error("the memory store has no SQL transactions");
  }
  async load(type: string, id: string, replyLimit: number): Promise<LoadedEntity> {
    this.loads++;
    const prefix = `${type}/${id}/`;
    const now = Date.now();
    const all = [...this.replies].filter(([k, r]) => k.startsWith(prefix) && r.expiresAt > now).map(([, r]) => r);
    return { state: this.rows.get(`${type}/${id}`), replies: all.slice(-replyLimit), more: all.length > replyLimit };
  }
  async commit({ type, id, expected, json, replies, unseen = [], writes = [], forwarded }: Commit) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    if (this.failNext) {
      this.failNext = false;
      throw new Error("disk on fire");
    }
    const key = `${type}/${id}`;
    const current = this.rows.get(key)?.version ?? 0;
    if (this.conflictNext || current !== expected) {
      this.conflictNext = false;
      return undefined;
    }
    this.checked += unseen.length;
    if (unseen.some((q) => this.replies.has(`${key}/${q}`))) {
      this.duplicates++;
      return undefined;
    }
    this.commits++;
    this.writes += writes.length;
    this.rows.set(key, { json, version: expected + 1, forwarded: forwarded ?? this.rows.get(key)?.forwarded });
    for (const r of replies) if (!this.replies.has(`${key}/${r.requestId}`)) this.replies.set(`${key}/${r.requestId}`, r);
    return expected + 1;
  }
  async findReplies(type: string, id: string, ids: readonly string[]) {
    this.finds++;
    return ids.flatMap((q) => this.replies.get(`${type}/${id}/${q}`) ?? []);
  }
  /** Replies are never pruned here: a test's store lives for one test. */
  async pruneReplies() {}
}
