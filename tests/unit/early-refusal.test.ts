/**
 * The HTTP entry's early refusal: while the runner's entry bound is reached, a REST entity call is
 * answered 503 overloaded at the door, as the app would answer it; operational routes and tRPC
 * (its clients expect tRPC's error shape) always reach the app, and so does a method no entity
 * route takes (bad input, answered 4xx).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { earlyRefusal } from "../../src/api/early-refusal.ts";
import type { ApiServices } from "../../src/api/services.ts";
import { Admission } from "../../src/cluster/index.ts";

interface Answer {
  status?: number;
  headers?: Record<string, string | number>;
  body?: string;
}

function fixture(maxInflight: number) {
  const refused: string[] = [];
  const observed: [string, string, number][] = [];
  const admission = new Admission({ mailboxLimit: Number.POSITIVE_INFINITY, maxInflight, onRefused: (r) => refused.push(r) });
  const services = {
    refusalNow: () => admission.refusalNow(),
    observeRequest: (method: string, route: string, status: number) => observed.push([method, route, status]),
  } as unknown as ApiServices;
  const gate = earlyRefusal(services, 1024);
  if (!gate) throw new Error("no early refusal with an entry bound");
  const send = (method: string, url: string, headers: Record<string, string> = {}): Answer | undefined => {
    const answer: Answer = {};
    const res = {
      writeHead: (status: number, headers: Record<string, string | number>) => Object.assign(answer, { status, headers }),
      end: (body: string) => Object.assign(answer, { body }),
    } as unknown as ServerResponse;
    return gate({ method, url, headers } as unknown as IncomingMessage, res) ? answer : undefined;
  };
  return { admission, send, refused, observed };
}

test("with room, every request reaches the app", () => {
  const { send, refused } = fixture(1);
  assert.is(send("POST", "/counter/a/increment"), undefined);
  assert.equal(refused, []);
});

test("at the bound, entity calls are refused 503 overloaded with Retry-After, counted; health, metrics, admin and docs are not", async () => {
  const { admission, send, refused, observed } = fixture(1);
  let release = () => {};
  const held = admission.admit(0, "Counter/x", () => new Promise<void>((resolve) => (release = resolve)));
  for (const url of ["/counter/a/increment", "/counter/a?x=1", "/kv/k/set"]) {
    const answer = send("POST", url);
    assert.is(answer?.status, 503, url);
    assert.is(answer?.headers?.["Retry-After"], "1");
    const body = JSON.parse(answer?.body ?? "{}") as { error: string; retry_after_ms: number; reason: string };
    assert.is(body.error, "overloaded");
    assert.ok(body.retry_after_ms > 0);
    assert.match(body.reason, /MAX_INFLIGHT 1/);
    assert.is(answer?.headers?.["content-length"], Buffer.byteLength(answer?.body ?? ""));
    assert.match(String(answer?.headers?.traceresponse), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    assert.is(answer?.headers?.connection, undefined, "a small body is drained, the connection kept");
  }
  // A body it will not read may be large: the connection is closed rather than drained without end.
  assert.is(send("POST", "/counter/a/increment", { "content-length": "1000000" })?.headers?.connection, "close");
  assert.is(send("POST", "/counter/a/increment", { "transfer-encoding": "chunked" })?.headers?.connection, "close");
  // The caller's trace is kept.
  const traced = send("POST", "/counter/a/increment", { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
  assert.match(String(traced?.headers?.traceresponse), /^00-4bf92f3577b34da6a3ce929d0e0e4736-/);
  assert.is(send("GET", "/counter/a")?.status, 503, "a query is an entity call too");
  // A method no entity route takes is bad input: the app answers it (4xx), overload or not.
  for (const method of ["BREW", "DELETE", "PATCH"]) assert.is(send(method, "/counter/a/increment"), undefined, method);
  for (const url of ["/health", "/ready", "/metrics", "/admin/runners", "/trpc/counter.increment", "/docs", "/", "/counterfeit/a"]) {
    assert.is(send("GET", url), undefined, url);
  }
  assert.equal(refused.length, 7);
  assert.ok(refused.every((r) => r === "inflight"));
  assert.equal(observed[0], ["POST", "refused", 503]);
  release();
  await held;
  assert.is(send("POST", "/counter/a/increment"), undefined, "room again once the call in flight ends");
});

test("without an entry bound there is no early refusal", () => {
  assert.is(earlyRefusal({} as ApiServices, 1024), undefined);
});

test.run();
