import { z } from "zod";
import { type Method, type Procedure, type ProcedureOptions, procedure } from "./procedure.ts";
import { EntityId } from "./values.ts";

/**
 * One RPC of an entity as the contract declares it: route relative to the entity's base path.
 * `workflow`: the RPC runs as a durable workflow keyed by an exec id in its arguments (running the
 * same exec id again returns or resumes that execution instead of starting another).
 */
export interface RpcDeclaration<A extends z.ZodRawShape = z.ZodRawShape, O extends z.ZodType = z.ZodType, W extends boolean = boolean> {
  readonly route: Method | `${Method} /${string}`;
  readonly args: A;
  readonly output: O;
  readonly options: ProcedureOptions;
  readonly workflow: W;
}

export function rpc<A extends z.ZodRawShape, O extends z.ZodType>(
  route: Method | `${Method} /${string}`,
  args: A,
  output: O,
  options: ProcedureOptions = {},
): RpcDeclaration<A, O, false> {
  return { route, args, output, options, workflow: false };
}

/** A workflow RPC (see RpcDeclaration); always a POST. */
export function workflowRpc<A extends z.ZodRawShape, O extends z.ZodType>(
  route: `POST /${string}`,
  args: A,
  output: O,
  options: ProcedureOptions = {},
): RpcDeclaration<A, O, true> {
  return { route, args, output, options, workflow: true };
}

type IdShape = { id: typeof EntityId };
/** The input of an entity RPC: `{ id, ...args }`, or the args alone for an entity with a fixed id. */
type InputShape<A extends z.ZodRawShape, F extends boolean> = F extends true ? A : IdShape & A;

/** An entity RPC with a route: a procedure whose input is `{ id, ...args }`, plus the args schema alone. */
export type EntityRpc<
  A extends z.ZodRawShape = z.ZodRawShape,
  O extends z.ZodType = z.ZodType,
  W extends boolean = boolean,
  F extends boolean = boolean,
> = Procedure<z.ZodObject<InputShape<A, F>>, O> & {
  readonly args: z.ZodObject<A>;
  readonly workflow: W;
};

/** An RPC that runners call among themselves and that has no route of its own. */
export interface InternalRpc<A extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  readonly kind: "query" | "mutation";
  readonly args: A;
  readonly output: O;
  readonly workflow: false;
}

/** Declares an RPC without a route (the entity's own machinery, e.g. the singleton recording its leader). */
export function internalRpc<A extends z.ZodRawShape, O extends z.ZodType>(
  kind: "query" | "mutation",
  args: A,
  output: O,
): InternalRpc<z.ZodObject<A>, O> {
  return { kind, args: z.object(args), output, workflow: false };
}

export type EntityRpcs<D extends Record<string, RpcDeclaration | InternalRpc>, F extends boolean> = {
  readonly [K in keyof D]: D[K] extends RpcDeclaration<infer A, infer O, infer W>
    ? EntityRpc<A, O, W, F>
    : D[K] extends InternalRpc
      ? D[K]
      : never;
};

export interface EntityContract<
  T extends string = string,
  R extends Record<string, EntityRpc | InternalRpc> = Record<string, EntityRpc | InternalRpc>,
> {
  readonly type: T;
  readonly rpcs: R;
  /** The one entity id every route of the group addresses (the singleton's state), if the group has one. */
  readonly fixedId?: string;
}

/** Whether an entity RPC has a route (the adapters and the client serve only those). */
export function isRouted(rpc: EntityRpc | InternalRpc): rpc is EntityRpc {
  return "path" in rpc;
}

/**
 * Declares an entity type and its RPCs under `base`, which holds the `{id}` placeholder. The
 * framework reads `type`, and each RPC's `args`, `output`, `kind` and `workflow`; the API reads
 * the routes.
 */
export function entity<T extends string, D extends Record<string, RpcDeclaration | InternalRpc>>(
  type: T,
  base: `/${string}/{id}`,
  declarations: D,
): EntityContract<T, EntityRpcs<D, false>>;
/**
 * Declares an entity whose routes under `base` (no `{id}`) all address the one entity `fixedId`,
 * e.g. the state of a singleton.
 */
export function entity<T extends string, D extends Record<string, RpcDeclaration | InternalRpc>>(
  type: T,
  base: `/${string}`,
  declarations: D,
  fixed: { readonly fixedId: string },
): EntityContract<T, EntityRpcs<D, true>>;
export function entity(
  type: string,
  base: string,
  declarations: Record<string, RpcDeclaration | InternalRpc>,
  fixed?: { readonly fixedId: string },
): EntityContract {
  const rpcs: Record<string, EntityRpc | InternalRpc> = {};
  for (const [name, decl] of Object.entries(declarations)) {
    if (!("route" in decl)) {
      rpcs[name] = decl;
      continue;
    }
    const [method, rest = ""] = decl.route.split(" ") as [Method, string?];
    const args = z.object(decl.args);
    const input = fixed ? args : z.object({ id: EntityId, ...decl.args });
    const route = `${method} ${base}${rest}` as `${Method} /${string}`;
    rpcs[name] = { ...procedure(route, input, decl.output, decl.options), args, workflow: decl.workflow };
  }
  return fixed ? { type, rpcs, fixedId: fixed.fixedId } : { type, rpcs };
}
