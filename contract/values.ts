import { z } from "zod";

/** Longest accepted entity id, in UTF-16 code units; documented in the README. */
export const MAX_ID_LENGTH = 256;
/** Longest accepted KV key, timer id, exec id or other caller-chosen name. */
export const MAX_NAME_LENGTH = 1024;

/**
 * JSON integers beyond ±(2^53−1) cannot be represented exactly by a JavaScript number. They are
 * rejected, never silently rounded.
 */
export const SafeInt = z.number().int().refine(Number.isSafeInteger, { message: "integer must be within ±(2^53−1) to be exact" });

export const NonNegativeInt = SafeInt.refine((n) => n >= 0, { message: "must be ≥ 0" });

/**
 * Ids and names are stored as Postgres text, which cannot hold U+0000, and are sent as UTF-8, which
 * cannot carry an unpaired surrogate (it would arrive as U+FFFD: two ids would become one).
 */
const storable = (s: string) => !/[\0\p{Cs}]/u.test(s);
const UNSTORABLE = "must not contain U+0000 or unpaired surrogates";

/** `.` and `..` are dot segments: URL parsers remove them from paths, so they can never be addressed. */
const notDotSegment = (s: string) => s !== "." && s !== "..";
const DOT_SEGMENT = 'cannot be "." or ".." (URLs drop such path segments)';

export const EntityId = z
  .string()
  .min(1, "id must not be empty")
  .max(MAX_ID_LENGTH, `id longer than ${MAX_ID_LENGTH} characters`)
  .refine(notDotSegment, DOT_SEGMENT)
  .refine(storable, `id ${UNSTORABLE}`);

export const Name = z
  .string()
  .min(1, "must not be empty")
  .max(MAX_NAME_LENGTH, `longer than ${MAX_NAME_LENGTH} characters`)
  .refine(notDotSegment, DOT_SEGMENT)
  .refine(storable, UNSTORABLE);

/** Any JSON value. Numbers are checked for exactness by the body parser before this runs. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export const JsonValue: z.ZodType<JsonValue> = z.json().refine((v) => findInexactInteger(v) === undefined, {
  message: "integer must be within ±(2^53−1) to be exact",
});

/** ISO-8601 timestamp in UTC, as the spec's `DateTime<Utc>`. */
export const Timestamp = z.iso.datetime();

export const Null = z.null();

/**
 * The first number in a JSON value that is an integer outside the exact range, if any. JSON parsers
 * round such literals (9007199254740993 → …992), so finding one means the input cannot be trusted.
 */
export function findInexactInteger(value: unknown): number | undefined {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "number") {
      if (Number.isInteger(v) && !Number.isSafeInteger(v)) return v;
    } else if (Array.isArray(v)) {
      stack.push(...v);
    } else if (v !== null && typeof v === "object") {
      stack.push(...Object.values(v));
    }
  }
  return undefined;
}
