import { z } from "zod";
import { procedure } from "./procedure.ts";
import { EntityId, Name, NonNegativeInt, Null } from "./values.ts";

export const Health = z.object({
  status: z.literal("ok"),
  runner: z.string(),
  mode: z.enum(["embedded", "single", "cluster"]),
  shards_owned: NonNegativeInt,
  active_entities: NonNegativeInt,
  /** Workflow executions held in memory here; a suspended (sleeping, waiting) one is held nowhere. */
  active_executions: NonNegativeInt,
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

/** Query-string booleans: only the words `true` and `false`. */
const QueryBool = z.enum(["true", "false"]).optional();

/** A signal for a durable workflow execution (the framework's `cluster.signal`). */
const SignalInput = z.object({ entity_type: Name, entity_id: EntityId, exec_id: Name, name: Name, payload: z.json() });

export const system = {
  /** 409 when that signal was delivered already (the first payload stands) or its wait timed out. */
  signal: procedure("POST /signals/{entity_type}/{entity_id}/{exec_id}/{name}", SignalInput, Null),
  health: procedure("GET /health", z.object({}), Health),
  shards: procedure("GET /debug/shards", z.object({}), z.array(ShardInfo)),
  entities: procedure("GET /debug/entities", z.object({ local: QueryBool }), z.array(EntityInfo), {
    query: ["local"],
  }),
};
