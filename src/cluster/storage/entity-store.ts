import { and, eq, inArray, lt, sql } from "drizzle-orm";
import { entityReplies, entityState } from "../../../drizzle/schema.ts";
import type { TxWrite } from "../entity.ts";
import type { Database } from "./database.ts";

export interface StoredState {
  readonly json: string;
  readonly version: number;
}

export interface ReplyRecord {
  readonly requestId: string;
  readonly json: string;
}

/** What a mailbox needs from storage. */
export interface StateStore {
  load(type: string, id: string): Promise<StoredState | undefined>;
  commit(
    type: string,
    id: string,
    expected: number,
    json: string,
    replies: readonly ReplyRecord[],
    writes?: readonly TxWrite[],
  ): Promise<number | undefined>;
  findReplies(type: string, id: string, requestIds: readonly string[]): Promise<Map<string, string>>;
}

/** Upsert-if-version-matches: the storage fence. Inserts version 1 when the row is new. */
function upsertState(db: Database) {
  return db
    .insert(entityState)
    .values({
      entityType: sql.placeholder("type"),
      entityId: sql.placeholder("id"),
      state: sql.placeholder("json"),
      version: sql.placeholder("next"),
    })
    .onConflictDoUpdate({
      target: [entityState.entityType, entityState.entityId],
      set: { state: sql`excluded.state`, version: sql`${entityState.version} + 1`, updatedAt: sql`now()` },
      setWhere: eq(entityState.version, sql.placeholder("expected")),
    })
    .returning({ version: entityState.version });
}

/** Entity state and stored replies, with the version compare-and-set that fences stale owners. */
export class EntityStore implements StateStore {
  // The two statements of every turn, built once (Drizzle's query building is not free on a hot path).
  private readonly loadQuery;
  private readonly upsertQuery;

  constructor(private readonly db: Database) {
    this.loadQuery = db
      .select({ json: entityState.state, version: entityState.version })
      .from(entityState)
      .where(and(eq(entityState.entityType, sql.placeholder("type")), eq(entityState.entityId, sql.placeholder("id"))))
      .prepare("entity_load");
    this.upsertQuery = upsertState(db).prepare("entity_upsert");
  }

  async load(type: string, id: string): Promise<StoredState | undefined> {
    const rows = await this.loadQuery.execute({ type, id });
    return rows[0];
  }

  /**
   * Writes `json` as version `expected + 1` only if the stored version is still `expected`
   * (0 = never stored), together with the replies and the handlers' own writes, in one
   * transaction. Returns the new version, or `undefined` when someone else wrote first — then
   * nothing was written.
   */
  async commit(
    type: string,
    id: string,
    expected: number,
    json: string,
    replies: readonly ReplyRecord[],
    writes: readonly TxWrite[] = [],
  ): Promise<number | undefined> {
    const params = { type, id, json, next: expected + 1, expected };
    if (writes.length === 0) {
      if (replies.length > 0) return this.commitWithReplies(type, id, expected, json, replies);
      return (await this.upsertQuery.execute(params))[0]?.version;
    }
    const write = async (tx: Database) => (await upsertState(tx).execute(params))[0]?.version;
    return this.db
      .transaction(async (tx) => {
        const version = await write(tx);
        if (version === undefined) throw new CasConflict();
        if (replies.length > 0) {
          await tx
            .insert(entityReplies)
            .values(replies.map((r) => ({ entityType: type, entityId: id, requestId: r.requestId, reply: r.json })))
            .onConflictDoNothing();
        }
        for (const w of writes) await w(tx);
        return version;
      })
      .catch((error: unknown) => {
        if (error instanceof CasConflict) return undefined;
        throw error;
      });
  }

  /**
   * State and replies in ONE statement (data-modifying CTEs), instead of a four-round-trip
   * transaction: the replies are inserted only if the compare-and-set succeeded. This is the path
   * of every forwarded call, which always carries a request id.
   */
  private async commitWithReplies(type: string, id: string, expected: number, json: string, replies: readonly ReplyRecord[]) {
    const pairs = JSON.stringify(replies.map((r) => [r.requestId, r.json]));
    const result = await this.db.execute<{ version: number | string }>(sql`
      with s as (
        insert into ${entityState} (entity_type, entity_id, state, version)
        values (${type}, ${id}, ${json}, ${expected + 1})
        on conflict (entity_type, entity_id) do update
          set state = excluded.state, version = ${entityState}.version + 1, updated_at = now()
          where ${entityState}.version = ${expected}
        returning version
      ), r as (
        insert into ${entityReplies} (entity_type, entity_id, request_id, reply)
        select ${type}, ${id}, p->>0, p->>1 from json_array_elements(${pairs}::json) p
        where exists (select 1 from s)
        on conflict do nothing
      )
      select version from s`);
    // postgres-js returns the rows themselves, PGlite a result object holding them.
    const rows = Array.isArray(result) ? result : (result as { rows: { version: number | string }[] }).rows;
    const version = rows[0]?.version;
    return version === undefined ? undefined : Number(version);
  }

  /** Stored replies among `requestIds`, by request id. */
  async findReplies(type: string, id: string, requestIds: readonly string[]): Promise<Map<string, string>> {
    const rows = await this.db
      .select({ requestId: entityReplies.requestId, json: entityReplies.reply })
      .from(entityReplies)
      .where(and(eq(entityReplies.entityType, type), eq(entityReplies.entityId, id), inArray(entityReplies.requestId, [...requestIds])));
    return new Map(rows.map((r) => [r.requestId, r.json]));
  }

  /** Forgets replies older than `cutoff`: retries are expected within minutes, not days. */
  async pruneReplies(cutoff: Date): Promise<void> {
    await this.db.delete(entityReplies).where(lt(entityReplies.createdAt, cutoff));
  }
}

class CasConflict extends Error {}
