import { clusterServices, createApp, listen } from "../../src/api/index.ts";
import { Cluster, createLogger, openStorage } from "../../src/cluster/index.ts";
import { contract } from "./contract.ts";
import { Guestbook } from "./guestbook.ts";

/** Runs the guestbook on one embedded runner (PGlite in `dataDir`) and serves its API. */
export async function serveGuestbook(dataDir: string, port = 0) {
  const log = createLogger("warn");
  const storage = await openStorage({ postgresUrl: undefined, dataDir, log });
  const cluster = await Cluster.create({
    mode: "embedded",
    runnerId: "guestbook-1",
    shardCount: 16,
    entityIdleMs: 60_000,
    storage,
    log,
    entities: [Guestbook],
  });
  const http = await listen(createApp(clusterServices(cluster), { contract, log, maxBodyBytes: 65_536 }), "127.0.0.1", port);
  await cluster.start();
  return {
    url: `http://127.0.0.1:${http.port}`,
    stop: async () => {
      await http.close();
      await cluster.shutdown();
    },
  };
}
