import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/cluster/index.ts";
import { loadConfig } from "../../src/config.ts";
import { type Runner, startRunner } from "../../src/runner.ts";

/** A storage backend the integration suites run against: embedded PGlite, and real Postgres when provisioned. */
export interface Backend {
  readonly name: "pglite" | "postgres";
  /** Starts a runner on a free loopback port; the same backend keeps its data across restarts. */
  start(env?: Record<string, string>): Promise<Runner>;
  dispose(): void;
}

function pglite(): Backend {
  const dataDir = mkdtempSync(join(tmpdir(), "cluster-it-"));
  return {
    name: "pglite",
    start: (env = {}) => startRunner(loadConfig({ LISTEN_ADDR: "127.0.0.1:0", DATA_DIR: dataDir, ...env }), silentLogger),
    dispose: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

function postgres(url: string): Backend {
  return {
    name: "postgres",
    start: (env = {}) => startRunner(loadConfig({ LISTEN_ADDR: "127.0.0.1:0", POSTGRES_URL: url, ...env }), silentLogger),
    dispose: () => {},
  };
}

/**
 * PGlite always; Postgres when `POSTGRES_URL` is set (the test command provisions one with
 * scripts/services.sh). Without it the Postgres suites are not registered at all, and say so.
 */
function backends(): Backend[] {
  const url = process.env.POSTGRES_URL;
  if (!url) console.warn("POSTGRES_URL is not set: the Postgres integration suites are not registered (npm test provisions one)");
  const list = url ? [pglite(), postgres(url)] : [pglite()];
  process.on("exit", () => {
    for (const backend of list) backend.dispose();
  });
  return list;
}

export const BACKENDS: readonly Backend[] = backends();
