import { z } from "zod";
import { trait } from "../../contract/index.ts";
import { defineEntity } from "../cluster/entity/definition.ts";
import { Auditable } from "../cluster/traits/auditable.ts";
import { Versioned } from "../cluster/traits/versioned.ts";

/** Its own state is one string; `auditLog` and `version` (and their state) come from the traits. */
export const TraitTest = defineEntity(trait, {
  state: z.object({ data: z.string() }),
  initial: () => ({ data: "" }),
  traits: [Auditable, Versioned],
  handlers: {
    update: (s, { data }) => {
      s.data = data;
      return null;
    },
    get: (s) => s.data,
  },
});
