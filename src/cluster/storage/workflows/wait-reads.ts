import type { Storage } from "../database.ts";
import type { ExecutionKey, Waited } from "./store.ts";

// Each key looks up its rows by primary key (a lateral subquery with a limit is never turned into a
// join): a hash join of the keys against the whole journal was the plan Postgres chose otherwise.
const WAITED = `
  with k as (select * from json_to_recordset(($1::text)::json) as k(i integer, t text, d text, e text, n text))
  select k.i, false as signal, j.seq, j.result, j.runs from k cross join lateral (
    select seq, result, runs from workflow_journal
    where entity_type = k.t and entity_id = k.d and exec_id = k.e and name = k.n limit 1) j
  union all
  select k.i, true, 0, s.payload, 0 from k cross join lateral (
    select payload from workflow_signals
    where entity_type = k.t and entity_id = k.d and exec_id = k.e and name = k.n limit 1) s`;

interface WaitedRow {
  readonly i: number;
  readonly signal: boolean;
  readonly seq: number;
  readonly result: string;
  readonly runs: number;
}

interface Asked {
  readonly key: ExecutionKey;
  readonly name: string;
  readonly resolve: (waited: Waited) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The reads of the signal waits asked for together, in one statement: a mailbox asks for those of
 * a whole batch at once (TurnImplementation.prefetch), which while wake-ups come due by the
 * thousand was one round trip per wait, each costing the runner and Postgres more than its rows.
 */
export class WaitReads {
  private asked: Asked[] = [];
  private readonly run: (params: readonly string[]) => Promise<WaitedRow[]>;

  constructor(storage: Storage) {
    this.run = storage.statement<WaitedRow>(WAITED);
  }

  /** Joins the reads asked for in the same job (they are sent once it has ended). */
  read(key: ExecutionKey, name: string): Promise<Waited> {
    return new Promise((resolve, reject) => {
      if (this.asked.length === 0) queueMicrotask(() => void this.flush());
      this.asked.push({ key, name, resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const asked = this.asked;
    this.asked = [];
    try {
      const keys = asked.map(({ key, name }, i) => ({ i, t: key.type, d: key.id, e: key.execId, n: name }));
      const found = asked.map((): { -readonly [K in keyof Waited]: Waited[K] } => ({}));
      for (const { i, signal, seq, result, runs } of await this.run([JSON.stringify(keys)])) {
        const waited = found[i];
        const ask = asked[i];
        if (!waited || !ask) continue;
        if (signal) waited.signal = result;
        else waited.entry = { name: ask.name, seq: Number(seq), result, runs: Number(runs) };
      }
      for (const [i, { resolve }] of asked.entries()) resolve(found[i] ?? {});
    } catch (error) {
      for (const { reject } of asked) reject(error);
    }
  }
}
