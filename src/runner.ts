import { hostname } from "node:os";
import { CRON_TEST_NAME, SINGLETON_NAME } from "../contract/index.ts";
import { clusterServices, createApp, type HttpServer, listen } from "./api/index.ts";
import { Cluster, type Logger, openStorage } from "./cluster/index.ts";
import type { Config } from "./config.ts";
import { cronTestRun } from "./entities/cron-test.ts";
import { testEntities } from "./entities/index.ts";
import { runSingletonTest } from "./entities/singleton-test.ts";

export interface Runner {
  readonly cluster: Cluster;
  readonly http: HttpServer;
  /** Base URL of the HTTP API, on loopback when bound to all interfaces. */
  readonly url: string;
  /** Graceful stop; `exiting` when the process ends right after (see Cluster.shutdown). */
  stop(options?: { exiting?: boolean }): Promise<void>;
}

/** Opens storage, joins the cluster, registers the test entities and serves the HTTP API. */
export async function startRunner(config: Config, log: Logger): Promise<Runner> {
  const runnerId = config.runnerAddress ?? `${hostname()}:${config.listen.port}`;
  const storage = await openStorage({ postgresUrl: config.postgresUrl, dataDir: config.dataDir, log });
  const cluster = await Cluster.create({
    mode: config.mode,
    runnerId,
    shardCount: config.shardCount,
    entityIdleMs: config.entityIdleMs,
    storage,
    log,
    entities: testEntities,
    etcd:
      config.mode === "cluster"
        ? {
            endpoints: config.etcdEndpoints,
            prefix: config.etcdPrefix,
            leaseTtlMs: config.leaseTtlMs,
            grpcListen: config.grpcListen,
            ownershipLog: config.ownershipLog,
          }
        : undefined,
    secret: config.clusterSecret,
  });
  cluster.registerSingleton(SINGLETON_NAME, runSingletonTest);
  cluster.registerCron(CRON_TEST_NAME, config.cronTestSchedule, cronTestRun(cluster));
  const app = createApp(clusterServices(cluster), { maxBodyBytes: config.maxBodyBytes, log });
  // Bind the HTTP port before joining: a runner that cannot serve must not take shards.
  let http: HttpServer;
  try {
    http = await listen(app, config.listen.host, config.listen.port);
  } catch (error) {
    await cluster.shutdown().catch(() => {});
    throw error;
  }
  try {
    await cluster.start();
  } catch (error) {
    await http.close();
    await cluster.shutdown().catch(() => {});
    throw error;
  }
  const host = ["0.0.0.0", "::"].includes(config.listen.host) ? "127.0.0.1" : config.listen.host;
  log.info({ mode: config.mode, runner: runnerId, listen: `${config.listen.host}:${http.port}` }, "runner ready");
  return {
    cluster,
    http,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${http.port}`,
    stop: async (options = {}) => {
      await http.close();
      await cluster.shutdown(options);
      log.info("runner stopped");
    },
  };
}
