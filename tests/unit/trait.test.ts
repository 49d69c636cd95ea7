import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { EntityRuntime } from "../../src/cluster/entity/runtime.ts";
import {
  Auditable,
  badRequest,
  DefinitionError,
  defineEntity,
  defineTrait,
  silentLogger,
  type Trait,
  Versioned,
} from "../../src/cluster/index.ts";
import { AuditEntry } from "../../src/cluster/traits/auditable.ts";
import { callOf } from "../support/call.ts";
import { MemoryStore } from "../support/memory-store.ts";

const none = z.object({});
const protocol = {
  type: "Doc",
  rpcs: {
    set: { kind: "mutation" as const, args: z.object({ text: z.string() }), output: z.null() },
    setThenFail: { kind: "mutation" as const, args: z.object({ text: z.string() }), output: z.null() },
    setLater: { kind: "mutation" as const, args: z.object({ text: z.string() }), output: z.null() },
    read: { kind: "query" as const, args: none, output: z.string() },
    auditLog: { kind: "query" as const, args: none, output: z.array(AuditEntry) },
    version: { kind: "query" as const, args: none, output: z.number() },
  },
};

const Doc = defineEntity(protocol, {
  state: z.object({ text: z.string() }),
  initial: () => ({ text: "" }),
  traits: [Auditable, Versioned],
  handlers: {
    set: (s, { text }) => {
      s.text = text;
      return null;
    },
    setThenFail: (s, { text }) => {
      s.text = text;
      throw badRequest("refused after changing state");
    },
    setLater: async (s, { text }) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      s.text = text;
      return null;
    },
    read: (s) => s.text,
  },
});

function setup() {
  const store = new MemoryStore();
  const runtime = new EntityRuntime({ store, log: silentLogger, idleMs: 60_000 });
  runtime.register(Doc);
  const doc = (id: string) => ({
    call: (rpc: string, args: object = {}) => runtime.call(callOf({ type: "Doc", id, shard: 0 }, rpc, args)),
    stored: () => JSON.parse(store.rows.get(`Doc/${id}`)?.json ?? "null") as Record<string, unknown> | null,
  });
  return { store, doc };
}

test("trait RPCs answer on the entity; hooks run after each successful mutation, in trait order, not after queries", async () => {
  const { doc } = setup();
  const d = doc("a");
  assert.is(await d.call("version"), 0);
  assert.equal(await d.call("auditLog"), []);
  await d.call("set", { text: "one" });
  await d.call("set", { text: "two" });
  await d.call("read");
  assert.is(await d.call("read"), "two");
  assert.is(await d.call("version"), 2);
  const log = (await d.call("auditLog")) as AuditEntry[];
  assert.equal(
    log.map((e) => [e.action, e.details]),
    [
      ["set", '{"text":"one"}'],
      ["set", '{"text":"two"}'],
    ],
  );
  for (const e of log) assert.ok(AuditEntry.safeParse(e).success, JSON.stringify(e));
});

test("trait state is stored next to the entity's, committed in the same write", async () => {
  const { store, doc } = setup();
  const d = doc("b");
  await d.call("set", { text: "x" });
  assert.is(store.commits, 1);
  const stored = d.stored();
  assert.equal(Object.keys(stored ?? {}), ["text", "audit_log", "version"]);
  assert.is(stored?.text, "x");
  assert.is(stored?.version, 1);
});

test("a mutation that throws changes neither the entity's state nor its traits'; its batch neighbours keep theirs", async () => {
  const { doc } = setup();
  const d = doc("c");
  const results = await Promise.allSettled([
    d.call("set", { text: "1" }),
    d.call("setThenFail", { text: "2" }),
    d.call("setLater", { text: "3" }),
    d.call("setThenFail", { text: "4" }),
  ]);
  assert.equal(
    results.map((r) => r.status),
    ["fulfilled", "rejected", "fulfilled", "rejected"],
  );
  assert.is(await d.call("read"), "3");
  assert.is(await d.call("version"), 2);
  assert.equal(
    ((await d.call("auditLog")) as AuditEntry[]).map((e) => e.details),
    ['{"text":"1"}', '{"text":"3"}'],
  );
  assert.equal(d.stored()?.version, 2);
});

test("state stored before a trait was mixed in loads with the trait's initial state", async () => {
  const { store, doc } = setup();
  store.rows.set("Doc/d", { json: JSON.stringify({ text: "old" }), version: 7 });
  const d = doc("d");
  assert.is(await d.call("read"), "old");
  assert.is(await d.call("version"), 0);
  await d.call("set", { text: "new" });
  assert.equal(d.stored(), { text: "new", audit_log: (await d.call("auditLog")) as AuditEntry[], version: 1 });
});

