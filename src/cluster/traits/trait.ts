import type { z } from "zod";
import type { EntityContext, Handler } from "../entity/context.ts";
import { objectSection, type StateSection } from "../entity/state-layout.ts";

/** What a trait's hook learns of a turn that changed its entity. */
export interface MutationEvent {
  /** The RPC that ran (`update`), or `timer` for a timer that fired. */
  readonly action: string;
  /** Its validated arguments (`{ timer_id }` for a timer). */
  readonly args: Readonly<Record<string, unknown>>;
}

/** One RPC a trait provides, working on the trait's part of the entity's state. */
export interface TraitRpc<S, A, O> {
  readonly kind: "query" | "mutation";
  readonly handler: Handler<S, A, O>;
}

/**
 * Runs after every mutation of the entity's own RPCs (and every timer fire) that succeeded, in the
 * same turn: what it changes commits with the mutation, or not at all. Synchronous and
 * deterministic, like the handlers it follows (a turn may be replayed).
 */
export type MutationHook<S> = (state: S, event: MutationEvent, ctx: EntityContext) => void;

/** Type-level description of a trait's RPCs: what each takes and returns. */
export type TraitApi = { readonly [rpc: string]: { readonly args: unknown; readonly output: unknown } };

/** A trait as entities mix it in. */
export interface Trait<Api extends TraitApi = TraitApi> {
  readonly name: string;
  /** The trait's keys in the entity's state. */
  readonly section: StateSection;
  readonly rpcs: ReadonlyMap<string, TraitRpc<unknown, unknown, unknown>>;
  readonly afterMutation: MutationHook<unknown> | undefined;
  /** Never set: carries the RPCs' types so that `defineEntity` can check them against the protocol. */
  readonly api?: Api;
}

type ApiOf<R> = {
  readonly [K in keyof R]: R[K] extends { readonly handler: Handler<never, infer A, infer O> }
    ? { readonly args: A; readonly output: O }
    : never;
};

export interface TraitDefinition<Shape extends z.ZodRawShape, R> {
  /** Names the trait in definition errors. */
  readonly name: string;
  /** The trait's state: its keys sit next to the entity's own (a key both declare is an error). */
  readonly state: z.ZodObject<Shape>;
  readonly initial: () => z.output<z.ZodObject<Shape>>;
  /** RPCs the trait implements; the entity's protocol declares them (routes stay in the contract). */
  readonly rpcs: R;
  readonly afterMutation?: MutationHook<z.output<z.ZodObject<Shape>>>;
}

/**
 * A reusable piece of entity behaviour: its own state, RPCs and hooks, written once and mixed into
 * any entity with `defineEntity(protocol, { traits: [...] })`.
 */
export function defineTrait<Shape extends z.ZodRawShape, R extends Record<string, TraitRpc<z.output<z.ZodObject<Shape>>, never, unknown>>>(
  definition: TraitDefinition<Shape, R>,
): Trait<ApiOf<R>> {
  const { name, state, initial, rpcs, afterMutation } = definition;
  return {
    name,
    section: objectSection(`trait ${name}`, state, initial as () => Record<string, unknown>),
    // The entity hands each trait the whole state; the trait only ever touches its own keys.
    rpcs: new Map(Object.entries(rpcs) as [string, TraitRpc<unknown, unknown, unknown>][]),
    afterMutation: afterMutation as MutationHook<unknown> | undefined,
  };
}
