import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import postgres from "postgres";
import { test } from "uvu";
import * as assert from "uvu/assert";

/**
 * A scripted Postgres on an in-memory socket: it accepts the startup message and answers every
 * simple query with an empty result. Each connection attempt gets a new socket.
 */
class FakeServer {
  readonly sockets: Duplex[] = [];
  startups = 0;

  socket(): Duplex {
    const server = this;
    const socket: Duplex = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        for (let at = 0; at < chunk.length; ) {
          // The startup message has no type byte: its first int32 is the length, then protocol 3.0.
          if (chunk.readInt32BE(at + 4) === 196_608) {
            server.startups++;
            socket.push(Buffer.concat([message("R", int32(0)), message("Z", Buffer.from("I"))]));
            at += chunk.readInt32BE(at);
            continue;
          }
          const type = String.fromCharCode(chunk[at] as number);
          if (type === "Q") socket.push(Buffer.concat([message("C", Buffer.from("SELECT 0\0")), message("Z", Buffer.from("I"))]));
          at += 1 + chunk.readInt32BE(at + 1);
        }
        done();
      },
    });
    this.sockets.push(socket);
    return socket;
  }
}

/** `promise`, or a rejection once `ms` have passed. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const message = (type: string, body: Buffer) => Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);

test("postgres-js: a connection closed while a write is pending reconnects and serves again (scripts/patches/postgres-js.mjs)", async () => {
  const server = new FakeServer();
  // `socket` (a function returning the connection's socket) is an option the typings leave out.
  const options = {
    socket: () => server.socket() as unknown as Socket,
    max: 1,
    fetch_types: false,
    connect_timeout: 2,
    onnotice: () => {},
  };
  const sql = postgres(options);
  try {
    // Every step is bounded: a stuck driver must fail this test, not hang the suite.
    await within(5_000, sql.unsafe("select 1").simple());
    // A query is issued (its bytes wait for setImmediate) and the server drops the connection
    // before they are flushed, as when Postgres restarts.
    const lost = sql.unsafe("select 2").simple();
    (server.sockets[0] as Duplex).destroy();
    await within(
      5_000,
      lost.catch(() => {}),
    );
    // Unpatched, the reconnect's startup message is never flushed and this times out (CONNECT_TIMEOUT).
    await within(5_000, sql.unsafe("select 3").simple());
    assert.is(server.startups, 2);
  } finally {
    // The fake sockets never report a close on their own: end without waiting, then drop them.
    void sql.end({ timeout: 0 });
    for (const s of server.sockets) s.destroy();
  }
});

test.run();