// ---- definition-time errors ----

const Counted = defineTrait({
  name: "Counted",
  state: z.object({ count: z.number() }),
  initial: () => ({ count: 0 }),
  rpcs: {
    version: { kind: "query", handler: (s) => s.count },
    reset: { kind: "mutation", handler: (s) => (s.count = 0) },
  },
  afterMutation: (s) => {
    s.count++;
  },
});
const Shadow = defineTrait({
  name: "Shadow",
  state: z.object({ text: z.string() }),
  initial: () => ({ text: "" }),
  rpcs: {},
});

/** defineEntity with loose types: the type checker already refuses most of these. */
function define(options: { traits?: readonly Trait[]; handlers?: object; state?: z.ZodType; rpcs?: object }) {
  const handlers = { set: () => null, setThenFail: () => null, setLater: () => null, read: () => "", ...options.handlers };
  return defineEntity({ type: "Doc", rpcs: { ...protocol.rpcs, ...options.rpcs } }, {
    state: options.state ?? z.object({ text: z.string() }),
    initial: () => ({ text: "" }),
    traits: options.traits,
    handlers,
  } as never);
}

test("two traits providing one RPC: a definition error naming both", () => {
  assert.throws(
    () => define({ traits: [Auditable, Versioned, Counted] }),
    (e: Error) => {
      return e instanceof DefinitionError && /RPC version is provided by both trait Versioned and trait Counted/.test(e.message);
    },
  );
});

test("a trait claiming a state key of the entity (or of another trait): a definition error", () => {
  assert.throws(
    () => define({ traits: [Auditable, Versioned, Shadow] }),
    /state key "text" is claimed by both entity Doc and trait Shadow/,
  );
  const SecondVersion = defineTrait({
    name: "SecondVersion",
    state: z.object({ version: z.string() }),
    initial: () => ({ version: "" }),
    rpcs: {},
  });
  assert.throws(
    () => define({ traits: [Auditable, Versioned, SecondVersion] }),
    /"version" is claimed by both trait Versioned and trait SecondVersion/,
  );
});

test("an entity handler for an RPC a trait provides: a definition error, not an override", () => {
  assert.throws(
    () => define({ traits: [Auditable, Versioned], handlers: { version: () => 99 } }),
    /RPC version has a handler and is also provided by trait Versioned/,
  );
});

test("trait RPCs must be declared by the protocol, with the same kind", () => {
  const rpcs = { reset: { kind: "query" as const, args: none, output: z.number() } };
  assert.throws(() => define({ traits: [Auditable, Counted] }), /trait Counted provides RPC reset, which the protocol does not declare/);
  assert.throws(
    () => define({ traits: [Auditable, Counted], rpcs }),
    /RPC reset is a query in the protocol but a mutation in trait Counted/,
  );
});

test("other definition errors: missing handler, handler for no RPC, non-object state with traits", () => {
  assert.throws(() => define({ traits: [Auditable] }), /no handler for RPC version/);
  assert.throws(
    () => define({ traits: [Auditable, Versioned], handlers: { nope: () => 1 } }),
    /handler nope is not an RPC of its protocol/,
  );
  assert.throws(() => define({ traits: [Auditable, Versioned], state: z.string() }), /must be a z.object/);
});

test("a trait's own mutation runs without triggering the hooks; the entity's mutations do trigger them", async () => {
  const protocolWithReset = {
    type: "Tally",
    rpcs: { ...protocol.rpcs, reset: { kind: "mutation" as const, args: none, output: z.number() } },
  };
  const Tally = defineEntity(protocolWithReset, {
    state: z.object({ text: z.string() }),
    initial: () => ({ text: "" }),
    traits: [Auditable, Counted],
    handlers: { set: () => null, setThenFail: () => null, setLater: async () => null, read: (s) => s.text },
  });
  const runtime = new EntityRuntime({ store: new MemoryStore(), log: silentLogger, idleMs: 60_000 });
  runtime.register(Tally);
  const at = { type: "Tally", id: "t", shard: 0 };
  await runtime.call(callOf(at, "set", { text: "a" }));
  await runtime.call(callOf(at, "setLater", { text: "b" }));
  assert.is(await runtime.call(callOf(at, "version", {})), 2);
  await runtime.call(callOf(at, "reset", {}));
  assert.is(await runtime.call(callOf(at, "version", {})), 0);
  assert.is(((await runtime.call(callOf(at, "auditLog", {}))) as AuditEntry[]).length, 2);
});

test.run();
