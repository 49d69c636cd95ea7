import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { toHttpError } from "../../src/api/http-error.ts";
import { EntityRuntime } from "../../src/cluster/entity/runtime.ts";
import { ClusterError, defineEntity, Overloaded, silentLogger } from "../../src/cluster/index.ts";
import type { RefusalReason } from "../../src/cluster/overload.ts";
import { SoleOwnership } from "../../src/cluster/ownership/ownership.ts";
import { Router } from "../../src/cluster/router.ts";
import type { GrpcTransport } from "../../src/cluster/transport/grpc.ts";
import { decodeReply, errorReply } from "../../src/cluster/transport/wire.ts";
import { callOf } from "../support/call.ts";
import { MemoryStore } from "../support/memory-store.ts";

const protocol = {
  type: "Tally",
  rpcs: {
    add: { kind: "mutation" as const, args: z.object({}), output: z.number() },
    read: { kind: "query" as const, args: z.object({}), output: z.number() },
  },
};
const Tally = defineEntity(protocol, {
  state: z.object({ n: z.number() }),
  initial: () => ({ n: 0 }),
  handlers: { add: (s) => ++s.n, read: (s) => s.n },
});

function setup(mailboxLimit: number, maxInflight: number) {
  const store = new MemoryStore();
  const refused: RefusalReason[] = [];
  const runtime = new EntityRuntime({
    store,
    log: silentLogger,
    idleMs: 60_000,
    admission: { mailboxLimit, maxInflight, onRefused: (reason) => refused.push(reason) },
  });
  runtime.register(Tally);
  const at = (id: string) => ({ type: "Tally", id, shard: 0 });
  const settle = (work: Promise<unknown>) =>
    work.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
  return { store, runtime, at, refused, settle };
}

test("a full mailbox refuses calls at once with OVERLOADED; refused calls are never applied", async () => {
  const { runtime, at, refused, settle, store } = setup(4, 1_000);
  const outcomes = await Promise.all(Array.from({ length: 10 }, () => settle(runtime.call(callOf(at("a"), "add", {})))));
  const admitted = outcomes.filter((o) => "value" in o);
  const refusals = outcomes.flatMap((o) => ("error" in o ? [o.error] : []));
  assert.is(admitted.length, 4);
  assert.is(refusals.length, 6);
  for (const error of refusals) {
    assert.instance(error, Overloaded);
    assert.is((error as Overloaded).code, "OVERLOADED");
    assert.ok((error as Overloaded).retryAfterMs > 0);
    assert.match((error as Error).message, /Tally\/a has 4 calls queued \(MAILBOX_LIMIT 4\)/);
  }
  assert.equal(refused, ["mailbox", "mailbox", "mailbox", "mailbox", "mailbox", "mailbox"]);
  assert.is(await runtime.call(callOf(at("a"), "read", {})), 4);
  assert.is(JSON.parse(store.rows.get("Tally/a")?.json ?? "{}").n, 4);
  // Room again once the queue drained.
  assert.is(await runtime.call(callOf(at("a"), "add", {})), 5);
});

test("the runner's bound on calls in flight refuses calls to any entity", async () => {
  const { runtime, at, refused, settle } = setup(1_000, 3);
  const outcomes = await Promise.all(["a", "b", "c", "d", "e"].map((id) => settle(runtime.call(callOf(at(id), "add", {})))));
  assert.equal(
    outcomes.map((o) => ("value" in o ? o.value : (o.error as ClusterError).code)),
    [1, 1, 1, "OVERLOADED", "OVERLOADED"],
  );
  assert.equal(refused, ["inflight", "inflight"]);
  for (const id of ["d", "e"]) assert.is(await runtime.call(callOf(at(id), "read", {})), 0, id);
});

test("the router hands a refusal straight to its caller: no retry inside the cluster", async () => {
  const { runtime, at, settle } = setup(1, 1_000);
  const router = new Router(new SoleOwnership("test", 1), runtime, undefined, silentLogger);
  const t0 = Date.now();
  const outcomes = await Promise.all(Array.from({ length: 3 }, () => settle(router.call(callOf(at("r"), "add", {})))));
  assert.equal(
    outcomes.map((o) => ("value" in o ? o.value : (o.error as ClusterError).code)),
    [1, "OVERLOADED", "OVERLOADED"],
  );
  assert.ok(Date.now() - t0 < 1_000, "refused at once, not retried with backoff");
});

test("a refusal after an attempt whose outcome is unknown is no refusal: the caller hears UNAVAILABLE (it may still apply)", async () => {
  const { runtime, at, settle } = setup(1, 1_000);
  // The shard is a peer's; its first attempt breaks on the way back (it may have applied), the retry is refused.
  const remote = Object.assign(new SoleOwnership("test", 1), { isLocal: () => false, ownerOf: () => "peer" });
  const answers: Error[] = [new ClusterError("UNAVAILABLE", "stream broke"), new Overloaded("overloaded: peer full", 250)];
  const transport = { call: async () => Promise.reject(answers.shift()) } as unknown as GrpcTransport;
  const outcome = await settle(new Router(remote, runtime, transport, silentLogger).call(callOf(at("u"), "add", {})));
  assert.is((outcome as { error: ClusterError }).error.code, "UNAVAILABLE");
  assert.match((outcome as { error: ClusterError }).error.message, /outcome unknown/);
  // Refused at once, with nothing sent before: a plain refusal.
  answers.push(new Overloaded("overloaded: peer full", 250));
  const refused = await settle(new Router(remote, runtime, transport, silentLogger).call(callOf(at("v"), "add", {})));
  assert.is((refused as { error: ClusterError }).error.code, "OVERLOADED");
});

test("a refusal crosses the wire with its hint, and the API answers 503 overloaded with Retry-After", () => {
  const refusal = new Overloaded("overloaded: Tally/a has 4 calls queued (MAILBOX_LIMIT 4)", 250);
  let decoded: unknown;
  try {
    decodeReply(errorReply(7, refusal));
  } catch (error) {
    decoded = error;
  }
  assert.instance(decoded, Overloaded);
  assert.is((decoded as Overloaded).retryAfterMs, 250);
  const http = toHttpError(decoded);
  assert.is(http.status, 503);
  assert.equal(http.headers, { "Retry-After": "1" });
  assert.equal(http.body(), { error: "overloaded", retry_after_ms: 250, reason: refusal.message });
});

test.run();
