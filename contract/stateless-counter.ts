import { entity, rpc } from "./entity.ts";
import { Null, SafeInt } from "./values.ts";

/** Counter's routes, over an entity without framework state: the value lives in an application table. */
export const statelessCounter = entity("StatelessCounter", "/stateless-counter/{id}", {
  increment: rpc("POST /increment", { amount: SafeInt }, SafeInt, { body: { field: "amount" } }),
  decrement: rpc("POST /decrement", { amount: SafeInt }, SafeInt, { body: { field: "amount" } }),
  get: rpc("GET", {}, SafeInt),
  reset: rpc("POST /reset", {}, Null),
});
