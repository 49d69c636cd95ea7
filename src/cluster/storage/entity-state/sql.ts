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
 * The commits of many entities in ONE statement: a compare-and-set upsert per row, and the
 * replies of exactly the rows whose compare-and-set held. Inputs travel as JSON text (one shape
 * for both drivers, and a fixed text the server prepares once). Rows are locked in key order, so
 * two batches touching the same entities (a stale owner and a new one) cannot deadlock.
 *
 * A reply flagged `c` answers a request id the runner could not rule out in memory (its reply
 * index overflowed): if that id has a stored reply, the call was applied before, and its row
 * must not be written. The fast statement costs no lookup for that: its plain insert meets the
 * stored reply in the primary key (a probe paid anyway) and the unique violation aborts the whole
 * statement, which the runner answers by committing the batch again with the checked statement,
 * which leaves out just the rows whose flagged ids are stored. That path is rare (a retry after
 * the index forgot the first attempt); a lookup per flagged id in every statement was not: it
 * made keyed calls to busy entities several times slower. (A plain insert, not `on conflict do
 * nothing`: the speculative insertion that needs cost a third of the reply's Postgres time.)
 */
const batchCommit = (checked: boolean) => `
  with input as (
    select * from json_to_recordset(($1::text)::json) as x(t text, i text, e bigint, s text, f text, r json)
  ), rq as (
    select input.t, input.i, q->>0 as q, q->>1 as r, (q->>2)::float8 as x, (q->>3)::boolean as c
    from input cross join lateral json_array_elements(input.r) q
  ), s as (
    insert into entity_state (entity_type, entity_id, state, version, forwarded_replies)
    select input.t, input.i, input.s, input.e + 1, input.f from input${
      checked
        ? `
    where not exists (
      select 1 from rq join entity_replies d on d.entity_type = rq.t and d.entity_id = rq.i and d.request_id = rq.q
      where rq.c and rq.t = input.t and rq.i = input.i
    )`
        : ""
    }
    order by input.t, input.i
    on conflict (entity_type, entity_id) do update
      set state = excluded.state, version = entity_state.version + 1, updated_at = now(),
        forwarded_replies = coalesce(excluded.forwarded_replies, entity_state.forwarded_replies)
      where entity_state.version = excluded.version - 1
    returning entity_type, entity_id, version
  ), r as (
    insert into entity_replies (entity_type, entity_id, request_id, reply, expires_at)
    select rq.t, rq.i, rq.q, rq.r, to_timestamp(rq.x / 1000) from rq
    join s on s.entity_type = rq.t and s.entity_id = rq.i${checked ? " on conflict do nothing" : ""}
  )
  select entity_type, entity_id, version from s`;

/** SQLSTATE unique_violation: the fast statement met a stored reply. */
const REPLY_STORED = "23505";

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
    const fast = storage.statement<CommittedRow>(batchCommit(false));
    const checked = storage.statement<CommittedRow>(batchCommit(true));
    const m = metrics.commits;
    const statement: BatchStatement = async (params) => {
      const started = performance.now();
      const rows = await fast(params).catch((error: unknown) => {
        if (sqlState(error) !== REPLY_STORED) throw error;
        return checked(params);
      });
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

/** A row the batch commit wrote (postgres-js reads a bigint as text). */
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
  // Each row carries its replies as [request id, reply, expiry ms, checked]: the fewest bytes to build, send and parse.
  const rows = commits.map((c) => ({
    t: c.type,
    i: c.id,
    e: c.expected,
    s: c.json,
    f: c.forwarded,
    r:
      c.replies.length === 0
        ? undefined
        : c.replies.map((r) => [r.requestId, r.json, r.expiresAt, c.unseen?.includes(r.requestId) === true]),
  }));
  const written = new Map<string, number>();
  for (const row of await statement([JSON.stringify(rows)])) {
    written.set(key(row.entity_type, row.entity_id), Number(row.version));
  }
  return commits.map((c) => written.get(key(c.type, c.id)));
}

function notOwner(turn: Commit): ClusterError {
  return new ClusterError("NOT_OWNER", `this runner may no longer write ${turn.type}/${turn.id}`);
}
