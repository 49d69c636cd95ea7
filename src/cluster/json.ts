/** A JSON value: what workflow inputs, step results and workflow results are made of. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

/** `value` as JSON text; `undefined` (a body that returned nothing) is `null`. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}
