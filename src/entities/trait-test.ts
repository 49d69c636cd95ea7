import { z } from "zod";
import { trait } from "../../contract/index.ts";
import { Auditable, defineEntity, Versioned } from "../cluster/index.ts";

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
