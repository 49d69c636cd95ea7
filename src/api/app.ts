import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type AnyContract, contract as runnerContract } from "../../contract/index.ts";
import { formatTraceparent, type Logger, Overloaded, parseTraceparent, startSpan, traceFields } from "../cluster/index.ts";
import { adminGuard } from "./auth.ts";
import { retryAfterSeconds, toHttpError } from "./http-error.ts";
import { type ApiEnv, readBody } from "./request-body.ts";
import { buildResolvers } from "./resolvers.ts";
import { mountRest, requestContext } from "./rest.ts";
import type { ApiServices } from "./services.ts";
import { buildRouter } from "./trpc.ts";

/** Methods counted by name; any other a client invents is "other" (no series per made-up method). */
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);
export const methodLabel = (method: string | undefined): string => (method !== undefined && METHODS.has(method) ? method : "other");

export interface AppOptions {
  readonly maxBodyBytes: number;
  readonly log: Logger;
  /** The procedures to serve (the runner's contract by default). */
  readonly contract?: AnyContract;
  /** When set, every /admin route requires `Authorization: Bearer <adminToken>`. */
  readonly adminToken?: string | undefined;
}

/** The HTTP API: the contract's REST routes and `/trpc`, both derived from it, over one set of resolvers. */
export function createApp(services: ApiServices, options: AppOptions): Hono<ApiEnv> {
  const { log, contract = runnerContract } = options;
  const resolvers = buildResolvers(services, contract);
  const router = buildRouter(resolvers, contract);
  const app = new Hono<ApiEnv>();

  app.onError((error, c) => {
    const http = toHttpError(error);
    if (http.status >= 500 && http.status !== 501 && http.status !== 503)
      log.error({ err: error, method: c.req.method, path: c.req.path, ...traceFields(c.get("trace")) }, "request failed");
    return c.json(http.body(), http.status as ContentfulStatusCode, http.headers);
  });
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));

  // Every request is served in a span of the trace its `traceparent` names (a malformed one
  // starts a new trace, as W3C says), and counted by its route *template*.
  app.use(async (c, next) => {
    const started = performance.now();
    const trace = startSpan(parseTraceparent(c.req.header("traceparent")));
    c.set("trace", trace);
    await next();
    c.res.headers.set("traceresponse", formatTraceparent(trace));
    // "/*" is the route of the middleware itself: nothing matched, or a refusal before routing (413).
    const route = c.req.routePath === "/*" ? "unmatched" : c.req.routePath;
    services.observeRequest(methodLabel(c.req.method), route, c.res.status, (performance.now() - started) / 1000);
  });

  if (log.isLevelEnabled("debug")) {
    app.use(async (c, next) => {
      const started = performance.now();
      await next();
      const ms = +(performance.now() - started).toFixed(2);
      log.debug({ method: c.req.method, path: c.req.path, status: c.res.status, ms, ...traceFields(c.get("trace")) }, "request");
    });
  }
  if (options.adminToken !== undefined) {
    const guard = adminGuard(options.adminToken);
    app.use("/admin/*", guard.rest);
    app.use("/trpc/*", guard.trpc);
  }
  app.use(readBody(options.maxBodyBytes));

  app.all("/trpc/*", async (c) => {
    // Checked before tRPC runs: it would answer a context that fails to build with a 500.
    const ctx = requestContext(c);
    // The body was read (and checked) above; tRPC gets it again in a fresh request.
    const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
    const req = hasBody ? new Request(c.req.url, { method: c.req.method, headers: c.req.raw.headers, body: c.get("body") }) : c.req.raw;
    return fetchRequestHandler({
      endpoint: "/trpc",
      req,
      router,
      createContext: () => ctx,
      // A refused call tells tRPC clients when to retry, as the REST answer does.
      responseMeta: ({ errors }) => {
        const refusal = errors.map((e) => e.cause).find((cause) => cause instanceof Overloaded);
        return refusal ? { headers: { "Retry-After": retryAfterSeconds(refusal.retryAfterMs) } } : {};
      },
      onError: ({ error, path, ctx }) => {
        if (error.code === "INTERNAL_SERVER_ERROR") log.error({ err: error, path, ...traceFields(ctx?.trace) }, "trpc request failed");
      },
    });
  });
  mountRest(app, resolvers, contract);
  return app;
}
