import { connect } from "node:net";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { MAX_ID_LENGTH } from "../../contract/index.ts";
import { createClient } from "../../src/client.ts";
import type { Runner } from "../../src/runner.ts";
import { BACKENDS } from "../support/backends.ts";
import { uniqueId } from "../support/unique-id.ts";

const MAX_BODY = 64 * 1024;

interface Case {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly body?: string | Uint8Array;
  readonly headers?: Record<string, string>;
  readonly status: number;
  /** The error message must name the problem. */
  readonly error: RegExp;
}

const id = uniqueId("bad");
const cases: Case[] = [
  { name: "invalid JSON", method: "POST", path: `/counter/${id}/increment`, body: "{not json", status: 400, error: /invalid JSON/ },
  { name: "string as increment", method: "POST", path: `/counter/${id}/increment`, body: '"abc"', status: 400, error: /amount/ },
  { name: "float as increment", method: "POST", path: `/counter/${id}/increment`, body: "1.5", status: 400, error: /amount/ },
  { name: "2^53 as increment", method: "POST", path: `/counter/${id}/increment`, body: "9007199254740992", status: 400, error: /2\^53/ },
  { name: "2^53+1 as increment", method: "POST", path: `/counter/${id}/increment`, body: "9007199254740993", status: 400, error: /2\^53/ },
  {
    name: "−(2^53+1) as decrement",
    method: "POST",
    path: `/counter/${id}/decrement`,
    body: "-9007199254740993",
    status: 400,
    error: /2\^53/,
  },
  { name: "huge exponent", method: "POST", path: `/counter/${id}/increment`, body: "1e400", status: 400, error: /amount/ },
  { name: "missing increment body", method: "POST", path: `/counter/${id}/increment`, status: 400, error: /missing JSON body/ },
  { name: "object as increment", method: "POST", path: `/counter/${id}/increment`, body: '{"amount":1}', status: 400, error: /amount/ },
  { name: "reset with a body", method: "POST", path: `/counter/${id}/reset`, body: "5", status: 400, error: /no body/ },
  { name: "kv set without value", method: "POST", path: `/kv/${id}/set`, body: '{"key":"a"}', status: 400, error: /value/ },
  { name: "kv set without key", method: "POST", path: `/kv/${id}/set`, body: '{"value":1}', status: 400, error: /key/ },
  { name: "kv set with numeric key", method: "POST", path: `/kv/${id}/set`, body: '{"key":5,"value":1}', status: 400, error: /key/ },
  { name: "kv set with array body", method: "POST", path: `/kv/${id}/set`, body: "[1,2]", status: 400, error: /object/ },
  {
    name: "kv set with inexact integer value",
    method: "POST",
    path: `/kv/${id}/set`,
    body: '{"key":"a","value":{"n":[123456789012345678901]}}',
    status: 400,
    error: /2\^53/,
  },
  {
    name: "kv set nested too deep",
    method: "POST",
    path: `/kv/${id}/set`,
    body: `{"key":"a","value":${"[".repeat(200)}${"]".repeat(200)}}`,
    status: 400,
    error: /deeper/,
  },
  { name: "kv set with empty key", method: "POST", path: `/kv/${id}/set`, body: '{"key":"","value":1}', status: 400, error: /key/ },
  {
    name: "kv set with dot-segment key",
    method: "POST",
    path: `/kv/${id}/set`,
    body: '{"key":"..","value":1}',
    status: 400,
    error: /"\."/,
  },
  {
    name: "id over the length limit",
    method: "POST",
    path: `/counter/${"x".repeat(MAX_ID_LENGTH + 1)}/increment`,
    body: "1",
    status: 400,
    error: /id/,
  },
  { name: "unknown route", method: "GET", path: "/nope", status: 404, error: /no route/ },
  { name: "unknown entity route", method: "POST", path: `/counter/${id}/explode`, body: "1", status: 404, error: /no route/ },
  { name: "wrong method", method: "GET", path: `/counter/${id}/increment`, status: 405, error: /POST/ },
  { name: "wrong method on kv delete", method: "POST", path: `/kv/${id}/delete/a`, status: 405, error: /DELETE/ },
  {
    name: "oversize body",
    method: "POST",
    path: `/kv/${id}/set`,
    body: JSON.stringify({ key: "a", value: "x".repeat(MAX_BODY) }),
    status: 413,
    error: /larger than/,
  },
  {
    name: "idempotency key too long",
    method: "POST",
    path: `/counter/${id}/increment`,
    body: "1",
    headers: { "idempotency-key": "k".repeat(300) },
    status: 400,
    error: /Idempotency-Key/,
  },
  { name: "bad query value", method: "GET", path: "/debug/entities?local=maybe", status: 400, error: /local/ },
  { name: "tRPC unknown procedure", method: "POST", path: "/trpc/counter.explode", body: "{}", status: 404, error: /./ },
  // Found by the hostile-input corpus (tests/cluster/hostile-input.test.ts):
  // U+0000 in an id reached Postgres (503, or a 30 s retry loop when forwarded) …
  { name: "NUL in an id", method: "POST", path: `/counter/a%00${id}/increment`, body: "1", status: 400, error: /U\+0000/ },
  {
    name: "tRPC NUL in an id",
    method: "POST",
    path: "/trpc/counter.increment",
    body: '{"id":"a\\u0000b","amount":1}',
    status: 400,
    error: /U\+0000/,
  },
  // … an unpaired surrogate became U+FFFD on the way to storage or to a peer: another entity, another shard …
  {
    name: "tRPC lone surrogate in an id",
    method: "POST",
    path: "/trpc/counter.increment",
    body: '{"id":"\\ud800","amount":1}',
    status: 400,
    error: /surrogate/,
  },
  {
    name: "lone surrogate in a kv key",
    method: "POST",
    path: `/kv/${id}/set`,
    body: '{"key":"\\udc00","value":1}',
    status: 400,
    error: /surrogate/,
  },
  { name: "NUL in a kv key", method: "POST", path: `/kv/${id}/set`, body: '{"key":"a\\u0000","value":1}', status: 400, error: /U\+0000/ },
  // … malformed percent-encoding was kept as literal text, so /counter/%FF was /counter/%25FF …
  { name: "invalid UTF-8 escape in an id", method: "GET", path: "/counter/%FF", status: 400, error: /percent-encoded UTF-8/ },
  {
    name: "truncated escape in an id",
    method: "POST",
    path: `/counter/${id}%2/increment`,
    body: "1",
    status: 400,
    error: /percent-encoded/,
  },
  { name: "invalid UTF-8 escape in a key", method: "GET", path: `/kv/${id}/get/%C0%AF`, status: 400, error: /key/ },
  // … invalid UTF-8 in a body was decoded to U+FFFD and stored …
  {
    name: "invalid UTF-8 in a body",
    method: "POST",
    path: `/kv/${id}/set`,
    body: Buffer.concat([Buffer.from('{"key":"'), Buffer.from([0xc3, 0x28]), Buffer.from('","value":1}')]),
    status: 400,
    error: /UTF-8/,
  },
  // … and a bad Idempotency-Key on /trpc was an internal error (500) carrying a stack trace.
  {
    name: "tRPC idempotency key too long",
    method: "POST",
    path: "/trpc/counter.increment",
    body: JSON.stringify({ id, amount: 1 }),
    headers: { "idempotency-key": "k".repeat(300) },
    status: 400,
    error: /Idempotency-Key/,
  },
];

