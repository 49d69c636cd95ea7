import type { Context, Hono } from "hono";
import { type AnyContract, type Method, procedureList, type RawAsset } from "../../contract/index.ts";
import { limits } from "../cluster/index.ts";
import { bodyInput } from "./body.ts";
import { HttpError, invalidInput } from "./http-error.ts";
import type { ApiEnv } from "./request-body.ts";
import { type Resolvers, resolverOf } from "./resolvers.ts";
import type { ApiContext } from "./services.ts";

/** Longest accepted `Idempotency-Key` header. */
const MAX_IDEMPOTENCY_KEY = 256;

/** `/kv/{id}/get/{key}` → `/kv/:id/get/:key` */
function honoPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ":$1");
}

export function requestContext(c: Context<ApiEnv>): ApiContext {
  const key = c.req.header("idempotency-key");
  if (key !== undefined && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY)) {
    throw new HttpError(400, `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters`);
  }
  return { requestId: key, timeoutMs: requestTimeout(c.req.header("request-timeout")), trace: c.get("trace") };
}

/** `Request-Timeout: <ms>`: a positive integer of milliseconds, at most the cluster's cap. */
function requestTimeout(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const ms = /^\s*[1-9][0-9]{0,8}\s*$/.test(header) ? Number(header) : Number.NaN;
  if (!(ms <= limits.maxCallTimeoutMs)) {
    throw new HttpError(400, `Request-Timeout must be a whole number of milliseconds from 1 to ${limits.maxCallTimeoutMs}`);
  }
  return ms;
}

/**
 * The path parameters, percent-decoded strictly from the raw URL: a malformed escape or invalid
 * UTF-8 is a 400. Hono's own decoding keeps such escapes as literal text, which would make
 * `/counter/%FF` and `/counter/%25FF` the same entity.
 */
function pathInput(c: Context<ApiEnv>, template: string): Record<string, string> {
  // The path exactly as routed (no URL object: a measurable cost per request).
  const url = c.req.url;
  const start = url.indexOf("/", url.indexOf("://") + 3);
  const query = url.indexOf("?", start);
  const raw = url.slice(start, query === -1 ? undefined : query).split("/");
  const params: Record<string, string> = {};
  template.split("/").forEach((segment, i) => {
    const name = /^\{(\w+)\}$/.exec(segment)?.[1];
    if (!name) return;
    try {
      params[name] = decodeURIComponent(raw[i] ?? "");
    } catch {
      throw new HttpError(400, `path parameter ${name} is not valid percent-encoded UTF-8`);
    }
  });
  return params;
}

/**
 * Mounts every procedure of the contract at its declared REST route. Path parameters, declared
 * query parameters and the mapped body form the procedure's input, validated by the contract's
 * schema; the resolver is the one the tRPC router runs, so REST and tRPC share one
 * implementation. Errors reach the app's error handler, which answers them as JSON.
 */
export function mountRest(app: Hono<ApiEnv>, resolvers: Resolvers, contract: AnyContract): void {
  const methodsByPath = new Map<string, Method[]>();
  for (const { group, name, procedure } of procedureList(contract)) {
    const path = honoPath(procedure.path);
    methodsByPath.set(path, [...(methodsByPath.get(path) ?? []), procedure.method]);
    const resolve = resolverOf(resolvers, group, name);
    app.on(procedure.method, path, async (c) => {
      const query = Object.fromEntries(procedure.query.flatMap((q) => (c.req.query(q) === undefined ? [] : [[q, c.req.query(q)]])));
      const body = procedure.method === "GET" ? {} : bodyInput(c.get("body"), procedure.body);
      const ctx = requestContext(c);
      const input = procedure.input.safeParse({ ...body, ...query, ...pathInput(c, procedure.path) });
      if (!input.success) throw invalidInput(input.error.issues);
      const result = await resolve(input.data, ctx);
      const output = procedure.output.safeParse(result);
      if (!output.success) throw new Error(`${group}.${name} answered outside its contract: ${output.error.message}`);
      if (procedure.content === "html") return c.html(output.data as string);
      if (procedure.content === "raw") {
        const asset = output.data as RawAsset;
        return c.body(asset.body, 200, { "content-type": asset.content_type });
      }
      return c.json(output.data ?? null);
    });
  }
  // A known path with another method: 405 and the methods it does take.
  for (const [path, methods] of methodsByPath) {
    app.all(path, (c) => {
      throw new HttpError(405, `${c.req.method} is not allowed on ${c.req.path}; use ${methods.join(", ")}`, undefined, {
        Allow: methods.join(", "),
      });
    });
  }
}
