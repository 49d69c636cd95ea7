import { z } from "zod";
import { EntityRuntime } from "../../src/cluster/entity/runtime.ts";
import { badRequest, defineEntity, silentLogger } from "../../src/cluster/index.ts";
import type { MemoryStore } from "./memory-store.ts";

/** A list of numbers: what the exactly-once tests count applications with. */
export const Tally = defineEntity(
  {
    type: "Tally",
    rpcs: {
      add: { kind: "mutation" as const, args: z.object({ n: z.number() }), output: z.number() },
      /** Refuses a value it already holds: applied twice, a retry would fail instead of answering. */
      claim: { kind: "mutation" as const, args: z.object({ n: z.number() }), output: z.number() },
      read: { kind: "query" as const, args: z.object({}), output: z.array(z.number()) },
    },
  },
  {
    state: z.object({ items: z.array(z.number()) }),
    initial: () => ({ items: [] }),
    handlers: {
      add: (s, { n }) => s.items.push(n),
      claim: (s, { n }) => {
        if (s.items.includes(n)) throw badRequest(`${n} is taken`);
        return s.items.push(n);
      },
      read: (s) => [...s.items],
    },
  },
);

/** A runtime hosting Tally on `store` (one per owner, in the tests that move entities between them). */
export function tallyRuntime(store: MemoryStore, idleMs = 60_000): EntityRuntime {
  const runtime = new EntityRuntime({ store, log: silentLogger, idleMs });
  runtime.register(Tally);
  return runtime;
}

export const tallyAt = (id: string) => ({ type: "Tally", id, shard: 0 });
