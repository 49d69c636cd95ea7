import { z } from "zod";
import { rpc } from "./entity.ts";
import { NonNegativeInt, Timestamp } from "./values.ts";

/**
 * The RPCs of the framework's generic traits, declared once: an entity that mixes a trait in
 * spreads its declarations into its own (`entity("X", "/x/{id}", { ...auditable, … })`).
 */

export const AuditEntry = z.object({ action: z.string(), details: z.string().nullable(), timestamp: Timestamp });
export type AuditEntry = z.infer<typeof AuditEntry>;

/** Trait `Auditable`. */
export const auditable = {
  auditLog: rpc("GET /audit-log", {}, z.array(AuditEntry)),
};

/** Trait `Versioned`. */
export const versioned = {
  version: rpc("GET /version", {}, NonNegativeInt),
};
