/** The database's own limit: a single-row UPSERT per increment, issued directly by postgres-js. */
import postgres from "postgres";
import type { CpuMeter } from "./cpu.ts";
import { closedLoop, WARMUP_SECONDS } from "./lib.ts";

export async function measureUpsertBaseline(url: string, clients: number, seconds: number, meter?: CpuMeter) {
  const sql = postgres(url, { max: clients, onnotice: () => {} });
  try {
    await sql`create table if not exists bench_upsert (id text primary key, value bigint not null)`;
    return await closedLoop(
      clients,
      seconds,
      WARMUP_SECONDS,
      async (c) => {
        await sql`insert into bench_upsert (id, value) values (${`c${c}`}, 1)
                on conflict (id) do update set value = bench_upsert.value + 1 returning value`;
      },
      meter,
    );
  } finally {
    await sql`drop table if exists bench_upsert`.catch(() => {});
    await sql.end();
  }
}
