import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of Postgres whose client connections a test resets, as a crashing peer or a
 * restarting Postgres would: `reset()` drops every connection with a TCP reset, `refuse()` stops
 * accepting new ones until `listen()` again, `resetOn(marker)` resets them all the moment a client
 * sends bytes containing `marker` (a statement's text: its query is then in flight).
 */
export class ResettingProxy {
  private readonly toClients = new Set<Socket>();
  private readonly server: Server;
  private port = 0;
  private trap: { marker: Buffer; sprung: () => void } | undefined;

  constructor(target: { host: string; port: number }) {
    this.server = createServer((client) => {
      const upstream = createConnection(target);
      this.toClients.add(client);
      client.on("close", () => this.toClients.delete(client));
      client.on("data", (chunk: Buffer) => this.spring(chunk));
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        from.on("error", () => to.destroy());
        from.on("close", () => to.destroy());
        from.pipe(to);
      }
    });
  }

  /** Listens (on the port it had, once it had one); resolves with the port. */
  listen(): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen(this.port, "127.0.0.1", () => {
        this.port = (this.server.address() as { port: number }).port;
        resolve(this.port);
      }),
    );
  }

  /** Refuses new connections until `listen` again (Postgres down); the open ones stay. */
  refuse(): void {
    this.server.close();
  }

  get connections(): number {
    return this.toClients.size;
  }

  reset(): void {
    for (const s of this.toClients) s.resetAndDestroy();
  }

  /** Resets every connection once a client sends `marker` (once); resolves when it has. */
  resetOn(marker: string): Promise<void> {
    return new Promise((sprung) => {
      this.trap = { marker: Buffer.from(marker), sprung };
    });
  }

  private spring(chunk: Buffer): void {
    if (!this.trap || !chunk.includes(this.trap.marker)) return;
    const { sprung } = this.trap;
    this.trap = undefined;
    this.reset();
    sprung();
  }

  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.reset();
    return closed;
  }
}

/** A listening proxy in front of the Postgres of `postgresUrl`, and the URL that goes through it. */
export async function proxyInFront(postgresUrl: string): Promise<{ proxy: ResettingProxy; url: string }> {
  const target = new URL(postgresUrl);
  const proxy = new ResettingProxy({ host: target.hostname, port: Number(target.port || 5432) });
  target.port = String(await proxy.listen());
  return { proxy, url: target.toString() };
}
