import { z } from "zod";
import type { EntityContext } from "./context.ts";
import { defineEntity, type EntityType } from "./definition.ts";
import type { EntityProtocol, RpcProtocol } from "./protocol.ts";

type StatelessHandler<R extends RpcProtocol> = (args: z.output<R["args"]>, ctx: EntityContext) => Promise<z.input<R["output"]>>;

/** A handler per declared RPC (no workflows): arguments and context, no framework state. */
export type StatelessHandlers<P extends EntityProtocol> = { readonly [K in keyof P["rpcs"]]: StatelessHandler<P["rpcs"][K]> };

/**
 * An entity whose state is the application's own tables: its handlers read and write them through
 * `ctx.sql`. It is still an entity: one call at a time per id, on the owner of its shard, and every
 * mutation that queried commits a compare-and-set of the entity's (empty) framework state row in
 * the same transaction, so a stale owner's writes never commit.
 */
export function defineStatelessEntity<P extends EntityProtocol>(
  protocol: P,
  definition: { readonly handlers: StatelessHandlers<P> },
): EntityType {
  const handlers = Object.fromEntries(
    Object.entries(definition.handlers as Record<string, StatelessHandler<RpcProtocol>>).map(([rpc, handler]) => [
      rpc,
      (_state: Empty, args: unknown, ctx: EntityContext) => handler(args, ctx),
    ]),
  );
  // The framework's part is an empty object: only its row's version (the fence) changes.
  return defineEntity(protocol as EntityProtocol, { state: Empty, initial: () => ({}), handlers } as never);
}

const Empty = z.object({});
type Empty = z.infer<typeof Empty>;
