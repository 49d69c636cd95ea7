/**
 * What a load case costs Postgres: WAL bytes (pg_current_wal_lsn() before and after), and
 * transactions — each of the runners' statements is one, as they run in autocommit — and rows
 * written (pg_stat_database), per operation. Both readings are taken while the load runs: a busy
 * backend reports its counters once a second, so the lag is about the same at both ends. The
 * other runners' background work (leases, timers) is included: a few statements a second.
 */
import postgres from "postgres";

export interface PgCost {
  readonly walBytesPerOp: number;
  readonly statementsPerOp: number;
  readonly rowsWrittenPerOp: number;
}

interface Reading {
  readonly lsn: string;
  readonly xacts: number;
  readonly rows: number;
}

export class PgMeter {
  private readonly sql;
  private before: Promise<Reading> | undefined;
  private after: Promise<Reading> | undefined;
  private ops = 0;

  constructor(url: string) {
    this.sql = postgres(url, { max: 1, onnotice: () => {} });
  }

  start(): void {
    this.before = this.read();
  }

  stop(ops: number): void {
    this.ops = ops;
    this.after = this.read();
  }

  /** The cost per operation of the measured window; closes the meter's connection. */
  async cost(): Promise<PgCost> {
    if (!this.before || !this.after) throw new Error("PgMeter.cost() before start() and stop()");
    const [before, after] = await Promise.all([this.before, this.after]);
    const [diff] = await this.sql<{ bytes: string }[]>`select pg_wal_lsn_diff(${after.lsn}, ${before.lsn})::text as bytes`;
    await this.sql.end();
    return {
      walBytesPerOp: Number(diff?.bytes) / this.ops,
      statementsPerOp: (after.xacts - before.xacts) / this.ops,
      rowsWrittenPerOp: (after.rows - before.rows) / this.ops,
    };
  }

  private async read(): Promise<Reading> {
    const [row] = await this.sql<{ lsn: string; xacts: string; rows: string }[]>`
      select pg_current_wal_lsn()::text as lsn,
             (xact_commit + xact_rollback)::text as xacts,
             (tup_inserted + tup_updated + tup_deleted)::text as rows
      from pg_stat_database where datname = current_database()`;
    if (!row) throw new Error("pg_stat_database has no row for this database");
    return { lsn: row.lsn, xacts: Number(row.xacts), rows: Number(row.rows) };
  }
}
