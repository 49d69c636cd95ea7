/** The HTTP side of a runner, for services of their own: an API derived from a contract, and a server for it. */
export { type AppOptions, createApp } from "./app.ts";
export { type EarlyRefusal, earlyRefusal } from "./early-refusal.ts";
export { type HttpServer, listen } from "./server.ts";
export { type ApiServices, clusterServices } from "./services.ts";
