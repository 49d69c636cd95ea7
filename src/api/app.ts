import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "../cluster/log.ts";
import { toHttpError } from "./http-error.ts";
import { type Caller, mountRest, requestContext } from "./rest.ts";
import type { ApiServices } from "./services.ts";
import { buildRouter, createCallerFactory } from "./trpc.ts";

export interface AppOptions {
  readonly maxBodyBytes: number;
  readonly log: Logger;
}

/** The runner's HTTP API: the spec's REST routes and `/trpc`, both derived from the contract. */
export function createApp(services: ApiServices, options: AppOptions): Hono {
  const { log } = options;
  const router = buildRouter(services);
  const createCaller = createCallerFactory(router);
  const app = new Hono();

  app.onError((error, c) => {
    const http = toHttpError(error);
    if (http.status >= 500 && http.status !== 501 && http.status !== 503)
      log.error({ err: error, method: c.req.method, path: c.req.path }, "request failed");
    return c.json(http.body(), http.status as ContentfulStatusCode, http.headers);
  });
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));

  if (log.isLevelEnabled("debug")) {
    app.use(async (c, next) => {
      const started = performance.now();
      await next();
      log.debug({ method: c.req.method, path: c.req.path, status: c.res.status, ms: +(performance.now() - started).toFixed(2) }, "request");
    });
  }
  app.use(
    bodyLimit({
      maxSize: options.maxBodyBytes,
      onError: (c) => c.json({ error: `request body larger than ${options.maxBodyBytes} bytes` }, 413),
    }),
  );

  app.all("/trpc/*", (c) =>
    fetchRequestHandler({
      endpoint: "/trpc",
      req: c.req.raw,
      router,
      createContext: () => requestContext(c),
      onError: ({ error, path }) => {
        if (error.code === "INTERNAL_SERVER_ERROR") log.error({ err: error, path }, "trpc request failed");
      },
    }),
  );
  mountRest(app, (ctx) => createCaller(ctx) as unknown as Caller);
  return app;
}
