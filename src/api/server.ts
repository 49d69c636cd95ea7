import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import type { HttpTls } from "../cluster/index.ts";
import type { EarlyRefusal } from "./early-refusal.ts";
import type { ApiEnv } from "./request-body.ts";

export interface HttpServer {
  /** The port actually bound (useful when asked for port 0). */
  readonly port: number;
  /** Stops accepting connections and waits for in-flight requests (at most `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

/**
 * Serves `app` through `node:http` (`node:https` with `tls`), which Node and Deno both provide.
 * `early` may answer a request before the app does (an overload refusal).
 */
export function listen(app: Hono<ApiEnv>, host: string, port: number, tls?: HttpTls, early?: EarlyRefusal): Promise<HttpServer> {
  // The host names the request's URL when it has no Host header (HTTP/1.0 health checkers), as `serve` did.
  const served = getRequestListener(app.fetch, { hostname: host });
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (!early?.(req, res)) void served(req, res);
  };
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, listener) : createServer(listener);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve({
        port: typeof address === "object" && address ? address.port : port,
        close: (graceMs = 5_000) =>
          new Promise<void>((done) => {
            // Deno's node:http may lack these two.
            const force = setTimeout(() => {
              if ("closeAllConnections" in server) server.closeAllConnections();
              done();
            }, graceMs);
            server.close(() => {
              clearTimeout(force);
              done();
            });
            if ("closeIdleConnections" in server) server.closeIdleConnections();
          }),
      });
    });
  });
}
