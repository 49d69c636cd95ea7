import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient } from "../../src/client.ts";
import type { Runner } from "../../src/runner.ts";
import { BACKENDS } from "../support/backends.ts";
import { uniqueId } from "../support/unique-id.ts";

/** `cluster_calls_refused_total{reason}` as the runner's /metrics has it (0 before the first). */
async function refusals(url: string, reason: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`cluster_calls_refused_total{reason="${reason}"}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

for (const backend of BACKENDS) {
  const it = suite<{ runner?: Runner }>(`Bounded work: 503 overloaded [${backend.name}]`, {});
  it.before(async (ctx) => {
    ctx.runner = await backend.start({ MAILBOX_LIMIT: "2" });
  });
  it.after(async (ctx) => {
    await ctx.runner?.stop();
  });

  it("a full mailbox answers 503 {error: overloaded, retry_after_ms} with Retry-After; refused calls change nothing and retry safely", async ({
    runner,
  }) => {
    const url = runner?.url as string;
    const api = createClient(url);
    // Many increments of one counter at once: while a commit runs, the rest queue in its
    // mailbox, and past MAILBOX_LIMIT (2) they are refused.
    for (let round = 1; round <= 5; round++) {
      const id = uniqueId("ov");
      const keys = Array.from({ length: 100 }, (_, i) => `${id}-${i}`);
      const send = (key: string) =>
        fetch(`${url}/counter/${id}/increment`, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": key },
          body: "1",
        });
      const before = await refusals(url, "mailbox");
      const responses = await Promise.all(keys.map(send));
      const refused = responses.flatMap((r, i) => (r.status === 503 ? [i] : []));
      assert.is(await refusals(url, "mailbox"), before + refused.length, "each refusal is counted in /metrics");
      const admitted = responses.filter((r) => r.status === 200).length;
      assert.is(admitted + refused.length, keys.length, `statuses: ${[...new Set(responses.map((r) => r.status))]}`);
      // Every admitted call applied once; no refused one applied.
      assert.is(await api.counter.get({ id }), admitted);
      if (refused.length === 0) continue;
      for (const i of refused) {
        const response = responses[i] as Response;
        assert.is(response.headers.get("retry-after"), "1");
        const body = (await response.json()) as { error: string; retry_after_ms: number; reason: string };
        assert.is(body.error, "overloaded");
        assert.ok(body.retry_after_ms > 0);
        assert.match(body.reason, /MAILBOX_LIMIT 2/);
      }
      // Retried one at a time with their keys, the refused calls apply exactly once each.
      for (const i of refused) assert.is((await send(keys[i] as string)).status, 200);
      for (const i of refused.slice(0, 3)) assert.is((await send(keys[i] as string)).status, 200, "a replay is answered, not applied");
      assert.is(await api.counter.get({ id }), keys.length);
      return;
    }
    assert.unreachable("no round filled the mailbox");
  });

  it.run();

  const busy = suite<{ runner?: Runner }>(`Bounded work: calls in flight per runner [${backend.name}]`, {});
  busy.before(async (ctx) => {
    ctx.runner = await backend.start({ MAX_INFLIGHT: "1" });
  });
  busy.after(async (ctx) => {
    await ctx.runner?.stop();
  });
  busy(
    "past MAX_INFLIGHT a call to any entity is refused with 503 before it is routed; the admitted ones apply once",
    async ({ runner }) => {
      const url = runner?.url as string;
      const api = createClient(url);
      const ids = Array.from({ length: 30 }, () => uniqueId("inflight"));
      const responses = await Promise.all(
        ids.map((id) =>
          fetch(`${url}/counter/${id}/increment`, { method: "POST", headers: { "content-type": "application/json" }, body: "1" }),
        ),
      );
      const refused = responses.filter((r) => r.status === 503);
      assert.ok(refused.length > 0, "at most one call in flight: concurrent calls are refused");
      for (const r of refused) {
        assert.is(r.headers.get("retry-after"), "1");
        assert.match(((await r.json()) as { reason: string }).reason, /MAX_INFLIGHT 1/);
      }
      // One at a time: with MAX_INFLIGHT 1, concurrent reads would be refused too.
      const values: number[] = [];
      for (const id of ids) values.push(await api.counter.get({ id }));
      assert.equal(values.filter((v) => v === 1).length, responses.filter((r) => r.status === 200).length);
      assert.ok(values.every((v) => v === 0 || v === 1));
    },
  );
  busy.run();
}
