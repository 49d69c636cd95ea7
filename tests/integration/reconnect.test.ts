/**
 * The Postgres pool after its connections were reset (Postgres restarting under load, a network
 * blip): it answers again at once. Postgres only (PGlite has no connections), through a TCP proxy
 * in front of it whose client sockets the test resets.
 */
import { sql } from "drizzle-orm";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { openStorage, type Storage, silentLogger } from "../../src/cluster/index.ts";
import { OpenTransaction } from "../../src/cluster/storage/transaction.ts";
import { proxyInFront, type ResettingProxy } from "../support/resetting-proxy.ts";
import { waitFor, within } from "../support/wait.ts";

/** How long until a query is answered again. */
async function msUntilAnswered(storage: Storage): Promise<number> {
  const since = Date.now();
  const answered = () =>
    storage.db.execute(sql`select 1`).then(
      () => true,
      () => undefined,
    );
  await waitFor("a query to be answered again", answered, 30_000, 20);
  return Date.now() - since;
}

/** How `query` ended, or "still waiting" after `ms` (what a hung query looks like). */
function outcome(query: Promise<unknown>, ms = 5_000): Promise<string> {
  const settled = query.then(
    () => "answered",
    () => "refused",
  );
  return within(settled, ms, "still waiting");
}

const postgresUrl = process.env.POSTGRES_URL;
if (postgresUrl) {
  const it = suite<{ proxy: ResettingProxy; storage: Storage; proxied: string }>("Postgres pool after its connections were reset");
  it.before(async (ctx) => {
    const { proxy, url } = await proxyInFront(postgresUrl);
    ctx.proxy = proxy;
    ctx.proxied = url;
    ctx.storage = await openStorage({ postgresUrl: ctx.proxied, dataDir: "", log: silentLogger, poolSize: 10 });
  });
  it.after(async (ctx) => {
    await ctx.storage.close();
    await ctx.proxy.close();
  });

  it("every connection reset at once: the next query is answered within 3 s, not after the driver's own backoff", async ({
    proxy,
    storage,
  }) => {
    // Ten queries in flight at once hold all ten connections of the pool.
    const busy = Array.from({ length: 10 }, () =>
      storage.db.execute(sql`select pg_sleep(2)`).then(
        () => "answered",
        () => "reset",
      ),
    );
    await waitFor("the pool to open all its connections", () => (proxy.connections >= 10 ? true : undefined));
    proxy.reset();
    assert.equal(new Set(await Promise.all(busy)), new Set(["reset"]));
    // Regression: the driver's array-type lookup on each new connection, reset, rejected a
    // promise nobody handled, which ended the process.
    const took = await msUntilAnswered(storage);
    assert.ok(took < 3_000, `the pool answered again only after ${took} ms`);
  });

  it("Postgres away for a second while callers keep trying (a restart): answered within 3 s of its return", async ({ proxy, storage }) => {
    let away = true;
    // Callers keep trying while it is away, as a cluster's retries do.
    const knocking = Array.from({ length: 20 }, async () => {
      while (away) await storage.db.execute(sql`select 1`).catch(() => new Promise((resolve) => setTimeout(resolve, 10)));
    });
    const busy = Array.from({ length: 10 }, () => storage.db.execute(sql`select pg_sleep(2)`).catch(() => "reset"));
    await waitFor("the pool to open all its connections", () => (proxy.connections >= 10 ? true : undefined));
    proxy.refuse();
    proxy.reset();
    await Promise.all(busy);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await proxy.listen();
    // Regression: postgres-js counts each connection lost with an error against the whole pool and
    // waits 3^n / 100 s (at most 20 s) before reconnecting: queries waited 10–20 s.
    const took = await msUntilAnswered(storage);
    away = false;
    await Promise.all(knocking);
    assert.ok(took < 3_000, `the pool answered again only after ${took} ms`);
  });

  // A pool of one connection, so that the pool reconnects the very connection object the open
  // transaction (a turn's, see `ctx.sql`) lived on. Regression: postgres-js kept sending the
  // transaction's queries to that object (scripts/patches/postgres-js.mjs).
  const openOnOneConnection = async (proxied: string) => {
    const single = await openStorage({ postgresUrl: proxied, dataDir: "", log: silentLogger, poolSize: 1 });
    const open = await OpenTransaction.begin(single.db);
    await open.tx.execute(sql`select 1`);
    // Queued behind the transaction: the pool's next use of the connection once it closed.
    const next = single.db.execute(sql`select 2`);
    return { single, open, next };
  };

  it("a turn's transaction whose connection was reset refuses its later queries instead of running them on the pool's next session", async ({
    proxy,
    proxied,
  }) => {
    const { single, open, next } = await openOnOneConnection(proxied);
    proxy.reset();
    await next; // the pool reconnected the transaction's connection object and used it
    assert.is(await outcome(open.tx.execute(sql`select 3`)), "refused", "a query of the dead transaction ran outside any transaction");
    assert.is(await outcome(open.rollback()), "refused");
    await single.close();
  });

  it("a turn's transaction whose connection was reset while Postgres refuses connections: its later query fails at once, not never", async ({
    proxy,
    proxied,
  }) => {
    const { single, open, next } = await openOnOneConnection(proxied);
    proxy.refuse();
    proxy.reset();
    assert.is(await outcome(next), "refused");
    // Regression: this query never settled, and the entity whose handler awaited it stopped
    // answering for good (CI's chaos run, after a Postgres restart).
    assert.is(await outcome(open.tx.execute(sql`select 3`)), "refused");
    assert.is(await outcome(open.rollback()), "refused");
    await proxy.listen();
    await msUntilAnswered(single);
    await single.close();
  });

  it.run();
}
