import { z } from "zod";
import { DefinitionError } from "../errors.ts";
import { EntityTimers, noTimers, timersSection } from "../timers/entity-timers.ts";
import type { FireOutcome, TimerEvent, Timers } from "../timers/timer.ts";
import type { MutationEvent, MutationHook, Trait, TraitApi } from "../traits/trait.ts";
import { type ActivityGroup, composeActivityGroups } from "../workflow/activity-group.ts";
import type { WorkflowDefinition, WorkflowImplementation } from "../workflow/definition.ts";
import type { EntityContext, Handler, TurnContext, TurnHandler, TurnImplementation } from "./context.ts";
import type { EntityProtocol, RpcProtocol } from "./protocol.ts";
import { composeState, type StateSection } from "./state-layout.ts";

/** An RPC that is applied as a turn. */
export type TurnRpc = TurnImplementation & { readonly args: z.ZodType };

/** An RPC that runs as a durable workflow of its entity, outside its mailbox. */
export interface WorkflowRpc {
  readonly kind: "workflow";
  readonly args: z.ZodType;
  readonly workflow: WorkflowImplementation;
}

/** An RPC as the runtime sees it, with types erased: a turn in the mailbox, or a workflow. */
export type RpcImplementation = TurnRpc | WorkflowRpc;

/** An entity type as the runtime sees it. */
export interface EntityType {
  readonly name: string;
  readonly rpcs: ReadonlyMap<string, RpcImplementation>;
  /** Validates state loaded from storage (and fills defaults added since it was written). */
  readonly decodeState: (raw: unknown) => unknown;
  readonly initialState: () => unknown;
  /** The turn that fires a due timer (`{ timer_id }` → FireOutcome), if the entity handles timers. */
  readonly timerFire: TurnRpc | undefined;
}

/** Names of the RPCs the traits `U` (a union) provide. */
type TraitRpcNames<U> = U extends Trait<infer Api> ? keyof Api : never;

/** Trait RPCs whose types do not fit the protocol's declaration of them. */
type Misfits<P extends EntityProtocol, U> =
  U extends Trait<infer Api>
    ? {
        [K in keyof Api]: K extends keyof P["rpcs"]
          ? Api[K]["output"] extends z.input<P["rpcs"][K]["output"]>
            ? z.output<P["rpcs"][K]["args"]> extends Api[K]["args"]
              ? never
              : K
            : K
          : K;
      }[keyof Api]
    : never;

/** Resolves to `unknown` when every trait RPC fits the protocol, else to an explanatory type error. */
type TraitsFit<P extends EntityProtocol, T extends readonly Trait[]> = [Misfits<P, T[number]>] extends [never]
  ? unknown
  : { readonly "trait RPCs missing from the protocol or typed differently": Misfits<P, T[number]> };

type ArgsOf<R extends RpcProtocol> = z.output<R["args"]>;
type ReplyOf<R extends RpcProtocol> = z.input<R["output"]>;
type WorkflowNames<P extends EntityProtocol> = {
  [K in keyof P["rpcs"]]: P["rpcs"][K] extends { readonly workflow: true } ? K : never;
}[keyof P["rpcs"]];

/** A handler for each declared RPC, except workflows and those a trait provides. */
export type Handlers<P extends EntityProtocol, S, Provided extends PropertyKey = never> = {
  readonly [K in Exclude<keyof P["rpcs"], Provided | WorkflowNames<P>>]: Handler<S, ArgsOf<P["rpcs"][K]>, ReplyOf<P["rpcs"][K]>>;
};

/** A definition for every RPC that is a workflow. */
export type Workflows<P extends EntityProtocol, S> = {
  readonly [K in WorkflowNames<P>]: WorkflowDefinition<S, ArgsOf<P["rpcs"][K]>, ReplyOf<P["rpcs"][K]>>;
};

export type EntityDefinitionInput<P extends EntityProtocol, S, T extends readonly Trait[]> = {
  readonly state: z.ZodType<S>;
  readonly initial: () => S;
  /** Traits mixed in, in order: their state sits next to the entity's, their hooks run in this order. */
  readonly traits?: T & TraitsFit<P, T>;
  readonly handlers: Handlers<P, S, TraitRpcNames<T[number]>>;
  /** Runs when one of the entity's timers fires (see `ctx.timers`); a turn like any mutation. */
  readonly onTimer?: Handler<S, TimerEvent, void>;
  /** Activity groups its workflows may `wf.use`; two providing one activity name is a DefinitionError. */
  readonly activityGroups?: readonly ActivityGroup[];
} & ([WorkflowNames<P>] extends [never] ? { readonly workflows?: undefined } : { readonly workflows: Workflows<P, S> });

/**
 * Binds handlers and workflows to an entity's declared RPCs. Every declared RPC needs exactly one
 * implementation: a workflow, the entity's handler or a trait's RPC; two claiming one RPC name or
 * one state key is an error here, at definition time.
 */
