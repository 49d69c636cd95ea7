import { and, eq, inArray, lt, sql } from "drizzle-orm";
import { entityReplies, entityState } from "../../../../drizzle/schema.ts";
import type { TxWrite } from "../../entity/context.ts";
import { ClusterError } from "../../errors.ts";
import { limits } from "../../limits.ts";
import { type ClusterMetrics, noMetrics } from "../../metrics/metrics.ts";
import { BatchQueue } from "../batch-queue.ts";
import type { Database, Storage } from "../database.ts";
import { sqlState } from "../failures.ts";
import { isStatement, runStatement, type Statement } from "../statement.ts";
import { OpenTransaction } from "../transaction.ts";
import { batchCommitter, notOwner } from "./batch-commit.ts";
import type { Commit, LoadedEntity, ReplyRecord, StateStore } from "./store.ts";

/** Upsert-if-version-matches: the storage fence. Inserts version 1 when the row is new. */
function upsertState(db: Database) {
  return db
    .insert(entityState)
    .values({
      entityType: sql.placeholder("type"),
      entityId: sql.placeholder("id"),
      state: sql.placeholder("json"),
      version: sql.placeholder("next"),
      forwardedReplies: sql.placeholder("forwarded"),
    })
    .onConflictDoUpdate({
      target: [entityState.entityType, entityState.entityId],
      set: {
        state: sql`excluded.state`,
        version: sql`${entityState.version} + 1`,
        updatedAt: sql`now()`,
        forwardedReplies: sql`coalesce(excluded.forwarded_replies, ${entityState.forwardedReplies})`,
      },
      setWhere: eq(entityState.version, sql.placeholder("expected")),
    })
    .returning({ version: entityState.version });
}

/**
 * The state write of a pipelined commit (`pipelined`): the compare-and-set of `upsertState`, which
 * raises (`entity_version_conflict`, SQLSTATE CL002) when it matched no row, so that the writes
 * sent behind it roll back with it. Parameters: type, id, JSON, expected, forwarded replies (null: unchanged).
 */
const CAS_WRITE = `
  with s as (
    insert into entity_state (entity_type, entity_id, state, version, forwarded_replies)
    values ($1, $2, $3, ($4::text)::bigint + 1, $5::text)
    on conflict (entity_type, entity_id) do update
      set state = excluded.state, version = entity_state.version + 1, updated_at = now(),
        forwarded_replies = coalesce(excluded.forwarded_replies, entity_state.forwarded_replies)
      where entity_state.version = ($4::text)::bigint
    returning version
  )
  select coalesce((select version from s), entity_version_conflict($1, $2)) as version`;
const VERSION_CONFLICT = "CL002";

/** The replies of a pipelined commit, as JSON text `[{q: request id, r: reply, x: expiry ms}, …]`. */
const REPLIES_WRITE = `
  insert into entity_replies (entity_type, entity_id, request_id, reply, expires_at)
  select $1, $2, x.q, x.r, to_timestamp(x.x::float8 / 1000) from json_to_recordset(($3::text)::json) as x(q text, r text, x bigint)
  on conflict do nothing`;

/**
 * An entity's state and its most recent unexpired replies, in one round trip: what a mailbox
 * activates with. Replies come as JSON text `[[id, reply, expires ms], …]`, newest first.
 */
const LOAD = `
  select s.state as json, s.version, s.forwarded_replies as forwarded, (
    select coalesce(json_agg(json_build_array(r.request_id, r.reply, r.x) order by r.created_at desc, r.x desc), '[]')::text from (
      select request_id, reply, created_at, (extract(epoch from expires_at) * 1000)::bigint as x
      from entity_replies
      where entity_type = $1 and entity_id = $2 and expires_at > now()
      order by created_at desc, expires_at desc limit ($3::text)::int
    ) r
  ) as replies
  from entity_state s where s.entity_type = $1 and s.entity_id = $2`;

/** The StateStore on Postgres (or PGlite): one row per entity, one per stored reply. */
export class SqlStateStore implements StateStore {
  private readonly db: Database;
  private readonly storage: Storage;
  // Prepared once: query building is not free on a hot path.
  private readonly loadStatement: (params: readonly string[]) => Promise<LoadedRow[]>;
  private readonly batches: BatchQueue<Commit, number | undefined | ClusterError>;

  constructor(
    storage: Storage,
    private readonly metrics: ClusterMetrics = noMetrics,
  ) {
    this.db = storage.db;
    this.storage = storage;
    this.loadStatement = storage.statement<LoadedRow>(LOAD);
    this.batches = new BatchQueue(batchCommitter(storage, metrics), limits.commitBatchesInFlight, limits.commitBatch);
  }

  async load(type: string, id: string, replyLimit: number): Promise<LoadedEntity> {
    const row = (await this.loadStatement([type, id, String(replyLimit + 1)]))[0];
    if (!row) return { state: undefined, replies: [], more: false };
    const newest = (JSON.parse(row.replies) as [string, string, number | string][]).map(([requestId, json, x]) => ({
      requestId,
      json,
      expiresAt: Number(x),
    }));
    const more = newest.length > replyLimit;
    const version = Number(row.version);
    const state = row.forwarded ? { json: row.json, version, forwarded: row.forwarded } : { json: row.json, version };
    return { state, replies: newest.slice(0, replyLimit).reverse(), more };
  }