for (const backend of BACKENDS) {
  const it = suite<{ runner?: Runner }>(`Bad input [${backend.name}]`, {});
  it.before(async (ctx) => {
    ctx.runner = await backend.start({ MAX_BODY_BYTES: String(MAX_BODY) });
    const api = createClient(ctx.runner.url);
    await api.counter.increment({ id, amount: 10 });
    await api.kv.set({ id, key: "a", value: "kept" });
  });
  it.after(async (ctx) => {
    await ctx.runner?.stop();
  });

  for (const c of cases) {
    it(`${c.name} → ${c.status} JSON naming the problem`, async ({ runner }) => {
      const url = `${runner?.url}${c.path}`;
      const response = await fetch(url, { method: c.method, body: c.body, headers: { "content-type": "application/json", ...c.headers } });
      assert.is(response.status, c.status);
      assert.match(response.headers.get("content-type") ?? "", /application\/json/);
      const body = (await response.json()) as { error?: unknown };
      const message = typeof body.error === "string" ? body.error : JSON.stringify(body.error);
      assert.match(message, c.error);
    });
  }

  it("an HTTP/1.0 request without a Host header (a health checker) is served", async ({ runner }) => {
    const { hostname, port } = new URL(runner?.url as string);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.end("GET /health HTTP/1.0\r\n\r\n"));
      let text = "";
      socket.on("data", (chunk) => (text += chunk.toString("latin1")));
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    assert.match(answer, /^HTTP\/1\.[01] 200 /);
  });

  it("nothing changed and the runner is alive", async ({ runner }) => {
    const api = createClient(runner?.url as string);
    assert.is((await api.system.health({})).status, "ok");
    assert.is(await api.counter.get({ id }), 10);
    assert.equal(await api.kv.keys({ id }), ["a"]);
    assert.is(await api.kv.get({ id, key: "a" }), "kept");
  });

  it("error answers carry no stack traces", async ({ runner }) => {
    const response = await fetch(`${runner?.url}/trpc/counter.increment`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"id":5}',
    });
    assert.is(response.status, 400);
    assert.not.match(await response.text(), /stack|\.ts:\d+/);
  });

  it("the framework refuses ids that storage cannot hold, whoever calls", async ({ runner }) => {
    for (const bad of ["a\u0000b", "\ud800"]) {
      try {
        await runner?.cluster.call("Counter", bad, "get", {});
        assert.unreachable(`id ${JSON.stringify(bad)} was accepted`);
      } catch (error) {
        assert.is((error as { code?: string }).code, "BAD_REQUEST");
      }
    }
  });

  it("reset accepts {}, null and an empty body", async ({ runner }) => {
    const api = createClient(runner?.url as string);
    const other = uniqueId("reset");
    for (const body of ["{}", "null", "", " "]) {
      await api.counter.increment({ id: other, amount: 3 });
      const response = await fetch(`${runner?.url}/counter/${encodeURIComponent(other)}/reset`, { method: "POST", body });
      assert.is(response.status, 200, `body ${JSON.stringify(body)}`);
      assert.is(await response.text(), "null");
      assert.is(await api.counter.get({ id: other }), 0);
    }
  });

  it("an id of exactly the length limit works", async ({ runner }) => {
    const api = createClient(runner?.url as string);
    const prefix = uniqueId("long");
    const longest = prefix + "é".repeat(MAX_ID_LENGTH - prefix.length);
    assert.is(await api.counter.increment({ id: longest, amount: 2 }), 2);
    assert.is(await api.counter.get({ id: longest }), 2);
  });

  it.run();
}
