import type { EntityContext } from "../entity/context.ts";
import { ClusterError, DefinitionError } from "../errors.ts";
import type { Json } from "../json.ts";

/**
 * An activity of a group: entity-agnostic, it gets its input and the turn's context (`ctx.sql`,
 * `ctx.now`, `ctx.self`), not the entity's state. It runs like `wf.activity`: as a turn of the
 * workflow's entity, journaled under its name, its queries and its journal entry in one transaction.
 */
export type GroupActivity<I = never, O extends Json = Json> = (input: I, ctx: EntityContext) => O | Promise<O>;

export type GroupActivities = { readonly [name: string]: GroupActivity };

/** A named, reusable set of activities, written once; entities mix it in with `activityGroups`. */
export interface ActivityGroup<A extends GroupActivities = GroupActivities> {
  readonly name: string;
  readonly activities: A;
}

/** What `wf.use(group)` gives a workflow: each activity, called with its input. */
export type BoundActivities<A extends GroupActivities> = {
  readonly [K in keyof A]: A[K] extends (input: infer I, ctx: EntityContext) => infer O ? (input: I) => Promise<Awaited<O>> : never;
};

export function defineActivityGroup<const A extends GroupActivities>(name: string, activities: A): ActivityGroup<A> {
  return { name, activities };
}

/** The groups an entity mixes in: two providing one activity name is a DefinitionError. */
export function composeActivityGroups(entity: string, groups: readonly ActivityGroup[]): readonly ActivityGroup[] {
  const owner = new Map<string, string>();
  for (const group of groups) {
    for (const name of Object.keys(group.activities)) {
      const other = owner.get(name);
      if (other) throw new DefinitionError(`entity ${entity}: activity ${name} is provided by both group ${other} and group ${group.name}`);
      owner.set(name, group.name);
    }
  }
  return groups;
}

type RunActivity = (name: string, body: (state: unknown, ctx: EntityContext) => Json | Promise<Json>) => Promise<Json>;

/** The activities of `group` for a workflow of `entity`, which must have mixed it in. */
export function bindActivities<A extends GroupActivities>(
  group: ActivityGroup<A>,
  mixed: readonly ActivityGroup[],
  entity: string,
  activity: RunActivity,
): BoundActivities<A> {
  if (!mixed.includes(group as ActivityGroup)) {
    throw new ClusterError("INTERNAL", `entity ${entity} uses activity group ${group.name} without mixing it in (activityGroups)`);
  }
  const bound: Record<string, (input: unknown) => Promise<Json>> = {};
  for (const [name, body] of Object.entries(group.activities as GroupActivities)) {
    bound[name] = (input) => activity(name, (_state, ctx) => (body as GroupActivity<unknown>)(input, ctx));
  }
  return bound as BoundActivities<A>;
}
