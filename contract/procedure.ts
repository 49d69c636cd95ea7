import type { z } from "zod";

/**
 * A procedure is declared once, here: its REST route, its input and output schemas, and how the
 * HTTP body maps onto the input. The REST adapter, the tRPC router and the typed client are all
 * derived from these declarations.
 */
export type Method = "GET" | "POST" | "DELETE";

/**
 * How a REST body becomes part of the input:
 * - `none`: the body is ignored (`{}`, `null` or empty are all accepted);
 * - `object`: the body is a JSON object whose fields join the path parameters;
 * - `{ field }`: the whole body is the value of one input field (`POST /counter/x/increment 5`).
 */
export type BodyMapping = "none" | "object" | { readonly field: string };

/**
 * What a route answers: JSON (every RPC; what tRPC and the typed client speak), an HTML page (the
 * output is its text), or a raw asset (the output is a `RawAsset`: its content type and text).
 */
export type ResponseContent = "json" | "html" | "raw";

export interface Procedure<I extends z.ZodObject = z.ZodObject, O extends z.ZodType = z.ZodType> {
  readonly method: Method;
  /** Path with `{param}` placeholders, e.g. `/kv/{id}/get/{key}`. */
  readonly path: string;
  readonly input: I;
  readonly output: O;
  readonly body: BodyMapping;
  /** A query never changes state (GET); everything else is a mutation. */
  readonly kind: "query" | "mutation";
  /** Query-string parameters (GET only), e.g. `?local=true`. */
  readonly query: readonly string[];
  readonly content: ResponseContent;
  /**
   * The media type of a REST answer that is text (its output a string), e.g. the Prometheus
   * exposition format; undefined = JSON. tRPC answers it as a JSON string, as it does everything.
   */
  readonly produces: string | undefined;
}

export interface ProcedureOptions {
  body?: BodyMapping;
  query?: readonly string[];
  /** `json` unless said otherwise; only JSON procedures are served over tRPC. */
  content?: ResponseContent;
  produces?: string;
}

export function procedure<I extends z.ZodObject, O extends z.ZodType>(
  route: `${Method} /${string}`,
  input: I,
  output: O,
  options: ProcedureOptions = {},
): Procedure<I, O> {
  const [method, path] = route.split(" ") as [Method, string];
  const body = options.body ?? (method === "POST" && Object.keys(input.shape).length > pathParams(path).length ? "object" : "none");
  return {
    method,
    path,
    input,
    output,
    body,
    kind: method === "GET" ? "query" : "mutation",
    query: options.query ?? [],
    content: options.content ?? "json",
    produces: options.produces,
  };
}

/** The `{name}` placeholders of a path, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
}

/** Input type as the caller writes it, output type as the caller receives it. */
export type InputOf<P> = P extends Procedure<infer I, z.ZodType> ? z.input<I> : never;
export type OutputOf<P> = P extends Procedure<z.ZodObject, infer O> ? z.output<O> : never;
