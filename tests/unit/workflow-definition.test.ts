import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { EntityRuntime } from "../../src/cluster/entity/runtime.ts";
import { ClusterError, defineEntity, type EntityDefinitionInput, silentLogger } from "../../src/cluster/index.ts";
import type { StateStore } from "../../src/cluster/storage/entity-state/store.ts";
import { callOf } from "../support/call.ts";

const protocol = {
  type: "Flow",
  rpcs: {
    go: { kind: "mutation", workflow: true, args: z.object({ exec_id: z.string().min(1) }), output: z.string() },
    peek: { kind: "query", args: z.object({}), output: z.number() },
  },
} as const;

const definition: EntityDefinitionInput<typeof protocol, { n: number }, []> = {
  state: z.object({ n: z.number() }),
  initial: () => ({ n: 0 }),
  handlers: { peek: (s) => s.n },
  workflows: { go: { execId: (a) => a.exec_id, run: async () => "done" } },
};

const unusedStore: StateStore = {
  load: () => Promise.reject(new Error("not used")),
  commit: () => Promise.reject(new Error("not used")),
  findReplies: () => Promise.reject(new Error("not used")),
  pruneReplies: () => Promise.reject(new Error("not used")),
  begin: () => Promise.reject(new Error("not used")),
};

test("workflow RPCs of the protocol become workflows; the others keep their handlers", () => {
  const type = defineEntity(protocol, definition);
  assert.is(type.rpcs.get("go")?.kind, "workflow");
  assert.is(type.rpcs.get("peek")?.kind, "query");
});

test("a workflow RPC without a workflow definition is refused at definition time", () => {
  const missing = { ...definition, workflows: {} } as unknown as typeof definition;
  assert.throws(() => defineEntity(protocol, missing), /no workflow for RPC go/);
});

test("a runtime without workflow storage validates arguments, then answers NOT_IMPLEMENTED", async () => {
  const runtime = new EntityRuntime({ store: unusedStore, log: silentLogger, idleMs: 60_000 });
  runtime.register(defineEntity(protocol, definition));
  const address = { type: "Flow", id: "f", shard: 0 };
  const invalid = await runtime.call(callOf(address, "go", { exec_id: "" })).catch((e: unknown) => e);
  assert.instance(invalid, ClusterError);
  assert.is((invalid as ClusterError).code, "BAD_REQUEST");
  const unsupported = await runtime.call(callOf(address, "go", { exec_id: "e" })).catch((e: unknown) => e);
  assert.instance(unsupported, ClusterError);
  assert.is((unsupported as ClusterError).code, "NOT_IMPLEMENTED");
});

test.run();
