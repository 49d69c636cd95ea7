import postgres from "postgres";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Client } from "../../src/client.ts";
import { uniqueId } from "../support/backends.ts";
import { ClusterHarness } from "../support/cluster.ts";

const cluster = ClusterHarness.fromEnv();
if (!cluster) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const it = suite("Service restarts under load");

/**
 * Keyed increments from `loops` clients through every runner until `done`, each retried with its
 * key until acknowledged; resolves with the number of keys sent.
 */
async function load(id: string, loops: number, done: () => boolean): Promise<number> {
  const clients = cluster!.indexes().map((i) => cluster!.client(i));
  let keys = 0;
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      for (let n = 0; !done(); n++) {
        const key = `${loop}-${n}`;
        keys++;
        for (let attempt = 0; ; attempt++) {
          try {
            await (clients[(n + attempt) % clients.length] as Client).counter.increment({ id, amount: 1 }, { idempotencyKey: key });
            break;
          } catch (error) {
            if (attempt > 200) throw error;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      }
    }),
  );
  return keys;
}

/** New Postgres connections, one after another, until `done`: clients knocking while it restarts. */
async function knock(url: string, done: () => boolean): Promise<void> {
  while (!done()) {
    const sql = postgres(url, { max: 1, connect_timeout: 1, onnotice: () => {} });
    await sql`select 1`.catch(() => {});
    await sql.end({ timeout: 0 });
  }
}

for (const service of ["postgres", "etcd"] as const) {
  it(`restarting ${service} while runners are busy: the restart succeeds, every keyed increment counts once`, async () => {
    const id = uniqueId(`restart-${service}`);
    let restarted = false;
    const sent = load(id, 4, () => restarted);
    const knocking = service === "postgres" ? knock(cluster.env().POSTGRES_URL as string, () => restarted) : undefined;
    // Regression: runners reconnecting while Postgres started made scripts/services.sh take their
    // "the database system is starting up" for a failed start.
    await cluster.restartService(service);
    restarted = true;
    await knocking;
    const keys = await sent;
    assert.ok(keys > 0);
    assert.is(await cluster.client(1).counter.get({ id }), keys);
  });
}

it.run();
