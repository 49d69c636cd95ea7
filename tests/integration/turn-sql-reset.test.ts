/**
 * A turn's own queries (`ctx.sql`, as SqlActivityTest's transfer runs them) whose connection is
 * reset while one is in flight: the turn fails UNAVAILABLE and the entity answers its next call.
 * Postgres only, through a TCP proxy that resets the connections the moment the turn's statement
 * goes out (tests/support/resetting-proxy.ts).
 *
 * Regression: the handler's query failed (ECONNRESET), the mailbox then rolled the handler back to
 * its savepoint, and that statement, sent after the socket's error but before its close, never
 * settled: the entity stopped answering for good (chaos run, Postgres restarts, seed 1).
 */
import { sql } from "drizzle-orm";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { Cluster, ClusterError, defineEntity, openStorage, type Storage, silentLogger } from "../../src/cluster/index.ts";
import { proxyInFront, type ResettingProxy } from "../support/resetting-proxy.ts";
import { uniqueId } from "../support/unique-id.ts";
import { within } from "../support/wait.ts";

const protocol = {
  type: "SleepyAccount",
  rpcs: {
    // `parameterised`: the statement has a parameter, so the driver describes it first and queues
    // the transaction's next statement behind it; `plain`: it sends the next one at once.
    transfer: { kind: "mutation", args: z.object({ statement: z.enum(["parameterised", "plain"]) }), output: z.number() },
    count: { kind: "query", args: z.object({}), output: z.number() },
  },
} as const;

/** Like SqlActivityTest's transfer: a state change and a statement in the turn's transaction, one that takes a while. */
const SleepyAccount = defineEntity(protocol, {
  state: z.object({ count: z.number() }),
  initial: () => ({ count: 0 }),
  handlers: {
    transfer: async (s, { statement }, ctx) => {
      s.count += 1;
      const query = statement === "parameterised" ? sql`select pg_sleep(${0.5})` : sql.raw("select pg_sleep(0.5)");
      await ctx.sql((tx) => tx.execute(query));
      return s.count;
    },
    count: (s) => s.count,
  },
});

/** How `call` ended: its value, the code it failed with, or "no answer" after `ms` (what a stuck entity looks like). */
function outcome(call: Promise<unknown>, ms = 5_000): Promise<unknown> {
  const settled = call.then(
    (value) => value,
    (error: unknown) => (error instanceof ClusterError ? error.code : String(error)),
  );
  return within(settled, ms, "no answer");
}

const postgresUrl = process.env.POSTGRES_URL;
if (postgresUrl) {
  const it = suite<{ proxy: ResettingProxy; storage: Storage; cluster: Cluster }>("A turn's ctx.sql whose connection is reset");
  it.before(async (ctx) => {
    const { proxy, url } = await proxyInFront(postgresUrl);
    ctx.proxy = proxy;
    ctx.storage = await openStorage({ postgresUrl: url, dataDir: "", log: silentLogger, poolSize: 4 });
    const options = { mode: "single", runnerId: "it", shardCount: 4, entityIdleMs: 60_000 } as const;
    ctx.cluster = await Cluster.create({ ...options, storage: ctx.storage, log: silentLogger, entities: [SleepyAccount] });
    await ctx.cluster.start();
  });
  it.after(async ({ cluster, storage, proxy }) => {
    // A stuck mailbox would hold the shutdown (it waits for every mailbox to be idle) for ever.
    if ((await outcome(cluster.shutdown())) === "no answer") await storage.close();
    await proxy.close();
  });

  for (const statement of ["parameterised", "plain"] as const) {
    it(`reset while the turn's ${statement} statement runs: the call fails UNAVAILABLE and the entity answers again`, async ({
      proxy,
      cluster,
    }) => {
      const id = uniqueId("sleepy");
      assert.is(await cluster.call("SleepyAccount", id, "transfer", { statement }), 1);
      const reset = proxy.resetOn("pg_sleep");
      const transfer = cluster.call("SleepyAccount", id, "transfer", { statement });
      await reset;
      assert.is(await outcome(transfer), "UNAVAILABLE");
      // Its state change was rolled back with its statement; calls queued behind it are served.
      assert.is(await outcome(cluster.call("SleepyAccount", id, "count", {})), 1);
      assert.is(await outcome(cluster.call("SleepyAccount", id, "transfer", { statement })), 2);
    });
  }

  it.run();
}
