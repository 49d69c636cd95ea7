import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import type { HttpTls } from "../cluster/index.ts";
import type { ApiEnv } from "./request-body.ts";

export interface HttpServer {
  /** The port actually bound (useful when asked for port 0). */
  readonly port: number;
  /** Stops accepting connections and waits for in-flight requests (at most `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

/** Serves `app` through `node:http` (`node:https` with `tls`), which Node and Deno both provide. */
export function listen(app: Hono<ApiEnv>, host: string, port: number, tls?: HttpTls): Promise<HttpServer> {
  const secure = tls ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } } : {};
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port, ...secure }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        close: (graceMs = 5_000) =>
          new Promise<void>((done) => {
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
    server.once("error", reject);
  });
}
