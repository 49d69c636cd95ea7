import { z } from "zod";
import { entity, rpc } from "./entity.ts";
import { auditable, versioned } from "./traits.ts";
import { Null } from "./values.ts";

export const trait = entity("TraitTest", "/trait/{id}", {
  update: rpc("POST /update", { data: z.string() }, Null),
  get: rpc("GET", {}, z.string()),
  ...auditable,
  ...versioned,
});
