import { eq } from "drizzle-orm";
import { singletonRuns } from "../../../../drizzle/schema.ts";
import type { Database } from "../database.ts";
import type { SingletonRunStore } from "./store.ts";

/** The SingletonRunStore on Postgres (or PGlite): one row per run in `singleton_runs`. */
export class SqlSingletonRunStore implements SingletonRunStore {
  constructor(private readonly db: Database) {}

  async started(name: string, runner: string, at: Date): Promise<number> {
    const [row] = await this.db
      .insert(singletonRuns)
      .values({ name, runner, startedAt: at, lastSeenAt: at })
      .returning({ id: singletonRuns.id });
    if (!row) throw new Error(`no run recorded for singleton ${name}`);
    return row.id;
  }

  async seen(runId: number, at: Date): Promise<void> {
    await this.db.update(singletonRuns).set({ lastSeenAt: at }).where(eq(singletonRuns.id, runId));
  }

  async stopped(runId: number, at: Date): Promise<void> {
    await this.db.update(singletonRuns).set({ stoppedAt: at }).where(eq(singletonRuns.id, runId));
  }
}
