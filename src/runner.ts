import { hostname } from "node:os";
import { CRON_TEST_NAME, SINGLETON_NAME, TICKER_NAME } from "../contract/index.ts";
import { clusterServices, createApp, earlyRefusal, type HttpServer, listen } from "./api/index.ts";
import { Cluster, type Logger, openStorage } from "./cluster/index.ts";
import type { Config } from "./config.ts";
import { cronTestRun } from "./entities/cron-test.ts";
import { applicationMigrations, testEntities } from "./entities/index.ts";
import { runSingletonTest } from "./entities/singleton-test.ts";
import { runTicker, tickerShutdown } from "./entities/ticker.ts";

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
  const storage = await openStorage({
    postgresUrl: config.postgresUrl,
    dataDir: config.dataDir,
    log,
    application: applicationMigrations,
    ssl: config.postgresSsl,
  });
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
            security: config.etcdSecurity,
          }
        : undefined,
    secret: config.clusterSecret,
    metrics: { enabled: config.metrics, processMetrics: true },
    tls: config.clusterTls,
    admission: { mailboxLimit: config.mailboxLimit, maxInflight: config.maxInflight },
  });
  cluster.registerSingleton(SINGLETON_NAME, runSingletonTest);
  cluster.registerSingleton(TICKER_NAME, runTicker, { onShutdown: tickerShutdown });
  cluster.registerCron(CRON_TEST_NAME, config.cronTestSchedule, cronTestRun(cluster));
  if (!config.adminToken) log.warn("ADMIN_TOKEN is not set: the operator API (/admin/*) is open to anyone who can reach the HTTP port");
  const services = clusterServices(cluster, {
    dashboard: { adminToken: config.adminToken, traffic: () => cluster.traffic() },
    admission: { maxInflight: config.maxInflight, onRefused: (reason) => cluster.metrics.calls.refused.inc({ reason }) },
  });
  const app = createApp(services, {
    maxBodyBytes: config.maxBodyBytes,
    log,
    adminToken: config.adminToken,
  });
  // Bind the HTTP port before joining: a runner that cannot serve must not take shards.
  let http: HttpServer;
  try {
    http = await listen(app, config.listen.host, config.listen.port, config.httpTls, earlyRefusal(services, config.maxBodyBytes));
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
    url: `${config.httpTls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${http.port}`,
    stop: async (options = {}) => {
      await http.close();
      await cluster.shutdown(options);
      log.info("runner stopped");
    },
  };
}