  /**
   * Writes \`json\` as version \`expected + 1\` only if the stored version is still \`expected\`
   * (0 = never stored) and none of the \`unseen\` request ids has a stored reply, together with the
   * replies and the handlers' own writes, atomically. Returns the new version, or \`undefined\` when
   * the check failed — then nothing was written. Turns without writes of their own (nearly all)
   * share a statement with the turns of other entities committing at the same time.
   */
  async commit(turn: Commit): Promise<number | undefined> {
    const { open, writes = [] } = turn;
    if (writes.length === 0 && !open) {
      const result = await this.batches.push(turn);
      if (result instanceof ClusterError) throw result;
      return result;
    }
    if (turn.fence && !turn.fence()) {
      await open?.rollback();
      throw notOwner(turn);
    }
    const started = performance.now();
    const m = this.metrics.commits;
    const statements = open || turn.unseen?.length ? undefined : onlyStatements(writes);
    const written = statements
      ? this.pipelined(turn, statements)
      : open
        ? open.commit((tx) => writeTurn(tx, turn))
        : this.db.transaction((tx) => writeTurn(tx, turn));
    const version = await written.catch((error: unknown) => {
      if (error instanceof CasConflict) return undefined;
      throw error;
    });
    m.duration.observe({}, (performance.now() - started) / 1000);
    m.rows.observe({}, 1);
    if (version === undefined) m.conflicts.inc({});
    return version;
  }

  /** A commit whose writes are all statements: state, replies and writes sent together. */
  private async pipelined(turn: Commit, writes: readonly Statement[]): Promise<number> {
    const { type, id, expected, json, replies, forwarded } = turn;
    let version = Number.NaN;
    const state: Statement = {
      text: CAS_WRITE,
      params: [type, id, json, String(expected), forwarded ?? null],
      rows: (r) => (version = Number(r[0]?.version)),
    };
    const answers = replies.map((r) => ({ q: r.requestId, r: r.json, x: r.expiresAt }));
    const stored: Statement[] = replies.length > 0 ? [{ text: REPLIES_WRITE, params: [type, id, JSON.stringify(answers)] }] : [];
    try {
      await this.storage.pipeline([state, ...stored, ...writes]);
    } catch (error) {
      if (sqlState(error) === VERSION_CONFLICT) throw new CasConflict();
      throw error;
    }
    return version;
  }

  /** A transaction for a turn whose handlers run their own queries (`ctx.sql`); see Commit.open. */
  begin(): Promise<OpenTransaction> {
    return OpenTransaction.begin(this.db);
  }

  async findReplies(type: string, id: string, requestIds: readonly string[]): Promise<ReplyRecord[]> {
    const rows = await storedIds(this.db, type, id, requestIds);
    return rows.map((r) => ({ requestId: r.requestId, json: r.json, expiresAt: r.expiresAt.getTime() }));
  }

  async pruneReplies(now: Date): Promise<void> {
    await this.db.delete(entityReplies).where(lt(entityReplies.expiresAt, now));
  }
}

/**
 * The turn's state (compare-and-set), its replies and its handlers' writes, in `tx`. An `unseen`
 * request id whose reply the insert finds stored already (the call was applied before) fails the
 * turn like a lost compare-and-set: the transaction is rolled back.
 */
async function writeTurn(tx: Database, turn: Commit): Promise<number> {
  const { type, id, expected, json, replies, unseen = [], writes = [], forwarded = null } = turn;
  const version = (await upsertState(tx).execute({ type, id, json, next: expected + 1, expected, forwarded }))[0]?.version;
  if (version === undefined) throw new CasConflict();
  if (replies.length > 0) {
    const values = replies.map((r) => ({
      entityType: type,
      entityId: id,
      requestId: r.requestId,
      reply: r.json,
      expiresAt: new Date(r.expiresAt),
    }));
    const insert = tx.insert(entityReplies).values(values).onConflictDoNothing();
    if (unseen.length === 0) await insert;
    else {
      const fresh = new Set((await insert.returning({ requestId: entityReplies.requestId })).map((r) => r.requestId));
      if (unseen.some((q) => !fresh.has(q))) throw new CasConflict();
    }
  }
  for (const w of writes) await (isStatement(w) ? runStatement(tx, w) : w(tx));
  return version;
}

/** `writes`, if every one is a statement (and there is one at least): they can be pipelined. */
function onlyStatements(writes: readonly TxWrite[]): readonly Statement[] | undefined {
  return writes.length > 0 && writes.every(isStatement) ? (writes as readonly Statement[]) : undefined;
}

function storedIds(db: Database, type: string, id: string, requestIds: readonly string[]) {
  return db
    .select({ requestId: entityReplies.requestId, json: entityReplies.reply, expiresAt: entityReplies.expiresAt })
    .from(entityReplies)
    .where(and(eq(entityReplies.entityType, type), eq(entityReplies.entityId, id), inArray(entityReplies.requestId, [...requestIds])));
}

/** A row LOAD read (postgres-js reads a bigint as text). */
interface LoadedRow {
  readonly json: string;
  readonly version: number | string;
  readonly forwarded: string | null;
  readonly replies: string;
}

class CasConflict extends Error {}
