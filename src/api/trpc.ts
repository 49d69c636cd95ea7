import { initTRPC, type TRPC_ERROR_CODE_KEY, TRPCError } from "@trpc/server";
import { type EntityContract, entities, type Procedure, procedureList } from "../../contract/index.ts";
import { ClusterError, type ClusterErrorCode } from "../cluster/errors.ts";
import type { ApiContext, ApiServices } from "./services.ts";

// Not dev mode: error answers must not carry server stack traces, whatever NODE_ENV says.
const t = initTRPC.context<ApiContext>().create({ isDev: false });

/** What a procedure does once its input is valid; REST and tRPC both run these. */
export type Resolver = (input: Record<string, unknown>, ctx: ApiContext) => Promise<unknown>;
/** `group → procedure → resolver`, for every procedure of the contract. */
export type Resolvers = Record<string, Record<string, Resolver>>;

const TRPC_CODE: Record<ClusterErrorCode, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: "BAD_REQUEST",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  ALREADY_EXISTS: "CONFLICT",
  WORKFLOW_FAILED: "UNPROCESSABLE_CONTENT",
  NOT_OWNER: "SERVICE_UNAVAILABLE",
  UNAVAILABLE: "SERVICE_UNAVAILABLE",
  TIMEOUT: "GATEWAY_TIMEOUT",
  NOT_IMPLEMENTED: "NOT_IMPLEMENTED",
  UNAUTHENTICATED: "UNAUTHORIZED",
  INTERNAL: "INTERNAL_SERVER_ERROR",
};

/** Framework errors become tRPC errors with the matching HTTP status. */
export function toTrpcError(error: unknown): unknown {
  if (error instanceof ClusterError) return new TRPCError({ code: TRPC_CODE[error.code], message: error.message, cause: error });
  return error;
}

function entityResolver(contract: EntityContract, rpc: string, services: ApiServices): Resolver {
  return async ({ id, ...args }, ctx) => {
    if (!services.hasEntity(contract.type)) {
      throw new TRPCError({ code: "NOT_IMPLEMENTED", message: `${contract.type} is not hosted by this runner` });
    }
    return services.callEntity(contract.type, id as string, rpc, args, ctx.requestId);
  };
}

function serviceResolvers(services: ApiServices): Resolvers {
  const singleton = (pick: (s: NonNullable<ApiServices["singleton"]>) => Promise<unknown>): Resolver => {
    return async () => {
      if (!services.singleton)
        throw new TRPCError({ code: "NOT_IMPLEMENTED", message: "SingletonTest is not implemented yet: it needs cluster singletons" });
      return pick(services.singleton);
    };
  };
  return {
    singleton: {
      nextSequence: singleton((s) => s.nextSequence()),
      leaderHistory: singleton((s) => s.leaderHistory()),
      currentRunner: singleton((s) => s.currentRunner()),
      clearHistory: singleton((s) => s.clearHistory()),
      resetSequence: singleton((s) => s.resetSequence()),
    },
    system: {
      health: async () => services.health(),
      shards: async () => services.shards(),
      entities: async (input) => services.entities(input.local === "true"),
    },
  };
}

function build(procedure: Procedure, resolve: Resolver) {
  const base = t.procedure.input(procedure.input).output(procedure.output);
  const handler = async ({ input, ctx }: { input: Record<string, unknown>; ctx: ApiContext }) => {
    try {
      return await resolve(input, ctx);
    } catch (error) {
      throw toTrpcError(error);
    }
  };
  return procedure.kind === "query" ? base.query(handler) : base.mutation(handler);
}

/** The resolver of every procedure of the contract (checked when the router and routes are built). */
export function buildResolvers(services: ApiServices): Resolvers {
  const groups = serviceResolvers(services);
  for (const [group, contract] of Object.entries(entities) as [string, EntityContract][]) {
    groups[group] = Object.fromEntries(Object.keys(contract.rpcs).map((rpc) => [rpc, entityResolver(contract, rpc, services)]));
  }
  return groups;
}

/** The tRPC router, built from the contract: one procedure per declared RPC, nothing else. */
export function buildRouter(resolvers: Resolvers) {
  const groups: Record<string, Record<string, ReturnType<typeof build>>> = {};
  for (const { group, name, procedure } of procedureList()) {
    groups[group] ??= {};
    groups[group][name] = build(procedure, resolverOf(resolvers, group, name));
  }
  return t.router(Object.fromEntries(Object.entries(groups).map(([group, procedures]) => [group, t.router(procedures)])));
}

export function resolverOf(resolvers: Resolvers, group: string, name: string): Resolver {
  const resolve = resolvers[group]?.[name];
  if (!resolve) throw new Error(`no resolver for ${group}.${name}`);
  return resolve;
}
