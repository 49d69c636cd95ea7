import { fileURLToPath } from "node:url";
import type { EntityType } from "../cluster/index.ts";
import { ActivityTest } from "./activity.ts";
import { ActivityGroupTest } from "./activity-group.ts";
import { ApprovalTest } from "./approval.ts";
import { Counter } from "./counter.ts";
import { CronTest } from "./cron-test.ts";
import { CrossEntity } from "./cross-entity.ts";
import { KVStore } from "./kv.ts";
import { SingletonTest } from "./singleton-test.ts";
import { SqlActivityTest } from "./sql-activity.ts";
import { StatelessCounter } from "./stateless-counter.ts";
import { SingletonTicker } from "./ticker.ts";
import { TimerTest } from "./timer-test.ts";
import { TraitTest } from "./trait-test.ts";
import { WorkflowTest } from "./workflow.ts";

/** The test entities this runner hosts. */
export const testEntities: readonly EntityType[] = [
  Counter,
  KVStore,
  WorkflowTest,
  ActivityTest,
  TraitTest,
  TimerTest,
  CrossEntity,
  SingletonTest,
  SqlActivityTest,
  StatelessCounter,
  SingletonTicker,
  ActivityGroupTest,
  ApprovalTest,
  CronTest,
];

/** The migrations of the test entities' own tables (src/entities/schema.ts), for openStorage. */
export const applicationMigrations = { migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)) };
