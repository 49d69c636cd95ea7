import { z } from "zod";
import { DefinitionError } from "../errors.ts";

/** A part of an entity's stored state: the keys it owns, how to decode them, their initial values. */
export interface StateSection {
  /** Who owns the keys, for error messages: `entity Foo`, `trait Auditable`, `timers`. */
  readonly owner: string;
  readonly keys: readonly string[];
  /** This section's keys of a stored state, decoded; keys it lacks take their initial values. */
  readonly decode: (stored: Readonly<Record<string, unknown>>) => Record<string, unknown>;
  readonly initial: () => Record<string, unknown>;
}

export interface StateLayout {
  /** Validates state loaded from storage (and fills in what was added since it was written). */
  readonly decode: (stored: unknown) => unknown;
  readonly initial: () => unknown;
}

/** A section made of a zod object: its keys are the object's. */
export function objectSection(owner: string, schema: z.ZodObject, initial: () => Record<string, unknown>): StateSection {
  const keys = Object.keys(schema.shape);
  return {
    owner,
    keys,
    decode: (stored) => {
      const own: Record<string, unknown> = initial();
      for (const key of keys) if (Object.hasOwn(stored, key)) own[key] = stored[key];
      return schema.parse(own) as Record<string, unknown>;
    },
    initial,
  };
}

/**
 * The state an entity stores: its own keys, each trait's and the framework's side by side in one
 * JSON object, so that all of them commit in the same turn, under the same version check. A key
 * claimed by two parts is a definition error. An entity with no other part keeps its state exactly
 * as it declared it (any schema, stored as is).
 */
export function composeState(
  entity: string,
  own: { readonly schema: z.ZodType; readonly initial: () => unknown },
  others: readonly StateSection[],
): StateLayout {
  if (others.length === 0) return { decode: (stored) => own.schema.parse(stored), initial: own.initial };
  if (!(own.schema instanceof z.ZodObject)) {
    throw new DefinitionError(`entity ${entity}: its state must be a z.object(…) to be combined with traits or timers`);
  }
  const sections = [objectSection(`entity ${entity}`, own.schema, own.initial as () => Record<string, unknown>), ...others];
  const owners = new Map<string, string>();
  for (const section of sections) {
    for (const key of section.keys) {
      const claimed = owners.get(key);
      if (claimed) throw new DefinitionError(`entity ${entity}: state key "${key}" is claimed by both ${claimed} and ${section.owner}`);
      owners.set(key, section.owner);
    }
  }
  return {
    decode: (stored) => {
      if (stored === null || typeof stored !== "object" || Array.isArray(stored)) {
        throw new Error(`entity ${entity}: stored state is not an object`);
      }
      return Object.assign({}, ...sections.map((s) => s.decode(stored as Record<string, unknown>)));
    },
    initial: () => Object.assign({}, ...sections.map((s) => s.initial())),
  };
}
