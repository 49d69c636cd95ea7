import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { DefinitionError, defineActivityGroup, defineEntity } from "../../src/cluster/index.ts";

const protocol = {
  type: "Orders",
  rpcs: { go: { kind: "mutation", args: z.object({}), output: z.string(), workflow: true } },
} as const;
const Inventory = defineActivityGroup("Inventory", { reserve: (n: number) => `r${n}`, confirm: () => "ok" });
const Payments = defineActivityGroup("Payments", { charge: (n: number) => `c${n}` });
const Shipping = defineActivityGroup("Shipping", { confirm: () => "shipped" });
const definition = (groups: Parameters<typeof defineEntity>[1]["activityGroups"]) => ({
  state: z.object({}),
  initial: () => ({}),
  handlers: {},
  activityGroups: groups,
  workflows: { go: { execId: () => "x", run: async () => "done" } },
});

test("groups providing distinct activities compose", () => {
  const type = defineEntity(protocol, definition([Inventory, Payments]));
  assert.is(type.rpcs.get("go")?.kind, "workflow");
});

test("two groups providing one activity name are a DefinitionError when the entity is defined", () => {
  assert.throws(
    () => defineEntity(protocol, definition([Inventory, Shipping])),
    (e: unknown) => {
      return e instanceof DefinitionError && /activity confirm is provided by both group Inventory and group Shipping/.test(e.message);
    },
  );
});

test.run();
