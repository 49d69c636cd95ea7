import * as assert from "uvu/assert";
import { rejects } from "../support/assert.ts";
import { BACKENDS } from "../support/backends.ts";
import { runnerSuite } from "../support/runner-suite.ts";
import { uniqueId } from "../support/unique-id.ts";

for (const backend of BACKENDS) {
  for (const transport of ["rest", "trpc"] as const) {
    const it = runnerSuite("Counter and KVStore", backend, transport);

    it("counter: increment, get, decrement, reset; ids independent", async ({ api }) => {
      const a = uniqueId("c");
      const b = uniqueId("c");
      assert.is(await api.counter.increment({ id: a, amount: 5 }), 5);
      assert.is(await api.counter.get({ id: a }), 5);
      assert.is(await api.counter.increment({ id: a, amount: 3 }), 8);
      assert.is(await api.counter.decrement({ id: a, amount: 2 }), 6);
      assert.is(await api.counter.decrement({ id: a, amount: -4 }), 10);
      assert.is(await api.counter.reset({ id: a }), null);
      assert.is(await api.counter.get({ id: a }), 0);
      assert.is(await api.counter.increment({ id: b, amount: 100 }), 100);
      assert.is(await api.counter.get({ id: a }), 0);
    });

    it("counter: exact at ±(2^53−1), rejected beyond, never rounded", async ({ api }) => {
      const id = uniqueId("c");
      const max = Number.MAX_SAFE_INTEGER;
      assert.is(await api.counter.increment({ id, amount: max }), max);
      await rejects(() => api.counter.increment({ id, amount: 1 }), 400, /exact integer range/);
      assert.is(await api.counter.get({ id }), max);
      assert.is(await api.counter.decrement({ id, amount: max }), 0);
      assert.is(await api.counter.decrement({ id, amount: max }), -max);
      await rejects(() => api.counter.decrement({ id, amount: 1 }), 400);
      assert.is(await api.counter.get({ id }), -max);
    });

    it("counter: 200 concurrent increments of 1 → exactly 200", async ({ api }) => {
      const id = uniqueId("c");
      const replies = await Promise.all(Array.from({ length: 200 }, () => api.counter.increment({ id, amount: 1 })));
      assert.is(await api.counter.get({ id }), 200);
      // Every reply is a distinct intermediate value: the turns really were serialized.
      assert.equal(
        [...replies].sort((x, y) => x - y),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
    });

    it("counter: a retried call with the same idempotency key applies once", async ({ api }) => {
      const id = uniqueId("c");
      const key = uniqueId("key");
      const first = await api.counter.increment({ id, amount: 7 }, { idempotencyKey: key });
      const again = await Promise.all([1, 2, 3].map(() => api.counter.increment({ id, amount: 7 }, { idempotencyKey: key })));
      assert.is(first, 7);
      assert.equal(again, [7, 7, 7]);
      assert.is(await api.counter.get({ id }), 7);
      assert.is(await api.counter.increment({ id, amount: 1 }), 8);
    });

    it("kv: set, get, keys, delete, clear", async ({ api }) => {
      const id = uniqueId("kv");
      assert.is(await api.kv.get({ id, key: "missing" }), null);
      assert.is(await api.kv.set({ id, key: "b", value: { nested: [1, "two", null, true] } }), null);
      assert.is(await api.kv.set({ id, key: "a", value: 42 }), null);
      assert.equal(await api.kv.get({ id, key: "b" }), { nested: [1, "two", null, true] });
      assert.equal(await api.kv.keys({ id }), ["a", "b"]);
      assert.is(await api.kv.delete({ id, key: "a" }), true);
      assert.is(await api.kv.delete({ id, key: "a" }), false);
      assert.equal(await api.kv.keys({ id }), ["b"]);
      assert.is(await api.kv.clear({ id }), null);
      assert.equal(await api.kv.keys({ id }), []);
    });

    it("kv: keys that look like object internals are plain keys", async ({ api }) => {
      const id = uniqueId("kv");
      for (const key of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
        assert.is(await api.kv.get({ id, key }), null, key);
        await api.kv.set({ id, key, value: key });
        assert.is(await api.kv.get({ id, key }), key);
      }
      assert.equal(await api.kv.keys({ id }), ["__proto__", "constructor", "hasOwnProperty", "toString"]);
    });

    it("kv: unicode, slash and space keys and ids round-trip exactly", async ({ api }) => {
      for (const id of [uniqueId("ключ 🔑"), uniqueId("a/b%2Fc"), uniqueId("sp ace+plus?q=1#h")]) {
        for (const key of ["a/b", "k e y", "%2F", "ü🙂", "...", ".a"]) {
          await api.kv.set({ id, key, value: `${id}|${key}` });
          assert.is(await api.kv.get({ id, key }), `${id}|${key}`);
        }
        assert.equal(await api.kv.keys({ id }), ["%2F", "...", ".a", "a/b", "k e y", "ü🙂"]);
      }
    });

    it("kv: a 1 MiB value round-trips unchanged", async ({ api }) => {
      const id = uniqueId("kv");
      const value = {
        text: "x".repeat(512 * 1024),
        list: Array.from({ length: 20_000 }, (_, i) => ({ i, s: `v${i}`, f: i / 7 })),
        zOrderKept: { z: 1, a: 2, m: 3 },
      };
      assert.ok(JSON.stringify(value).length > 1024 * 1024);
      await api.kv.set({ id, key: "big", value });
      const back = await api.kv.get({ id, key: "big" });
      assert.is(JSON.stringify(back), JSON.stringify(value));
    });

    it.run();
  }
}

for (const backend of BACKENDS) {
  const it = runnerSuite("KVStore many keys", backend);

  it("kv: 10,000 keys on one id are all listed", async ({ api }) => {
    const id = uniqueId("kv");
    const keys = Array.from({ length: 10_000 }, (_, i) => `key-${String(i).padStart(5, "0")}`);
    let next = 0;
    // 64 clients in flight: the entity still applies one call at a time.
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < keys.length) {
          const key = keys[next++] as string;
          await api.kv.set({ id, key, value: key.length });
        }
      }),
    );
    assert.equal(await api.kv.keys({ id }), keys);
    assert.is(await api.kv.get({ id, key: "key-09999" }), 9);
  });

  it.run();
}
