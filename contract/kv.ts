import { z } from "zod";
import { entity, rpc } from "./entity.ts";
import { JsonValue, Name, Null } from "./values.ts";

export const kv = entity("KVStore", "/kv/{id}", {
  set: rpc("POST /set", { key: Name, value: JsonValue }, Null),
  get: rpc("GET /get/{key}", { key: Name }, JsonValue),
  delete: rpc("DELETE /delete/{key}", { key: Name }, z.boolean()),
  keys: rpc("GET /keys", {}, z.array(z.string())),
  clear: rpc("POST /clear", {}, Null),
});
