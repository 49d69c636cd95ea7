import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy that delays every chunk by a settable latency, in both directions and in order: a
 * slow link between runners. Peers reach a runner at the proxy's port (its RUNNER_ADDRESS) and
 * the proxy forwards to the port the runner's gRPC server binds (GRPC_LISTEN_ADDR). A runner that
 * is down or paused behaves exactly as it would without the proxy: refused or silent.
 */
export class DelayProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Added one-way latency, in milliseconds (plus up to `jitterMs`). */
  latencyMs = 0;
  jitterMs = 0;

  constructor(
    private readonly listen: { host: string; port: number },
    private readonly target: { host: string; port: number },
  ) {}

  start(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.listen.port, this.listen.host, () => resolve());
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(client: Socket): void {
    const upstream = createConnection(this.target);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.setNoDelay(true);
      s.on("close", () => this.sockets.delete(s));
    }
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  /** Forwards `from` → `to`, each chunk no earlier than its arrival + latency, never reordered. */
  private pipe(from: Socket, to: Socket): void {
    let releaseAt = 0;
    let queued = 0;
    let ended = false;
    const closeIfDone = () => {
      if (ended && queued === 0) to.end();
    };
    from.on("data", (chunk: Buffer) => {
      const delay = this.latencyMs + (this.jitterMs > 0 ? Math.random() * this.jitterMs : 0);
      if (delay === 0 && queued === 0) {
        to.write(chunk);
        return;
      }
      releaseAt = Math.max(releaseAt, Date.now() + delay);
      queued++;
      setTimeout(() => {
        queued--;
        if (!to.destroyed) to.write(chunk);
        closeIfDone();
      }, releaseAt - Date.now());
    });
    from.on("end", () => {
      ended = true;
      closeIfDone();
    });
    from.on("error", () => to.destroy());
    from.on("close", () => {
      if (!ended) to.destroy();
    });
  }
}
