import { z } from "zod";
import { defineTrait } from "./trait.ts";

/**
 * A version number, 0 for a new entity, bumped by every mutation that succeeds (and every timer
 * fire) in the same turn: two reads that see the same version saw the same state. Provides the
 * `version` query.
 */
export const Versioned = defineTrait({
  name: "Versioned",
  state: z.object({ version: z.number().int().nonnegative() }),
  initial: () => ({ version: 0 }),
  rpcs: {
    version: { kind: "query", handler: (s) => s.version },
  },
  afterMutation: (s) => {
    s.version += 1;
  },
});
