import { connect } from "node:net";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Client } from "../../src/client.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { uniqueId } from "../support/unique-id.ts";

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

/**
 * Connection attempts to Postgres, one after another, until `done`: clients knocking while it
 * restarts. Each sends a startup message (protocol 3.0) and waits for the server's first answer or
 * the connection's end, on a raw socket, so nothing about the attempt can go unhandled.
 */
async function knock(url: string, done: () => boolean): Promise<void> {
  const { hostname, port, username, pathname } = new URL(url);
  const params = Buffer.from(`user\0${username || "postgres"}\0database\0${pathname.slice(1)}\0\0`);
  const startup = Buffer.alloc(8 + params.length);
  startup.writeInt32BE(startup.length, 0);
  startup.writeInt32BE(196_608, 4);
  params.copy(startup, 8);
  while (!done()) {
    await new Promise<void>((resolve) => {
      const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(startup));
      socket.setTimeout(1_000, () => socket.destroy());
      socket.on("data", () => socket.destroy());
      socket.on("error", () => {});
      socket.on("close", () => resolve());
    });
  }
}

/**
 * Rounds of concurrent reads through every runner until one round has no failure: a pooled
 * connection that died with the old server fails its next query (a 503), and the suites after this
 * one should not be the ones to find them.
 */
async function drainStaleConnections(): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const reads = cluster!.indexes().flatMap((i) =>
      Array.from({ length: 30 }, (_, k) =>
        cluster!
          .client(i)
          .counter.get({ id: `warm-${k}` })
          .then(
            () => true,
            () => false,
          ),
      ),
    );
    if ((await Promise.all(reads)).every(Boolean)) return;
  }
  throw new Error("runners still fail queries 20 rounds after the restart");
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
    await drainStaleConnections();
  });
}

it.run();
