import { z } from "zod";
import { type Method, type Procedure, type ProcedureOptions, procedure } from "./procedure.ts";
import { EntityId } from "./values.ts";

/** One RPC of an entity as the contract declares it: route relative to the entity's base path. */
export interface RpcDeclaration<A extends z.ZodRawShape = z.ZodRawShape, O extends z.ZodType = z.ZodType> {
  readonly route: Method | `${Method} /${string}`;
  readonly args: A;
  readonly output: O;
  readonly options: ProcedureOptions;
}

export function rpc<A extends z.ZodRawShape, O extends z.ZodType>(
  route: Method | `${Method} /${string}`,
  args: A,
  output: O,
  options: ProcedureOptions = {},
): RpcDeclaration<A, O> {
  return { route, args, output, options };
}

type IdShape = { id: typeof EntityId };

/** An entity RPC: a procedure whose input is `{ id, ...args }`, plus the args schema alone. */
export type EntityRpc<A extends z.ZodRawShape = z.ZodRawShape, O extends z.ZodType = z.ZodType> = Procedure<z.ZodObject<IdShape & A>, O> & {
  readonly args: z.ZodObject<A>;
};

export type EntityRpcs<D extends Record<string, RpcDeclaration>> = {
  readonly [K in keyof D]: D[K] extends RpcDeclaration<infer A, infer O> ? EntityRpc<A, O> : never;
};

export interface EntityContract<T extends string = string, R extends Record<string, EntityRpc> = Record<string, EntityRpc>> {
  readonly type: T;
  readonly rpcs: R;
}

/**
 * Declares an entity type and its RPCs under `base` (which holds the `{id}` placeholder).
 * The framework reads `type`, and each RPC's `args`, `output` and `kind`; the API reads the routes.
 */
export function entity<T extends string, D extends Record<string, RpcDeclaration>>(
  type: T,
  base: `/${string}/{id}`,
  declarations: D,
): EntityContract<T, EntityRpcs<D>> {
  const rpcs: Record<string, EntityRpc> = {};
  for (const [name, decl] of Object.entries(declarations)) {
    const [method, rest = ""] = decl.route.split(" ") as [Method, string?];
    const args = z.object(decl.args);
    const input = z.object({ id: EntityId, ...decl.args });
    rpcs[name] = { ...procedure(`${method} ${base}${rest}`, input, decl.output, decl.options), args };
  }
  return { type, rpcs: rpcs as EntityRpcs<D> };
}

/** An RPC that runners call among themselves and that has no route of its own. */
export interface InternalRpc<A extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  readonly kind: "query" | "mutation";
  readonly args: A;
  readonly output: O;
}

/**
 * Declares an entity reached only through other procedures (e.g. the singleton's state behind
 * `/singleton/*`): same shape for the framework, no REST routes.
 */
export function internalEntity<T extends string, R extends Record<string, InternalRpc>>(
  type: T,
  rpcs: R,
): { readonly type: T; readonly rpcs: R } {
  return { type, rpcs };
}
