import { z } from "zod";
import { defineTrait, type MutationEvent } from "./trait.ts";

export const AuditEntry = z.object({ action: z.string(), details: z.string().nullable(), timestamp: z.iso.datetime() });
export type AuditEntry = z.infer<typeof AuditEntry>;

/** The arguments of the mutation as JSON, or null when it took none. */
function details(event: MutationEvent): string | null {
  return Object.keys(event.args).length === 0 ? null : JSON.stringify(event.args);
}

/**
 * An audit log of the entity's mutations: one entry per mutation that succeeded (and per timer
 * fire), naming the action, with its arguments and the turn's time, committed with the mutation.
 * Provides the `auditLog` query.
 */
export const Auditable = defineTrait({
  name: "Auditable",
  state: z.object({ audit_log: z.array(AuditEntry) }),
  initial: () => ({ audit_log: [] }),
  rpcs: {
    auditLog: { kind: "query", handler: (s) => s.audit_log },
  },
  afterMutation: (s, event, ctx) => {
    s.audit_log.push({ action: event.action, details: details(event), timestamp: ctx.now.toISOString() });
  },
});
