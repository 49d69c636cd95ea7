import type { TablesRelationalConfig } from "drizzle-orm";
import type { PgQueryResultHKT, PgSession } from "drizzle-orm/pg-core";

/** A Drizzle handle (the pool or a transaction's), as far as fixed statements need one (not `Database`: that module uses this one). */
interface Session {
  readonly _: { readonly session: PgSession<PgQueryResultHKT, Record<string, unknown>, TablesRelationalConfig> };
}

/** A statement parameter: text, a number or null (the SQL casts where the server cannot infer the type). */
export type StatementParam = string | number | null;
export type StatementRow = Record<string, unknown>;

/**
 * One of the framework's writes, as fixed SQL text (`$1`, `$2`… parameters) with its values: no
 * query builder runs for it, the server prepares it once per connection, and a commit whose writes
 * are all statements sends them together with the state write, in one transaction
 * (`Storage.pipeline`). `rows` receives what it returns, once it has run.
 */
export interface Statement {
  readonly text: string;
  readonly params: readonly StatementParam[];
  readonly rows?: (rows: readonly StatementRow[]) => void;
  /** The same statement as a row of a set-based one, which several of its kind in a commit join (`joinStatements`). */
  readonly many?: SetForm;
}

/**
 * A statement's set-based form, for a commit with several of its kind: one statement of `text` for
 * all of them, taking the entity ($1 type, $2 id) and JSON text of their rows ($3: `[{i, …row}]`),
 * returning the rows of each with its `i`. A commit of a hundred wake-ups sends six statements,
 * not six hundred: on PGlite, which runs every statement on the runner's one thread, the difference
 * is most of a wake-up's cost.
 */
export interface SetForm {
  readonly text: string;
  readonly entity: readonly [type: string, id: string];
  readonly row: Readonly<Record<string, StatementParam>>;
  /** What of the entity it reads or writes (an execution, a timer): two statements that touch the same thing are never reordered, nor joined. */
  readonly touches: string;
}

/** A set form's rows, as table `k` of `columns` (besides `i integer`), in its `text`. */
export const setRows = (columns: string) => `json_to_recordset(($3::text)::json) as k(i integer, ${columns})`;

/** Runs fixed SQL `text` on `db` (the pool, or a transaction's handle) and resolves with its rows. */
export async function query(db: Session, text: string, params: readonly StatementParam[]): Promise<StatementRow[]> {
  // The session's own prepared-query path takes fixed text as is: nothing is built. (Named, so the server prepares it.)
  const prepared = db._.session.prepareQuery({ sql: text, params: [...params] }, undefined, "statement", false);
  const result = (await prepared.execute()) as StatementRow[] | { rows: StatementRow[] };
  return Array.isArray(result) ? result : result.rows;
}

/** Runs `statement` on `db`, in a round trip of its own. */
export async function runStatement(db: Session, statement: Statement): Promise<void> {
  const rows = await query(db, statement.text, statement.params);
  statement.rows?.(rows);
}

export const isStatement = (write: unknown): write is Statement =>
  typeof write === "object" && write !== null && typeof (write as Statement).text === "string";
