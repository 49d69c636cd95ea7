import type { EntityType } from "../cluster/index.ts";
import { ActivityTest } from "./activity.ts";
import { ApprovalTest } from "./approval.ts";
import { Counter } from "./counter.ts";
import { CronTest } from "./cron-test.ts";
import { CrossEntity } from "./cross-entity.ts";
import { KVStore } from "./kv.ts";
import { SingletonTest } from "./singleton-test.ts";
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
  ApprovalTest,
  CronTest,
];