export function defineEntity<P extends EntityProtocol, S, const T extends readonly Trait[] = []>(
  protocol: P,
  definition: EntityDefinitionInput<P, S, T>,
): EntityType {
  const entity = protocol.type;
  const traits: readonly Trait<TraitApi>[] = definition.traits ?? [];
  const onTimer = definition.onTimer as Handler<unknown, TimerEvent, void> | undefined;
  const sections: StateSection[] = traits.map((t) => t.section);
  // Workflows need timers too: their durable sleeps and signal timeouts are timers of the entity.
  const hasWorkflows = Object.values(protocol.rpcs).some((r) => r.workflow);
  if (onTimer || hasWorkflows) sections.push(timersSection);
  const layout = composeState(entity, { schema: definition.state, initial: definition.initial }, sections);
  const hooks = traits.flatMap((t) => (t.afterMutation ? [t.afterMutation] : []));
  const withoutTimers = noTimers(entity);
  const context = (
    state: unknown,
    turn: TurnContext,
    writable: boolean,
    timers: Timers = onTimer ? new EntityTimers(state, turn, writable) : withoutTimers,
  ): EntityContext => handlerContext(turn, timers);

  const provided = new Map<string, { trait: string; handler: Handler<unknown, unknown, unknown>; kind: RpcProtocol["kind"] }>();
  for (const trait of traits) {
    for (const [rpc, impl] of trait.rpcs) {
      const other = provided.get(rpc);
      if (other) throw new DefinitionError(`entity ${entity}: RPC ${rpc} is provided by both trait ${other.trait} and trait ${trait.name}`);
      provided.set(rpc, { trait: trait.name, handler: impl.handler, kind: impl.kind });
    }
  }
  const handlers = definition.handlers as Readonly<Record<string, Handler<unknown, unknown, unknown> | undefined>>;
  for (const name of Object.keys(handlers)) {
    if (!Object.hasOwn(protocol.rpcs, name)) throw new DefinitionError(`entity ${entity}: handler ${name} is not an RPC of its protocol`);
  }
  for (const [rpc, by] of provided) {
    const declared = protocol.rpcs[rpc];
    if (!declared)
      throw new DefinitionError(`entity ${entity}: trait ${by.trait} provides RPC ${rpc}, which the protocol does not declare`);
    if (declared.kind !== by.kind) {
      throw new DefinitionError(`entity ${entity}: RPC ${rpc} is a ${declared.kind} in the protocol but a ${by.kind} in trait ${by.trait}`);
    }
    if (handlers[rpc]) throw new DefinitionError(`entity ${entity}: RPC ${rpc} has a handler and is also provided by trait ${by.trait}`);
  }

  const workflows = (definition.workflows ?? {}) as Readonly<Record<string, WorkflowImplementation | undefined>>;
  const groups = composeActivityGroups(entity, definition.activityGroups ?? []);
  const rpcs = new Map<string, RpcImplementation>();
  for (const [rpc, declared] of Object.entries(protocol.rpcs)) {
    if (declared.workflow) {
      const workflow = workflows[rpc];
      if (!workflow) throw new DefinitionError(`entity ${entity}: no workflow for RPC ${rpc}`);
      rpcs.set(rpc, { kind: "workflow", args: declared.args, workflow: { ...workflow, groups } });
      continue;
    }
    const mutation = declared.kind === "mutation";
    const byTrait = provided.get(rpc);
    const own = handlers[rpc];
    let handler: TurnHandler;
    if (byTrait) {
      handler = (state, args, turn) => byTrait.handler(state, args, context(state, turn, mutation));
    } else if (own) {
      handler = (state, args, turn) => {
        const ctx = context(state, turn, mutation);
        const reply = own(state, args, ctx);
        return mutation ? thenRunHooks(reply, hooks, state, { action: rpc, args: args as Record<string, unknown> }, ctx) : reply;
      };
    } else {
      throw new DefinitionError(`entity ${entity}: no handler for RPC ${rpc}`);
    }
    rpcs.set(rpc, { kind: declared.kind, args: declared.args, handler });
  }

  const timerFire: TurnRpc | undefined = onTimer && {
    kind: "mutation",
    args: FireArgs,
    handler: (state, args, turn) => {
      const { timer_id } = args as z.output<typeof FireArgs>;
      const timers = new EntityTimers(state, turn, true);
      const event = timers.takeDue(timer_id);
      if ("kind" in event) return event;
      const ctx = context(state, turn, true, timers);
      const done = onTimer(state, event, ctx);
      const fired: FireOutcome = { kind: "fired", lateMs: Date.parse(event.fired_at) - Date.parse(event.fire_at) };
      return thenRunHooks(done, hooks, state, { action: "timer", args: { timer_id } }, ctx, fired);
    },
  };

  return { name: entity, rpcs, decodeState: layout.decode, initialState: layout.initial, timerFire };
}

/** What a handler sees of its turn: everything but the runner's timer schedule. */
export function handlerContext(turn: TurnContext, timers: Timers = noTimers(turn.self.type)): EntityContext {
  const { timerSink: _, ...base } = turn;
  return { ...base, timers };
}

const FireArgs = z.object({ timer_id: z.string() });

/**
 * Runs the traits' hooks once `reply` is settled, and replies `result` (the reply itself by
 * default). Synchronous replies stay synchronous: the mailbox replays synchronous turns.
 */
function thenRunHooks(
  reply: unknown,
  hooks: readonly MutationHook<unknown>[],
  state: unknown,
  event: MutationEvent,
  ctx: EntityContext,
  result?: unknown,
): unknown {
  if (hooks.length === 0 && result === undefined) return reply;
  const after = (value: unknown) => {
    for (const hook of hooks) hook(state, event, ctx);
    return result === undefined ? value : result;
  };
  return reply instanceof Promise ? reply.then(after) : after(reply);
}
