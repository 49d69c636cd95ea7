import type { EntityType } from "../cluster/entity.ts";
import { Counter } from "./counter.ts";
import { KVStore } from "./kv.ts";

/** The test entities this runner hosts. */
export const testEntities: readonly EntityType[] = [Counter, KVStore];
