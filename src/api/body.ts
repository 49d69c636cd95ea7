import { type BodyMapping, findInexactInteger } from "../../contract/index.ts";
import { HttpError } from "./http-error.ts";

/** Deepest nesting accepted in a JSON body. */
const MAX_DEPTH = 64;

/**
 * Parses a request body as JSON. Integer literals beyond ±(2^53−1) are rejected rather than
 * rounded, and so is absurd nesting.
 */
export function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `invalid JSON body: ${(error as Error).message}`);
  }
  const inexact = findInexactInteger(value);
  if (inexact !== undefined)
    throw new HttpError(400, `invalid JSON body: ${inexact} is an integer beyond ±(2^53−1) and cannot be represented exactly`);
  if (depth(value) > MAX_DEPTH) throw new HttpError(400, `invalid JSON body: nested deeper than ${MAX_DEPTH} levels`);
  return value;
}

function depth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (d > max) max = d;
    if (d > MAX_DEPTH) break;
    if (v !== null && typeof v === "object") for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** The part of a procedure's input that comes from the body, per its declared mapping. */
export function bodyInput(text: string, mapping: BodyMapping): Record<string, unknown> {
  const empty = text.trim() === "";
  if (mapping === "none") {
    if (empty) return {};
    const value = parseJson(text);
    const isEmptyObject = value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0;
    if (value === null || isEmptyObject) return {};
    throw new HttpError(400, "this route takes no body (send nothing, {} or null)");
  }
  if (empty) throw new HttpError(400, "missing JSON body");
  const value = parseJson(text);
  if (mapping === "object") {
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new HttpError(400, "JSON body must be an object");
    return value as Record<string, unknown>;
  }
  return { [mapping.field]: value };
}
