import { ClusterError } from "../../errors.ts";
import type { ClusterMetrics } from "../../metrics/metrics.ts";
import type { Storage } from "../database.ts";
import { sqlState } from "../failures.ts";
import type { Commit } from "./store.ts";

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
 * What commits the turns of many entities together (`SqlStateStore.commit`, for turns with no
 * writes of their own): the fast statement, and the checked one when the fast one met a stored reply.
 */
export function batchCommitter(storage: Storage, metrics: ClusterMetrics) {
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
  return async (commits: readonly Commit[]): Promise<(number | undefined | ClusterError)[]> => {
    const results = await commitBatch(statement, commits);
    m.rows.observe({}, commits.length);
    m.conflicts.inc({}, results.filter((r) => r === undefined).length);
    return results;
  };
}

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

export function notOwner(turn: Commit): ClusterError {
  return new ClusterError("NOT_OWNER", `this runner may no longer write ${turn.type}/${turn.id}`);
}
