import { and, eq, inArray, lt, sql } from "drizzle-orm";
import { entityReplies, entityState } from "../../../../drizzle/schema.ts";
import { ClusterError } from "../../errors.ts";
import { limits } from "../../limits.ts";
import { type ClusterMetrics, noMetrics } from "../../metrics/metrics.ts";
import { BatchQueue } from "../batch-queue.ts";
import type { Database, Storage } from "../database.ts";
import type { Commit, StateStore, StoredState } from "./store.ts";

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

/**
 * The commits of many entities in ONE statement: a compare-and-set upsert per row, and the
 * replies of exactly the rows whose compare-and-set held. Inputs travel as JSON text (one shape
 * for both drivers, and a fixed text the server prepares once). Rows are locked in key order, so
 * two batches touching the same entities (a stale owner and a new one) cannot deadlock.
 */
const BATCH_COMMIT = `
  with input as (
    select * from json_to_recordset(($1::text)::json) as x(t text, i text, e bigint, s text)
  ), s as (
    insert into entity_state (entity_type, entity_id, state, version)
    select t, i, s, e + 1 from input order by t, i
    on conflict (entity_type, entity_id) do update
      set state = excluded.state, version = entity_state.version + 1, updated_at = now()
      where entity_state.version = excluded.version - 1
    returning entity_type, entity_id, version
  ), r as (
    insert into entity_replies (entity_type, entity_id, request_id, reply)
    select x.t, x.i, x.q, x.r from json_to_recordset(($2::text)::json) as x(t text, i text, q text, r text)
    join s on s.entity_type = x.t and s.entity_id = x.i
    on conflict do nothing
  )
  select entity_type, entity_id, version from s`;

/** The StateStore on Postgres (or PGlite): one row per entity, one per stored reply. */
export class SqlStateStore implements StateStore {
  private readonly db: Database;
  // Built once: Drizzle's query building is not free on a hot path.
  private readonly loadQuery;
  private readonly batches: BatchQueue<Commit, number | undefined | ClusterError>;

  constructor(
    storage: Storage,
    private readonly metrics: ClusterMetrics = noMetrics,
  ) {
    const db = storage.db;
    this.db = db;
    this.loadQuery = db
      .select({ json: entityState.state, version: entityState.version })
      .from(entityState)
      .where(and(eq(entityState.entityType, sql.placeholder("type")), eq(entityState.entityId, sql.placeholder("id"))))
      .prepare("entity_load");
    const batchCommit = storage.statement<CommittedRow>(BATCH_COMMIT);
    const m = metrics.commits;
    const statement: BatchStatement = async (params) => {
      const started = performance.now();
      const rows = await batchCommit(params);
      m.duration.observe({}, (performance.now() - started) / 1000);
      return rows;
    };
    const batch = async (commits: readonly Commit[]) => {
      const results = await commitBatch(statement, commits);
      m.rows.observe({}, commits.length);
      m.conflicts.inc({}, results.filter((r) => r === undefined).length);
      return results;
    };
    this.batches = new BatchQueue(batch, limits.commitBatchesInFlight, limits.commitBatch);
  }

  async load(type: string, id: string): Promise<StoredState | undefined> {
    const rows = await this.loadQuery.execute({ type, id });
    return rows[0];
  }

  /**
   * Writes `json` as version `expected + 1` only if the stored version is still `expected`
   * (0 = never stored), together with the replies and the handlers' own writes, atomically.
   * Returns the new version, or `undefined` when someone else wrote first — then nothing was
   * written. Turns without writes of their own (nearly all) share a statement with the turns of
   * other entities committing at the same time.
   */
  async commit(turn: Commit): Promise<number | undefined> {
    const { type, id, expected, json, replies, writes = [] } = turn;
    if (writes.length === 0) {
      const result = await this.batches.push(turn);
      if (result instanceof ClusterError) throw result;
      return result;
    }
    if (turn.fence && !turn.fence()) throw notOwner(turn);
    const started = performance.now();
    const m = this.metrics.commits;
    const version = await this.db
      .transaction(async (tx) => {
        const version = (await upsertState(tx).execute({ type, id, json, next: expected + 1, expected }))[0]?.version;
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
    m.duration.observe({}, (performance.now() - started) / 1000);
    m.rows.observe({}, 1);
    if (version === undefined) m.conflicts.inc({});
    return version;
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

/** A row BATCH_COMMIT wrote (postgres-js reads a bigint as text). */
interface CommittedRow {
  readonly entity_type: string;
  readonly entity_id: string;
  readonly version: number | string;
}
type BatchStatement = (params: readonly string[]) => Promise<CommittedRow[]>;

/** Commits the batch, but not the turns whose fence is down now (NOT_OWNER: nothing was written). */
async function commitBatch(statement: BatchStatement, all: readonly Commit[]): Promise<(number | undefined | ClusterError)[]> {
  const fenced = all.map((c) => c.fence !== undefined && !c.fence());
  const commits = all.filter((_, i) => !fenced[i]);
  const versions = commits.length > 0 ? await commitRows(statement, commits) : [];
  let next = 0;
  return all.map((c, i) => (fenced[i] ? notOwner(c) : versions[next++]));
}

/** Commits `commits` in one statement; the new version of each, or `undefined` where its compare-and-set failed. */
async function commitRows(statement: BatchStatement, commits: readonly Commit[]): Promise<(number | undefined)[]> {
  const key = (type: string, id: string) => `${type}\u0000${id}`;
  // A statement may touch a row once; an entity committing twice in one batch (never from one
  // mailbox) goes in a second statement, after the first.
  const seen = new Set<string>();
  const later = commits.findIndex((c) => seen.size === seen.add(key(c.type, c.id)).size);
  if (later > 0) {
    return [...(await commitRows(statement, commits.slice(0, later))), ...(await commitRows(statement, commits.slice(later)))];
  }
  const rows = commits.map((c) => ({ t: c.type, i: c.id, e: c.expected, s: c.json }));
  const replies = commits.flatMap((c) => c.replies.map((r) => ({ t: c.type, i: c.id, q: r.requestId, r: r.json })));
  const written = new Map<string, number>();
  for (const row of await statement([JSON.stringify(rows), JSON.stringify(replies)])) {
    written.set(key(row.entity_type, row.entity_id), Number(row.version));
  }
  return commits.map((c) => written.get(key(c.type, c.id)));
}

function notOwner(turn: Commit): ClusterError {
  return new ClusterError("NOT_OWNER", `this runner may no longer write ${turn.type}/${turn.id}`);
}
