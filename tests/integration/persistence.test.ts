import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient } from "../../src/client.ts";
import { BACKENDS } from "../support/backends.ts";
import { uniqueId } from "../support/unique-id.ts";
import { waitFor } from "../support/wait.ts";

for (const backend of BACKENDS) {
  const it = suite(`Persistence [${backend.name}]`);

  it("state survives eviction: the next call reloads it from storage", async () => {
    const runner = await backend.start({ ENTITY_IDLE_MS: "100" });
    try {
      const api = createClient(runner.url);
      const id = uniqueId("evict");
      await api.counter.increment({ id, amount: 41 });
      await api.kv.set({ id, key: "k", value: { kept: true } });
      await api.kv.set({ id, key: "__proto__", value: "a plain key" });
      const active = await api.system.entities({});
      assert.ok(active.some((e) => e.entity_id === id && e.entity_type === "Counter"));
      await waitFor("eviction", async () => ((await api.system.entities({})).some((e) => e.entity_id === id) ? undefined : true));
      assert.is(await api.counter.increment({ id, amount: 1 }), 42);
      assert.equal(await api.kv.get({ id, key: "k" }), { kept: true });
      assert.equal(await api.kv.keys({ id }), ["__proto__", "k"]);
      assert.is(await api.kv.get({ id, key: "__proto__" }), "a plain key");
    } finally {
      await runner.stop();
    }
  });

  it("state survives a runner restart", async () => {
    const ids = Array.from({ length: 20 }, (_, i) => uniqueId(`restart-${i}`));
    const first = await backend.start();
    const api1 = createClient(first.url);
    await Promise.all(ids.map((id, i) => api1.counter.increment({ id, amount: i + 1 })));
    await Promise.all(ids.map((id, i) => api1.kv.set({ id, key: `key-${i}`, value: [i, String(i)] })));
    await first.stop();

    const second = await backend.start();
    try {
      const api2 = createClient(second.url);
      assert.equal(
        await Promise.all(ids.map((id) => api2.counter.get({ id }))),
        ids.map((_, i) => i + 1),
      );
      for (const [i, id] of ids.entries()) {
        assert.equal(await api2.kv.keys({ id }), [`key-${i}`]);
        assert.equal(await api2.kv.get({ id, key: `key-${i}` }), [i, String(i)]);
      }
    } finally {
      await second.stop();
    }
  });

  it.run();
}
