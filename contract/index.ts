/**
 * The whole API surface, declared once. Entity groups carry their entity type; the others are
 * served by the runner itself (singleton host, health, debug).
 */
import { activity } from "./activity.ts";
import { counter } from "./counter.ts";
import { cross } from "./cross.ts";
import { kv } from "./kv.ts";
import type { Procedure } from "./procedure.ts";
import { singleton } from "./singleton.ts";
import { system } from "./system.ts";
import { timer } from "./timer.ts";
import { trait } from "./trait.ts";
import { workflow } from "./workflow.ts";

export const entities = { counter, kv, workflow, activity, trait, timer, cross };
export const services = { singleton, system };
export const contract = { ...entities, ...services };
export type Contract = typeof contract;

/** Every procedure of the contract, with its group: what the adapters and the client iterate. */
export function procedureList(): { group: string; name: string; procedure: Procedure }[] {
  return Object.entries(contract).flatMap(([group, procedures]) => {
    const declared: Record<string, Procedure> = "rpcs" in procedures ? procedures.rpcs : procedures;
    return Object.entries(declared).map(([name, procedure]) => ({ group, name, procedure }));
  });
}

export { ActivityRecord } from "./activity.ts";
export { Message } from "./cross.ts";
export * from "./entity.ts";
export * from "./procedure.ts";
export { LeaderRecord, SINGLETON_NAME, singletonState } from "./singleton.ts";
export { EntityInfo, Health, ShardInfo } from "./system.ts";
export { MAX_TIMER_DELAY_MS, PendingTimer, TimerFire } from "./timer.ts";
export { AuditEntry, auditable, versioned } from "./traits.ts";
export * from "./values.ts";
export { WorkflowExecution } from "./workflow.ts";
export { activity, counter, cross, kv, singleton, system, timer, trait, workflow };
