import { z } from "zod";
import { entity, rpc } from "./entity.ts";
import { NonNegativeInt, Null, Timestamp } from "./values.ts";

export const AuditEntry = z.object({ action: z.string(), details: z.string().nullable(), timestamp: Timestamp });
export type AuditEntry = z.infer<typeof AuditEntry>;

export const trait = entity("TraitTest", "/trait/{id}", {
  update: rpc("POST /update", { data: z.string() }, Null),
  get: rpc("GET", {}, z.string()),
  auditLog: rpc("GET /audit-log", {}, z.array(AuditEntry)),
  version: rpc("GET /version", {}, NonNegativeInt),
});
