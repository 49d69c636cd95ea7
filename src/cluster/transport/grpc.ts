import { timingSafeEqual } from "node:crypto";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Call } from "../call.ts";
import { deferDestroyInGoaway } from "../deno-http2.ts";
import type { EntityAddress } from "../entity/address.ts";
import { ClusterError } from "../errors.ts";
import { limits } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { TrafficSample } from "../metrics/traffic.ts";
import type { ClusterTls } from "../tls.ts";
import { type CallDuplex, CallStream } from "./call-stream.ts";
import { InboundCallStream, type ServerCallDuplex } from "./inbound-call-stream.ts";
import { decodeStatus, encodeStatus, type InboundHandler, type RunnerStatus, type WireRunnerStatus } from "./wire.ts";

interface WireEntityList {
  runner: string;
  entities: { entity_type: string; entity_id: string; shard_id: number }[];
}
interface WireTraffic {
  runner: string;
  samples: string;
}
type Callback<T> = (error: grpc.ServiceError | null, value?: T) => void;
type Unary<T> = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback<T>) => grpc.ClientUnaryCall;
interface RunnerClient extends grpc.Client {
  Calls(metadata: grpc.Metadata): CallDuplex;
  ActiveEntities(
    request: object,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: Callback<WireEntityList>,
  ): grpc.ClientUnaryCall;
  RunnerInfo(
    request: object,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: Callback<WireRunnerStatus>,
  ): grpc.ClientUnaryCall;
  Drain(
    request: { draining: boolean },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: Callback<WireRunnerStatus>,
  ): grpc.ClientUnaryCall;
  Traffic: Unary<WireTraffic>;
}

/** A peer's channel and the call stream multiplexed on it. */
interface Peer {
  readonly client: RunnerClient;
  readonly calls: CallStream;
}

const protoPath = fileURLToPath(new URL("./cluster.proto", import.meta.url));
const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: Number, defaults: true, oneofs: true });
const RunnerService = (grpc.loadPackageDefinition(definition) as unknown as { cluster: { Runner: grpc.ServiceClientConstructor } }).cluster
  .Runner;

const SECRET_HEADER = "x-cluster-secret";
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Notice a dead peer within seconds even when no call is in flight.
  "grpc.keepalive_time_ms": 5_000,
  "grpc.keepalive_timeout_ms": 2_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_receive_message_length": limits.maxMessageBytes,
  "grpc.max_send_message_length": limits.maxMessageBytes,
};

export interface GrpcTransportOptions {
  /** host:port peers reach this runner at; also this runner's id. */
  readonly address: string;
  /** host:port to bind, when it differs from `address` (e.g. behind a proxy). */
  readonly bind?: string | undefined;
  readonly secret: string | undefined;
  /** Mutual TLS: both sides present a certificate the cluster's CA signed, or the connection is refused. */
  readonly tls?: ClusterTls | undefined;
  readonly log: Logger;
}

/** The server's credentials: with TLS, a client without a certificate of the cluster's CA cannot connect. */
function serverCredentials(tls: ClusterTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true);
}

/**
 * A peer channel's credentials: the peer's certificate must come from the cluster's CA and name
 * the address dialled (peers are dialled by IP:port, so runner certificates carry IP SANs).
 */
function channelCredentials(tls: ClusterTls | undefined): grpc.ChannelCredentials {
  return tls ? grpc.credentials.createSsl(tls.ca, tls.key, tls.cert) : grpc.credentials.createInsecure();
}

function channelOptions(tls: ClusterTls | undefined): grpc.ChannelOptions {
  return tls?.serverName ? { ...CHANNEL_OPTIONS, "grpc.ssl_target_name_override": tls.serverName } : CHANNEL_OPTIONS;
}

/**
 * The runners' wire: one gRPC server per runner, one cached channel per peer. Entity calls to a
 * peer share one long-lived Calls stream (see CallStream); the rare ActiveEntities stays unary. Application errors travel inside the reply with their ClusterError code; transport
 * failures become UNAVAILABLE.
 */
export class GrpcTransport {
  private readonly server = new grpc.Server(CHANNEL_OPTIONS);
  private readonly peers = new Map<string, Peer>();
  private readonly inflight = new Map<string, Set<grpc.ClientUnaryCall>>();
  private readonly inbound = new Set<InboundCallStream>();

  constructor(private readonly options: GrpcTransportOptions) {
    // Under Deno, a peer's GOAWAY must not destroy a session inside nghttp2 (see deno-http2.ts).
    deferDestroyInGoaway();
  }

