import { initTRPC, type TRPC_ERROR_CODE_KEY, TRPCError } from "@trpc/server";
import { type AnyContract, type Procedure, procedureList } from "../../contract/index.ts";
import { ClusterError, type ClusterErrorCode } from "../cluster/index.ts";
import { HttpError } from "./http-error.ts";
import { type Resolver, type Resolvers, resolverOf } from "./resolvers.ts";
import type { ApiContext } from "./services.ts";

// Not dev mode: error answers must not carry server stack traces, whatever NODE_ENV says.
const t = initTRPC.context<ApiContext>().create({ isDev: false });

const TRPC_CODE: Record<ClusterErrorCode, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: "BAD_REQUEST",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  ALREADY_EXISTS: "CONFLICT",
  WORKFLOW_FAILED: "UNPROCESSABLE_CONTENT",
  // tRPC has no success-like error code: the call did not get its result in time, the execution goes on.
  SUSPENDED: "TIMEOUT",
  NOT_OWNER: "SERVICE_UNAVAILABLE",
  UNAVAILABLE: "SERVICE_UNAVAILABLE",
  TIMEOUT: "GATEWAY_TIMEOUT",
  OVERLOADED: "SERVICE_UNAVAILABLE",
  NOT_IMPLEMENTED: "NOT_IMPLEMENTED",
  UNAUTHENTICATED: "UNAUTHORIZED",
  INTERNAL: "INTERNAL_SERVER_ERROR",
};

function build(procedure: Procedure, resolve: Resolver) {
  const base = t.procedure.input(procedure.input).output(procedure.output);
  const handler = async ({ input, ctx }: { input: Record<string, unknown>; ctx: ApiContext }) => {
    try {
      return await resolve(input, ctx);
    } catch (error) {
      // Framework errors become tRPC errors with the matching HTTP status.
      if (error instanceof ClusterError) throw new TRPCError({ code: TRPC_CODE[error.code], message: error.message, cause: error });
      if (error instanceof HttpError && error.status === 503) throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: error.message });
      throw error;
    }
  };
  return procedure.kind === "query" ? base.query(handler) : base.mutation(handler);
}

/** The tRPC router, built from the contract: one procedure per routed JSON RPC (pages and assets are REST only). */
export function buildRouter(resolvers: Resolvers, contract: AnyContract) {
  const groups: Record<string, Record<string, ReturnType<typeof build>>> = {};
  for (const { group, name, procedure } of procedureList(contract)) {
    if (procedure.content !== "json") continue;
    groups[group] ??= {};
    groups[group][name] = build(procedure, resolverOf(resolvers, group, name));
  }
  return t.router(Object.fromEntries(Object.entries(groups).map(([group, procedures]) => [group, t.router(procedures)])));
}
