import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "../../../drizzle/schema.ts";
import { type Backoff, backoffDelay } from "../backoff.ts";
import type { Logger } from "../log.ts";
import type { PostgresSsl } from "../tls.ts";
import { joinStatements } from "./joined-statements.ts";
import type { Statement, StatementRow } from "./statement.ts";

/** One Drizzle handle, whichever driver is underneath: the rest of the code has one path. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A handle without the framework's schema: what `ctx.sql` hands out (its turn's transaction). */
export type SqlHandle = PgDatabase<PgQueryResultHKT>;

export interface Storage {
  readonly db: Database;
  readonly driver: "pglite" | "postgres";
  /**
   * A fixed SQL text run as a server-side prepared statement, for the few hot statements Drizzle
   * cannot express (it prepares only what its query builder builds). Parameters are `$1`, `$2`…
   */
  statement<Row extends object>(text: string): (params: readonly string[]) => Promise<Row[]>;
  /**
   * Runs `statements` as one transaction, the statements sent together (on Postgres: BEGIN, then
   * all of them in one round trip, then COMMIT). A statement that fails aborts the transaction
   * (nothing commits) and rejects with its error; a write that must not commit unless an earlier
   * one matched a row raises (see `entity_version_conflict`). Statements of one set form are
   * joined into one where their order allows (`joinStatements`).
   */
  pipeline(statements: readonly Statement[]): Promise<void>;
  close(): Promise<void>;
}

const migrationsFolder = fileURLToPath(new URL("../../../drizzle", import.meta.url));
const PGLITE_SHARED_BUFFERS = "32MB";
/** How soon a connection of the pool tries again after Postgres refused or dropped it. */
const RECONNECT_BACKOFF: Backoff = { firstMs: 50, maxMs: 1_000, jitter: true };
/** Any constant: serializes concurrent start-ups of several runners on one database. */
const MIGRATION_LOCK_KEY = 7_201_911;

export interface StorageOptions {
  /** Real Postgres when set; otherwise embedded PGlite in `dataDir`. */
  readonly postgresUrl: string | undefined;
  readonly dataDir: string;
  /** Postgres TLS (postgres-js `ssl`): from `sslmode` in the URL and `POSTGRES_CA`. */
  readonly ssl?: PostgresSsl;
  readonly poolSize?: number;
  readonly log: Logger;
  /**
   * The application's own tables (those its handlers reach through `ctx.sql`): a drizzle-kit
   * migrations folder, applied at start-up after the framework's, and tracked apart from them.
   */
  readonly application?: { readonly migrationsFolder: string };
}

/** drizzle-kit's bookkeeping of the application's migrations: a table of its own, beside the framework's. */
const APPLICATION_MIGRATIONS = { migrationsTable: "__application_migrations", migrationsSchema: "drizzle" };

export async function openStorage(options: StorageOptions): Promise<Storage> {
  const storage = await (options.postgresUrl ? openPostgres(options.postgresUrl, options) : openPglite(options.dataDir, options));
  return { ...storage, pipeline: (statements) => storage.pipeline(joinStatements(statements)) };
}

// Each driver is loaded only when used: PGlite alone takes ~150 ms to load, in every start-up.
async function openPostgres(url: string, options: StorageOptions): Promise<Storage> {
  const [{ default: postgres }, { drizzle: drizzlePostgres }, { migrate: migratePostgres }] = await Promise.all([
    import("postgres"),
    import("drizzle-orm/postgres-js"),
    import("drizzle-orm/postgres-js/migrator"),
  ]);
  // postgres-js's own reconnect backoff grows with every connection of the pool lost with an error
  // (3^n / 100 s, up to 20 s), and only a successful query resets it: ten connections reset by a
  // restarting Postgres left every query waiting 10–20 s after it was back. Ours tops out at 1 s.
  const backoff = (retries: number) => backoffDelay(retries, RECONNECT_BACKOFF) / 1000;
  // No array-type lookup on each new connection (no column or parameter is an array): one round
  // trip less, and the driver's lookup, when its connection is reset, rejects a promise nobody
  // handles, which would end the process.
  const quiet = { onnotice: () => {}, backoff, fetch_types: false, ...(options.ssl ? { ssl: options.ssl } : {}) };
  // Migrations run on a single dedicated connection holding an advisory lock, so runners starting
  // together apply each migration once.
  const migrator = postgres(url, { ...quiet, max: 1 });
  try {
    await migrator`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await migratePostgres(drizzlePostgres({ client: migrator }), { migrationsFolder });
    if (options.application)
      await migratePostgres(drizzlePostgres({ client: migrator }), { ...options.application, ...APPLICATION_MIGRATIONS });
    await migrator`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
  } finally {
    await migrator.end();
  }
  const client = postgres(url, { ...quiet, max: options.poolSize ?? 10 });
  options.log.info({ driver: "postgres" }, "storage ready");
  return {
    db: drizzlePostgres({ client, schema }),
    driver: "postgres",
    statement:
      <Row extends object>(text: string) =>
      async (params: readonly string[]) =>
        (await client.unsafe(text, [...params], { prepare: true })) as unknown as Row[],
    // postgres-js sends the statements a transaction callback returns as an array together
    // (pipelined). Its own transaction, not a reserved connection: a reserved connection lost while
    // Postgres restarted left a commit waiting for good (a mailbox stuck in a chaos run).
    pipeline: async (statements) => {
      const results = await client.begin((tx) => statements.map((s) => tx.unsafe(s.text, [...s.params] as never[], { prepare: true })));
      for (const [i, s] of statements.entries()) s.rows?.(results[i] as unknown as StatementRow[]);
    },
    close: () => client.end({ timeout: 5 }),
  };
}

async function openPglite(dataDir: string, { log, application }: StorageOptions): Promise<Storage> {
  const [{ PGlite }, { drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("drizzle-orm/pglite"),
    import("drizzle-orm/pglite/migrator"),
  ]);
  mkdirSync(dataDir, { recursive: true });
  const releaseLock = lockDataDir(dataDir);
  try {
    const client = await PGlite.create(join(dataDir, "pglite"), {
      // Postgres' default 128 MB of shared buffers is touched at start-up and stays resident in
      // the WebAssembly heap (about 100 MiB more RSS); an embedded, single-user database needs far
      // less, and the file system cache still serves what falls out.
      startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${PGLITE_SHARED_BUFFERS}`],
    });
    const db = drizzlePglite({ client, schema });
    await migratePglite(db, { migrationsFolder });
    if (application) await migratePglite(db, { ...application, ...APPLICATION_MIGRATIONS });
    log.info({ driver: "pglite", dataDir }, "storage ready");
    return {
      db,
      driver: "pglite",
      statement:
        <Row extends object>(text: string) =>
        async (params: readonly string[]) =>
          (await client.query<Row>(text, [...params])).rows,
      pipeline: (statements) =>
        client.transaction(async (tx) => {
          for (const s of statements) {
            const { rows } = await tx.query<StatementRow>(s.text, [...s.params]);
            s.rows?.(rows);
          }
        }),
      close: async () => {
        await client.close();
        releaseLock();
      },
    };
  } catch (error) {
    releaseLock();
    throw error;
  }
}

/**
 * PGlite is a single-process database: two runners on one data directory would corrupt it.
 * A pid file refuses the second one; a stale file (its process is gone) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = join(dataDir, "runner.pid");
  try {
    const holder = Number(readFileSync(lockFile, "utf8").trim());
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new Error(`DATA_DIR ${dataDir} is in use by process ${holder}; stop it or choose another DATA_DIR`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  writeFileSync(lockFile, String(process.pid));
  return () => rmSync(lockFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
