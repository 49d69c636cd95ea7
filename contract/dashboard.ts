/**
 * The dashboard (GET /dashboard): one HTML page, its scripts and styles (uPlot among them, served
 * from node_modules: the machines are offline), and the two JSON sources only it needs.
 */
import { z } from "zod";
import { procedure } from "./procedure.ts";
import { RawAsset } from "./system.ts";
import { NonNegativeInt } from "./values.ts";

/** The page's files, by name: its modules and styles, and uPlot's. */
export const DASHBOARD_ASSETS = [
  "main.js",
  "api.js",
  "format.js",
  "cluster-panels.js",
  "work-panels.js",
  "traffic.js",
  "dashboard.css",
  "uPlot.iife.min.js",
  "uPlot.min.css",
] as const;

/** Whether the runner wants ADMIN_TOKEN, and whether the token sent is it (200 either way: see the page's api.js). */
export const DashboardSession = z.object({ token_required: z.boolean(), token_accepted: z.boolean() });
export type DashboardSession = z.infer<typeof DashboardSession>;

/** One second of a runner's calls: [unix seconds, calls/s, p50 ms, p99 ms] (latencies null without calls). */
export const TrafficSample = z.tuple([NonNegativeInt, z.number().nonnegative(), z.number().nullable(), z.number().nullable()]);
export type TrafficSample = z.infer<typeof TrafficSample>;
export const RunnerTraffic = z.object({ runner: z.string(), samples: z.array(TrafficSample) });
export type RunnerTraffic = z.infer<typeof RunnerTraffic>;

export const dashboard = {
  page: procedure("GET /dashboard", z.object({}), z.string(), { content: "html" }),
  asset: procedure("GET /dashboard/assets/{file}", z.object({ file: z.enum(DASHBOARD_ASSETS) }), RawAsset, { content: "raw" }),
  session: procedure("POST /dashboard/session", z.object({ token: z.string().max(4096).optional() }), DashboardSession),
  /** Every runner's calls over the last 5 minutes, one sample a second (peers that do not answer in time are left out). */
  traffic: procedure("GET /dashboard/traffic", z.object({}), z.array(RunnerTraffic)),
};
