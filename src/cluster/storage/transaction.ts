import { sql } from "drizzle-orm";
import type { Database } from "./database.ts";

/**
 * A database transaction held open across a turn, so that a handler can await its own queries
 * inside the turn and the turn's state commit joins them (see `ctx.sql`). Drizzle only offers a
 * transaction as a callback; this keeps the callback waiting until the turn says how it ends.
 */
export class OpenTransaction {
  private finish!: (last: ((tx: Database) => Promise<unknown>) | Error) => void;
  private constructor(
    readonly tx: Database,
    private readonly done: Promise<unknown>,
  ) {}

  /** Begins a transaction on `db`; resolves once it is open. */
  static begin(db: Database): Promise<OpenTransaction> {
    return new Promise((opened, failed) => {
      let self: OpenTransaction | undefined;
      const done = db.transaction(async (tx) => {
        const ending = new Promise<((tx: Database) => Promise<unknown>) | Error>((resolve) => {
          self = new OpenTransaction(tx as unknown as Database, done);
          self.finish = resolve;
        });
        opened(self as OpenTransaction);
        const last = await ending;
        if (last instanceof Error) throw last;
        return last(tx as unknown as Database);
      });
      done.catch((error: unknown) => {
        if (!self) failed(error);
      });
    });
  }

  /** A savepoint: `undo` goes back to the latest one (one per handler of a turn). */
  async mark(): Promise<void> {
    await this.tx.execute(sql`savepoint turn_call`);
  }

  async undo(): Promise<void> {
    await this.tx.execute(sql`rollback to savepoint turn_call`);
  }

  /** Runs `last` in the transaction, then commits; if `last` throws, rolls back and rethrows. */
  commit<T>(last: (tx: Database) => Promise<T>): Promise<T> {
    this.finish(last);
    return this.done as Promise<T>;
  }

  /** Rolls back everything the transaction did. */
  async rollback(): Promise<void> {
    this.finish(new RolledBack());
    await this.done.catch((error: unknown) => {
      if (!(error instanceof RolledBack)) throw error;
    });
  }
}

class RolledBack extends Error {}
