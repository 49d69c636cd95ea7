import { z } from "zod";

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * A JSON object used as a string-keyed map, decoded into a null-prototype object: any string is a
 * plain key, `__proto__` and `constructor` included. (`z.record` assigns keys to an ordinary object
 * while parsing, which turns a `__proto__` key into a prototype change and loses it.)
 */
export function dictionary<T extends z.ZodType>(value: T) {
  return z.custom<Record<string, unknown>>(isObject, "expected an object").transform((raw, ctx) => {
    const out = Object.create(null) as Record<string, z.output<T>>;
    for (const key of Object.keys(raw)) {
      const parsed = value.safeParse(raw[key]);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: [key, ...issue.path] } as z.core.$ZodRawIssue);
        return z.NEVER;
      }
      out[key] = parsed.data;
    }
    return out;
  });
}
