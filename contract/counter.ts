import { entity, rpc } from "./entity.ts";
import { Null, SafeInt } from "./values.ts";

export const counter = entity("Counter", "/counter/{id}", {
  increment: rpc("POST /increment", { amount: SafeInt }, SafeInt, { body: { field: "amount" } }),
  decrement: rpc("POST /decrement", { amount: SafeInt }, SafeInt, { body: { field: "amount" } }),
  get: rpc("GET", {}, SafeInt),
  reset: rpc("POST /reset", {}, Null),
});
