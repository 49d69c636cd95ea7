import type { StateStore } from "../storage/entity-state/store.ts";
import { isTransientDatabaseError, toCallerError } from "../storage/failures.ts";
import type { OpenTransaction } from "../storage/transaction.ts";
import type { SqlTransaction } from "./context.ts";

/**
 * The application queries of one batch of turns: one transaction, opened by the first `ctx.sql`,
 * in which the batch's state commit then runs. Each handler's queries sit behind a savepoint, so a
 * handler that throws takes back its own queries only.
 */
export class TurnSql {
  private open: Promise<OpenTransaction> | undefined;
  private marking: Promise<void> | undefined;

  constructor(private readonly store: StateStore) {}

  /**
   * Runs `query` in the transaction (opened on first use), behind the current handler's savepoint.
   * A lost connection (Postgres restarting) fails it UNAVAILABLE, as a failed commit would: the
   * turn is retried whole, where the handler's own error would end a workflow activity for good.
   */
  async run<T>(query: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    try {
      this.open ??= this.store.begin();
      const open = await this.open;
      this.marking ??= open.mark();
      await this.marking;
      return await query(open.tx as unknown as SqlTransaction);
    } catch (error) {
      throw isTransientDatabaseError(error) ? toCallerError(error, "application SQL failed") : error;
    }
  }

  /** A handler ended: if it failed, its queries are rolled back (to its savepoint). */
  async settle(failed: boolean): Promise<void> {
    const marked = this.marking;
    this.marking = undefined;
    if (!marked || !this.open) return;
    await marked;
    if (failed) await (await this.open).undo();
  }

  /** The open transaction, for the commit to complete (or to roll back). */
  transaction(): Promise<OpenTransaction> | undefined {
    return this.open;
  }
}