  /** Starts serving `handler` on the runner's address. */
  listen(handler: InboundHandler): Promise<void> {
    const authorized = (call: { metadata: grpc.Metadata }) => this.authorized(call.metadata);
    const refused = { code: grpc.status.UNAUTHENTICATED, details: "bad or missing cluster secret" };
    const unimplemented = { code: grpc.status.UNIMPLEMENTED, details: "this runner has no operator API" };
    this.server.addService(RunnerService.service, {
      Calls: (stream: ServerCallDuplex) => {
        // The secret is checked once, when the stream opens; every call on it is the peer's. (An
        // 'error' emitted on a grpc-js server stream ends it with that status.)
        if (!authorized(stream)) return void stream.emit("error", refused);
        const inbound = new InboundCallStream(stream, handler, this.options.log);
        this.inbound.add(inbound);
        stream.on("close", () => this.inbound.delete(inbound));
      },
      ActiveEntities: (call: grpc.ServerUnaryCall<object, WireEntityList>, reply: grpc.sendUnaryData<WireEntityList>) => {
        if (!authorized(call)) return reply(refused);
        const entities = handler.activeEntities().map((a) => ({ entity_type: a.type, entity_id: a.id, shard_id: a.shard }));
        reply(null, { runner: this.options.address, entities });
      },
      Traffic: (call: grpc.ServerUnaryCall<object, WireTraffic>, reply: grpc.sendUnaryData<WireTraffic>) => {
        if (!authorized(call)) return reply(refused);
        reply(null, { runner: this.options.address, samples: JSON.stringify(handler.traffic()) });
      },
      RunnerInfo: (call: grpc.ServerUnaryCall<object, WireRunnerStatus>, reply: grpc.sendUnaryData<WireRunnerStatus>) => {
        if (!authorized(call)) return reply(refused);
        if (!handler.status) return reply(unimplemented);
        reply(null, encodeStatus(handler.status()));
      },
      Drain: (call: grpc.ServerUnaryCall<{ draining: boolean }, WireRunnerStatus>, reply: grpc.sendUnaryData<WireRunnerStatus>) => {
        if (!authorized(call)) return reply(refused);
        if (!handler.drain) return reply(unimplemented);
        handler.drain(call.request.draining).then(
          (status) => reply(null, encodeStatus(status)),
          (error: unknown) =>
            reply({ code: grpc.status.FAILED_PRECONDITION, details: error instanceof Error ? error.message : String(error) }),
        );
      },
    });
    return new Promise((resolve, reject) => {
      this.server.bindAsync(this.options.bind ?? this.options.address, serverCredentials(this.options.tls), (error) =>
        error ? reject(error) : resolve(),
      );
    });
  }

  /** Sends an entity call to `peer` and returns its reply. */
  call(peer: string, call: Call): Promise<unknown> {
    return this.peer(peer).calls.call(call);
  }

  async activeEntities(peer: string, timeoutMs: number): Promise<EntityAddress[]> {
    const list = await this.unary<WireEntityList>(peer, timeoutMs, (c, m, o, cb) => c.ActiveEntities({}, m, o, cb));
    return list.entities.map((e) => ({ type: e.entity_type, id: e.entity_id, shard: e.shard_id }));
  }

  async traffic(peer: string, timeoutMs: number): Promise<TrafficSample[]> {
    const reply = await this.unary<WireTraffic>(peer, timeoutMs, (c, m, o, cb) => c.Traffic({}, m, o, cb));
    return JSON.parse(reply.samples) as TrafficSample[];
  }

  async status(peer: string, timeoutMs: number): Promise<RunnerStatus> {
    return decodeStatus(await this.unary<WireRunnerStatus>(peer, timeoutMs, (c, m, o, cb) => c.RunnerInfo({}, m, o, cb)));
  }

  async drain(peer: string, on: boolean, timeoutMs: number): Promise<RunnerStatus> {
    return decodeStatus(await this.unary<WireRunnerStatus>(peer, timeoutMs, (c, m, o, cb) => c.Drain({ draining: on }, m, o, cb)));
  }

  /** A unary call to `peer`, cancelled if the peer leaves (see forget). */
  private unary<T>(
    peer: string,
    timeoutMs: number,
    start: (client: RunnerClient, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback<T>) => grpc.ClientUnaryCall,
  ): Promise<T> {
    const client = this.peer(peer).client;
    return new Promise<T>((resolve, reject) => {
      const calls = this.inflight.get(peer) ?? new Set();
      this.inflight.set(peer, calls);
      const call = start(client, this.metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (error, value) => {
        calls.delete(call);
        if (error) reject(fromGrpcError(peer, error));
        else resolve(value as T);
      });
      calls.add(call);
    });
  }

  /** A peer left the cluster: fail its in-flight calls now (callers retry elsewhere), drop its channel. */
  forget(peer: string): void {
    for (const call of this.inflight.get(peer) ?? []) call.cancel();
    this.inflight.delete(peer);
    const known = this.peers.get(peer);
    if (!known) return;
    this.peers.delete(peer);
    known.calls.fail(new ClusterError("UNAVAILABLE", `peer ${peer} left the cluster`));
    known.client.close();
  }

  /** Forgets every peer, answers the calls peers have in flight here, ends their streams, stops serving. */
  async close(): Promise<void> {
    for (const peer of [...this.peers.keys()]) this.forget(peer);
    for (const inbound of this.inbound) inbound.end();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  private peer(address: string): Peer {
    let peer = this.peers.get(address);
    if (!peer) {
      const client = new RunnerService(
        address,
        channelCredentials(this.options.tls),
        channelOptions(this.options.tls),
      ) as unknown as RunnerClient;
      peer = { client, calls: new CallStream(address, () => client.Calls(this.metadata()), this.options.log) };
      this.peers.set(address, peer);
    }
    return peer;
  }

  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.options.secret) metadata.set(SECRET_HEADER, this.options.secret);
    return metadata;
  }

  private authorized(metadata: grpc.Metadata): boolean {
    const expected = this.options.secret;
    if (!expected) return true;
    const given = metadata.get(SECRET_HEADER)[0];
    if (typeof given !== "string") return false;
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}

function fromGrpcError(peer: string, error: grpc.ServiceError): ClusterError {
  switch (error.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return new ClusterError("TIMEOUT", `call to ${peer} timed out`);
    case grpc.status.UNAUTHENTICATED:
      return new ClusterError("UNAUTHENTICATED", `${peer} refused our cluster secret`);
    case grpc.status.FAILED_PRECONDITION:
      return new ClusterError("ALREADY_EXISTS", `${peer}: ${error.details}`);
    default:
      // Unreachable, cancelled because the peer left, reset: the call may be retried elsewhere.
      return new ClusterError("UNAVAILABLE", `peer ${peer}: ${error.details || error.message}`);
  }
}
