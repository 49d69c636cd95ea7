import { z } from "zod";
import { procedure } from "./procedure.ts";
import { NonNegativeInt } from "./values.ts";

export const Health = z.object({
  status: z.literal("ok"),
  runner: z.string(),
  mode: z.enum(["embedded", "single", "cluster"]),
  shards_owned: NonNegativeInt,
  active_entities: NonNegativeInt,
  entity_idle_ms: NonNegativeInt,
});
export type Health = z.infer<typeof Health>;

export const ShardInfo = z.object({ shard_id: NonNegativeInt, owner: z.string().nullable(), local: z.boolean() });
export type ShardInfo = z.infer<typeof ShardInfo>;

export const EntityInfo = z.object({
  entity_type: z.string(),
  entity_id: z.string(),
  shard_id: NonNegativeInt,
  runner: z.string(),
});
export type EntityInfo = z.infer<typeof EntityInfo>;

/** The Prometheus text exposition format, version 0.0.4. */
export const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

/** Query-string booleans: only the words `true` and `false`. */
const QueryBool = z.enum(["true", "false"]).optional();

export const system = {
  health: procedure("GET /health", z.object({}), Health),
  shards: procedure("GET /debug/shards", z.object({}), z.array(ShardInfo)),
  entities: procedure("GET /debug/entities", z.object({ local: QueryBool }), z.array(EntityInfo), {
    query: ["local"],
  }),
  /** This runner's metrics in the Prometheus text format (empty with METRICS=off). */
  metrics: procedure("GET /metrics", z.object({}), z.string(), { produces: PROMETHEUS_TEXT }),
};
