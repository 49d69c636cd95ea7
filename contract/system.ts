import { z } from "zod";
import { procedure } from "./procedure.ts";
import { EntityId, Name, NonNegativeInt, Null } from "./values.ts";

export const Health = z.object({
  status: z.literal("ok"),
  runner: z.string(),
  mode: z.enum(["embedded", "single", "cluster"]),
  /** False until the runner holds its cluster lease, and while it drains (Kubernetes readiness). */
  ready: z.boolean(),
  shards_owned: NonNegativeInt,
  active_entities: NonNegativeInt,
  /** Workflow executions held in memory here; a suspended (sleeping, waiting) one is held nowhere. */
  active_executions: NonNegativeInt,
  entity_idle_ms: NonNegativeInt,
});
export type Health = z.infer<typeof Health>;

export const Readiness = z.object({ ready: z.literal(true) });

export const ShardInfo = z.object({ shard_id: NonNegativeInt, owner: z.string().nullable(), local: z.boolean() });
export type ShardInfo = z.infer<typeof ShardInfo>;

export const EntityInfo = z.object({
  entity_type: z.string(),
  entity_id: z.string(),
  shard_id: NonNegativeInt,
  runner: z.string(),
});
export type EntityInfo = z.infer<typeof EntityInfo>;

/** A file served as is: its content type and its text. */
export const RawAsset = z.object({ content_type: z.string(), body: z.string() });
export type RawAsset = z.infer<typeof RawAsset>;

/** The files of the API reference page (swagger-ui-dist, served from node_modules: no CDN). */
export const DOCS_ASSETS = ["swagger-ui.css", "swagger-ui-bundle.js"] as const;

/** An OpenAPI 3.1 document (generated from this contract). */
export const OpenApiDocument = z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) });
/** The Prometheus text exposition format, version 0.0.4. */
export const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

/** Query-string booleans: only the words `true` and `false`. */
const QueryBool = z.enum(["true", "false"]).optional();

/** A signal for a durable workflow execution (the framework's `cluster.signal`). */
const SignalInput = z.object({
  entity_type: Name.meta({ description: "the execution's entity type, e.g. ApprovalTest", examples: ["ApprovalTest"] }),
  entity_id: EntityId,
  exec_id: Name,
  name: Name,
  payload: z.json(),
});

export const system = {
  /** 409 when that signal was delivered already (the first payload stands) or its wait timed out. */
  signal: procedure("POST /signals/{entity_type}/{entity_id}/{exec_id}/{name}", SignalInput, Null),
  health: procedure("GET /health", z.object({}), Health),
  /** 200 `{ready: true}`, or 503 `{error, ready: false}` until the runner holds its lease and while it drains. */
  ready: procedure("GET /ready", z.object({}), Readiness),
  shards: procedure("GET /debug/shards", z.object({}), z.array(ShardInfo)),
  entities: procedure("GET /debug/entities", z.object({ local: QueryBool }), z.array(EntityInfo), {
    query: ["local"],
  }),
  openapi: procedure("GET /openapi.json", z.object({}), OpenApiDocument),
  docs: procedure("GET /docs", z.object({}), z.string(), { content: "html" }),
  docsAsset: procedure("GET /docs/assets/{file}", z.object({ file: z.enum(DOCS_ASSETS) }), RawAsset, { content: "raw" }),
  /** This runner's metrics in the Prometheus text format (empty with METRICS=off). */
  metrics: procedure("GET /metrics", z.object({}), RawAsset, { content: "raw" }),
};
