import type { Commit, StateStore, StoredState } from "../../src/cluster/storage/entity-state/store.ts";

/**
 * An in-memory store that counts commits and can be told to fail or to lose a race. Handlers'
 * transactional writes (`ctx.transact`) are counted, not run: there is no database.
 */
export class MemoryStore implements StateStore {
  rows = new Map<string, StoredState>();
  replies = new Map<string, string>();
  commits = 0;
  writes = 0;
  failNext = false;
  conflictNext = false;

  /** No database: a handler's `ctx.sql` fails here. */
  begin(): never {
    throw new Error("the memory store has no SQL transactions");
  }
  async load(type: string, id: string) {
    return this.rows.get(`${type}/${id}`);
  }
  async commit({ type, id, expected, json, replies, writes = [] }: Commit) {
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
    this.commits++;
    this.writes += writes.length;
    this.rows.set(key, { json, version: expected + 1 });
    for (const r of replies) this.replies.set(`${key}/${r.requestId}`, r.json);
    return expected + 1;
  }
  async findReplies(type: string, id: string, ids: readonly string[]) {
    return new Map(
      ids.flatMap((r) => (this.replies.has(`${type}/${id}/${r}`) ? [[r, this.replies.get(`${type}/${id}/${r}`) as string]] : [])),
    );
  }
  /** Replies are never pruned here: a test's store lives for one test. */
  async pruneReplies() {}
}
