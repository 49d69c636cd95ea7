import * as http2 from "node:http2";

type SessionMethod = (this: object, ...args: unknown[]) => unknown;
interface SessionPrototype {
  emit: SessionMethod;
  destroy: SessionMethod;
}

const guarded = Symbol.for("entity-cluster.deno-http2-goaway-guard");

/**
 * Deno's node:http2 (2.9.6) can destroy an HTTP/2 session from inside nghttp2's callback for a
 * GOAWAY frame the session received: right after the 'goaway' event it closes the session, as
 * @grpc/grpc-js's 'goaway' listener does too, and the close destroys a session with no stream
 * left at once. nghttp2 then goes on with the GOAWAY on the freed session, and the process dies:
 * nghttp2's assertion `stream->closed_next == NULL` in find_stream_on_goaway_func, glibc's
 * `free(): invalid pointer`, or a segfault. (Node's native session defers its teardown until
 * nghttp2 has returned.) A runner meets it whenever a peer closes its channel to it (a peer
 * forgetting a runner that left the cluster, seen by a paused runner as it wakes) and whenever
 * etcd restarts (Go's graceful GOAWAY to the etcd client).
 *
 * Under Deno this defers such a destroy to the next turn of the event loop, when nghttp2 is done
 * with the frame. Process-wide (every session, @grpc/grpc-js's and etcd3's alike) and idempotent;
 * a no-op on Node. Reproduction, without and with it: `node scripts/repro/deno-goaway.ts`.
 */
export function deferDestroyInGoaway(): void {
  if (!("Deno" in globalThis)) return;
  // Deno's node:http2 exports the session class (Node's does not).
  const Session = (http2 as unknown as { Http2Session?: { prototype: SessionPrototype } }).Http2Session;
  const proto = Session?.prototype as (SessionPrototype & { [guarded]?: true }) | undefined;
  if (!proto || proto[guarded]) return;
  const { emit, destroy } = proto;
  // Sessions whose received GOAWAY is being handled: from its 'goaway' event to the next turn.
  const inGoaway = new WeakSet<object>();
  proto.emit = function (this: object, event: unknown, ...args: unknown[]) {
    if (event === "goaway" && !inGoaway.has(this)) {
      inGoaway.add(this);
      setImmediate(() => inGoaway.delete(this));
    }
    return emit.call(this, event, ...args);
  };
  proto.destroy = function (this: object, ...args: unknown[]) {
    if (!inGoaway.has(this)) return destroy.apply(this, args);
    setImmediate(() => destroy.apply(this, args));
  };
  proto[guarded] = true;
}
