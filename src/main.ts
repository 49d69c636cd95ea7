/** The runner binary: configuration from the environment, then serve until SIGTERM/SIGINT. */

import { createLogger, isPostgresJsClosedSocketWrite } from "./cluster/index.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { startRunner } from "./runner.ts";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const runner = await startRunner(config, log).catch((error: unknown) => {
    log.fatal({ err: error }, "runner failed to start");
    process.exit(1);
  });
  // A known driver bug may throw outside any promise when Postgres drops a connection; anything
  // else thrown that way is a bug of ours, and the process must not limp on.
  process.on("uncaughtException", (error) => {
    if (isPostgresJsClosedSocketWrite(error)) {
      log.warn({ err: error }, "dropped a write on a closed Postgres connection (postgres-js bug)");
      return;
    }
    log.fatal({ err: error }, "uncaught exception");
    process.exit(1);
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: finishing in-flight calls");
    runner.stop({ exiting: true }).then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, "unclean shutdown");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError ? error.message : String(error);
  process.stderr.write(`${JSON.stringify({ level: "fatal", time: new Date().toISOString(), msg: message })}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
