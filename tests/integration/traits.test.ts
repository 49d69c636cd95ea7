import * as assert from "uvu/assert";
import { AuditEntry } from "../../contract/index.ts";
import { rejects } from "../support/assert.ts";
import { BACKENDS } from "../support/backends.ts";
import { restartRunner, runnerSuite } from "../support/runner-suite.ts";
import { uniqueId } from "../support/unique-id.ts";

for (const backend of BACKENDS) {
  const it = runnerSuite("Traits", backend);

  it("update/get on the entity; audit-log and version from its traits", async ({ api }) => {
    const id = uniqueId("tr");
    assert.is(await api.trait.get({ id }), "");
    assert.is(await api.trait.version({ id }), 0);
    assert.equal(await api.trait.auditLog({ id }), []);
    const before = Date.now();
    assert.is(await api.trait.update({ id, data: "v1" }), null);
    assert.is(await api.trait.update({ id, data: "v2" }), null);
    assert.is(await api.trait.get({ id }), "v2");
    assert.is(await api.trait.version({ id }), 2);
    const log = await api.trait.auditLog({ id });
    assert.equal(
      log.map((e) => [e.action, e.details]),
      [
        ["update", '{"data":"v1"}'],
        ["update", '{"data":"v2"}'],
      ],
    );
    for (const entry of log) {
      assert.ok(AuditEntry.safeParse(entry).success);
      assert.ok(Date.parse(entry.timestamp) >= before - 1_000 && Date.parse(entry.timestamp) <= Date.now() + 1_000, entry.timestamp);
    }
    // Reads change nothing.
    await api.trait.get({ id });
    assert.is(await api.trait.version({ id }), 2);
  });

  it("concurrent updates: one audit entry and one version per update", async ({ api }) => {
    const id = uniqueId("tr");
    await Promise.all(Array.from({ length: 50 }, (_, k) => api.trait.update({ id, data: `d${k}` })));
    assert.is(await api.trait.version({ id }), 50);
    const log = await api.trait.auditLog({ id });
    assert.is(log.length, 50);
    assert.equal(new Set(log.map((e) => e.details)).size, 50);
  });

  it("bad input is a 400 and changes nothing", async ({ api }) => {
    const id = uniqueId("tr");
    await rejects(() => api.trait.update({ id, data: 5 as unknown as string }), 400, /data/);
    assert.is(await api.trait.version({ id }), 0);
    assert.equal(await api.trait.auditLog({ id }), []);
  });

  it("trait state is persisted with the entity's: all of it survives a restart", async (ctx) => {
    const id = uniqueId("tr");
    await ctx.api.trait.update({ id, data: "kept" });
    const log = await ctx.api.trait.auditLog({ id });
    await restartRunner(ctx, backend);
    assert.is(await ctx.api.trait.get({ id }), "kept");
    assert.is(await ctx.api.trait.version({ id }), 1);
    assert.equal(await ctx.api.trait.auditLog({ id }), log);
  });

  it.run();
}
