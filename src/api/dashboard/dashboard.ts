import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { DASHBOARD_ASSETS, type DashboardSession } from "../../../contract/index.ts";
import type { RunnerTraffic } from "../../cluster/index.ts";

type AssetName = (typeof DASHBOARD_ASSETS)[number];
/** A resolver (see resolvers.ts, which imports this module). */
type Resolve = (input: Record<string, unknown>) => Promise<unknown>;

/** What the dashboard's routes need from the runner. */
export interface DashboardSource {
  /** The operator token the /admin routes require, if any. */
  readonly adminToken: string | undefined;
  /** Every runner's recent traffic (see TrafficSampler and Cluster.traffic). */
  traffic(): Promise<readonly RunnerTraffic[]>;
}

const require = createRequire(import.meta.url);
const own = (name: string) => fileURLToPath(new URL(`./assets/${name}`, import.meta.url));
/** uPlot comes from node_modules, served by this runner: nothing is fetched from a CDN. */
const FILES: Record<AssetName, string> = {
  ...(Object.fromEntries(DASHBOARD_ASSETS.map((name) => [name, own(name)])) as Record<AssetName, string>),
  "uPlot.iife.min.js": require.resolve("uplot/dist/uPlot.iife.min.js"),
  "uPlot.min.css": require.resolve("uplot/dist/uPlot.min.css"),
};
const TYPES = { js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8" } as const;

/** Files are read once, on first use (a runner that never serves the page never reads them). */
const cache = new Map<string, string>();
function read(file: string): string {
  let text = cache.get(file);
  if (text === undefined) {
    text = readFileSync(file, "utf8");
    cache.set(file, text);
  }
  return text;
}

/** Compared as digests, in constant time: the length of the token leaks nothing either. */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(expected), digest(given));
}

/** The resolvers of the contract's `dashboard` group. */
export function dashboardResolvers(source: DashboardSource): Record<string, Resolve> {
  return {
    page: async () => read(own("page.html")),
    asset: async ({ file }) => {
      const name = file as AssetName;
      return { content_type: name.endsWith(".css") ? TYPES.css : TYPES.js, body: read(FILES[name]) };
    },
    session: async ({ token }): Promise<DashboardSession> => ({
      token_required: source.adminToken !== undefined,
      token_accepted: source.adminToken === undefined || tokenMatches(source.adminToken, token as string | undefined),
    }),
    traffic: async () => source.traffic(),
  };
}
