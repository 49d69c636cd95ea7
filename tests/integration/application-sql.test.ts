/**
 * Application SQL in a turn's transaction (SqlActivityTest) and stateless entities
 * (StatelessCounter) and activity groups (ActivityGroupTest), through a runner's API on PGlite and on Postgres: a failing activity keeps
 * neither its state change nor its row; the stateless counter's value survives a restart.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type Client, createClient } from "../../src/client.ts";
import type { Runner } from "../../src/runner.ts";
import { rejects } from "../support/assert.ts";
import { BACKENDS } from "../support/backends.ts";
import { uniqueId } from "../support/unique-id.ts";

for (const backend of BACKENDS) {
  const it = suite<{ runner?: Runner; api: Client }>(`Application SQL [${backend.name}]`, { api: undefined as unknown as Client });
  it.before(async (ctx) => {
    ctx.runner = await backend.start();
    ctx.api = createClient(ctx.runner.url);
  });
  it.after(async (ctx) => {
    await ctx.runner?.stop();
  });

  it("a transfer commits the state and its row together; the same transfer again applies nothing", async ({ api }) => {
    const id = uniqueId("sql");
    assert.is(await api.sqlActivity.transfer({ id, to_entity: "bob", amount: 5 }), 1);
    assert.is(await api.sqlActivity.transfer({ id, to_entity: "bob", amount: 5 }), 1);
    assert.is(await api.sqlActivity.transfer({ id, to_entity: "bob", amount: 6 }), 2);
    assert.equal(await api.sqlActivity.state({ id }), { account_id: id, transfer_count: 2, total_transferred: 11 });
    assert.is(await api.sqlActivity.sqlCount({ id }), 2);
  });

  it("a failing transfer rolls back both its state change and its row, over REST and tRPC", async ({ runner }) => {
    for (const transport of ["rest", "trpc"] as const) {
      const api = createClient(runner!.url, { transport });
      const id = uniqueId(`sql-fail-${transport}`);
      await api.sqlActivity.transfer({ id, to_entity: "bob", amount: 3 });
      await rejects(() => api.sqlActivity.failingTransfer({ id, to_entity: "eve", amount: 4 }), 422, /injected failure/);
      await rejects(() => api.sqlActivity.failingTransfer({ id, to_entity: "eve", amount: 4 }), 422, /injected failure/);
      assert.equal(await api.sqlActivity.state({ id }), { account_id: id, transfer_count: 1, total_transferred: 3 });
      assert.is(await api.sqlActivity.sqlCount({ id }), 1);
    }
  });

  it("concurrent transfers and reads of one account stay consistent", async ({ api }) => {
    const id = uniqueId("sql-par");
    const sent = Array.from({ length: 12 }, (_, k) => api.sqlActivity.transfer({ id, to_entity: `r${k}`, amount: k + 1 }));
    const reads = Array.from({ length: 6 }, () => api.sqlActivity.sqlCount({ id }));
    const counts = await Promise.all(sent);
    await Promise.all(reads);
    assert.equal(
      [...counts].sort((a, b) => a - b),
      Array.from({ length: 12 }, (_, k) => k + 1),
    );
    assert.equal(await api.sqlActivity.state({ id }), { account_id: id, transfer_count: 12, total_transferred: 78 });
    assert.is(await api.sqlActivity.sqlCount({ id }), 12);
  });

  it("the stateless counter counts exactly, refuses inexact results, and changes nothing on bad input", async ({ api }) => {
    const id = uniqueId("stateless");
    assert.is(await api.statelessCounter.get({ id }), 0);
    const results = await Promise.all(Array.from({ length: 10 }, () => api.statelessCounter.increment({ id, amount: 2 })));
    assert.equal(
      [...results].sort((a, b) => a - b),
      Array.from({ length: 10 }, (_, k) => 2 * (k + 1)),
    );
    await rejects(() => api.statelessCounter.increment({ id, amount: Number.MAX_SAFE_INTEGER }), 400, /exact integer/);
    assert.is(await api.statelessCounter.decrement({ id, amount: 25 }), -5);
    assert.is(await api.statelessCounter.reset({ id }), null);
    assert.is(await api.statelessCounter.get({ id }), 0);
  });

  it("an order through two activity groups and a local activity: steps recorded once, in order", async ({ api }) => {
    const id = uniqueId("order");
    const result = await api.activityGroup.processOrder({ id, item_count: 2, amount: 30 });
    assert.equal(result, {
      order_id: id,
      reservation_id: `res-${id}-2`,
      transaction_id: `tx-${id}-30`,
      confirmation: `confirmed-res-${id}-2`,
      summary: `order=${id},res=res-${id}-2,tx=tx-${id}-30`,
    });
    const steps = await api.activityGroup.orderSteps({ id });
    assert.equal(
      steps.map((s) => s.step),
      ["reserve", "charge", "confirm", "summary"],
    );
    assert.equal(await api.activityGroup.processOrder({ id, item_count: 2, amount: 30 }), result);
    assert.equal(await api.activityGroup.orderSteps({ id }), steps);
  });

  it.run();
}

for (const backend of BACKENDS) {
  const it = suite(`Stateless entity across a restart [${backend.name}]`);
  it("the value lives in the application table and survives a restart", async () => {
    const id = uniqueId("stateless-restart");
    const first = await backend.start();
    await createClient(first.url).statelessCounter.increment({ id, amount: 41 });
    await first.stop();
    const second = await backend.start();
    try {
      assert.is(await createClient(second.url).statelessCounter.increment({ id, amount: 1 }), 42);
    } finally {
      await second.stop();
    }
  });
  it.run();
}
