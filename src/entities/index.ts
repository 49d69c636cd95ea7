import type { EntityType } from "../cluster/entity.ts";
import { Counter } from "./counter.ts";
import { CrossEntity } from "./cross-entity.ts";
import { KVStore } from "./kv.ts";
import { SingletonTest } from "./singleton-test.ts";

/** The test entities this runner hosts. */
export const testEntities: readonly EntityType[] = [Counter, KVStore, CrossEntity, SingletonTest];
