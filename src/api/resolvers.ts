import { type AnyContract, type EntityContract, PROMETHEUS_TEXT, procedureList } from "../../contract/index.ts";
import { ClusterError, type Json } from "../cluster/index.ts";
import { adminResolvers } from "./admin.ts";
import { dashboardResolvers } from "./dashboard/dashboard.ts";
import { DOCS_PAGE, docsAsset } from "./docs.ts";
import { HttpError } from "./http-error.ts";
import { openApiDocument } from "./openapi.ts";
import type { ApiContext, ApiServices } from "./services.ts";

/** What a procedure does once its input is valid; the REST and tRPC adapters both run these. */
export type Resolver = (input: Record<string, unknown>, ctx: ApiContext) => Promise<unknown>;
/** `group → procedure → resolver`, for every procedure of the contract. */
export type Resolvers = Readonly<Record<string, Readonly<Record<string, Resolver>>>>;

/** An entity RPC: the `id` of its input (or the group's fixed id) names the entity, the rest are its arguments. */
function entityResolver(contract: EntityContract, rpc: string, services: ApiServices): Resolver {
  const { type, fixedId } = contract;
  return async ({ id, ...args }, ctx) => {
    if (!services.hasEntity(type)) throw new ClusterError("NOT_IMPLEMENTED", `${type} is not hosted by this runner`);
    return services.callEntity(type, fixedId ?? (id as string), rpc, args, ctx);
  };
}

/** The runner's own procedures, by group and name; the API reference documents `contract`. */
function runnerResolvers(services: ApiServices, contract: AnyContract): Resolvers {
  let document: unknown;
  return {
    system: {
      health: async () => services.health(),
      ready: async () => {
        if (!services.ready())
          throw new HttpError(503, "runner is not ready (joining the cluster, draining or stopping)", undefined, {}, { ready: false });
        return { ready: true };
      },
      signal: async (input, ctx) =>
        services.signal(
          input.entity_type as string,
          input.entity_id as string,
          input.exec_id as string,
          input.name as string,
          (input.payload ?? null) as Json,
          ctx,
        ),
      shards: async () => services.shards(),
      entities: async (input) => services.entities(input.local === "true"),
      openapi: async () => {
        document ??= openApiDocument(contract, { title: "Entity cluster API", version: "1" });
        return document;
      },
      docs: async () => DOCS_PAGE,
      docsAsset: async (input) => docsAsset(input.file as string),
      metrics: async () => ({ content_type: PROMETHEUS_TEXT, body: await services.metrics() }),
    },
    dashboard: services.dashboard ? dashboardResolvers(services.dashboard) : {},
    admin: services.operator ? adminResolvers(services.operator) : {},
  };
}

/** The resolver of every routed procedure of `contract`; a procedure nothing resolves is an error here, at start-up. */
export function buildResolvers(services: ApiServices, contract: AnyContract): Resolvers {
  const own = runnerResolvers(services, contract);
  const groups: Record<string, Record<string, Resolver>> = {};
  for (const { group, name, entity } of procedureList(contract)) {
    const resolve = entity ? entityResolver(entity, name, services) : own[group]?.[name];
    if (!resolve) throw new Error(`no resolver for ${group}.${name}`);
    groups[group] ??= {};
    groups[group][name] = resolve;
  }
  return groups;
}

export function resolverOf(resolvers: Resolvers, group: string, name: string): Resolver {
  const resolve = resolvers[group]?.[name];
  if (!resolve) throw new Error(`no resolver for ${group}.${name}`);
  return resolve;
}
