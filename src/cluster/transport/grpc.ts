import { timingSafeEqual } from "node:crypto";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { CLUSTER_ERROR_CODES, ClusterError, type ClusterErrorCode, toClusterError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** A call crossing from one runner to another. */
export interface CallEnvelope {
  readonly requestId: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly rpc: string;
  readonly payload: unknown;
  readonly callChain: readonly string[];
  /** Epoch milliseconds. */
  readonly deadline: number;
  readonly fresh: boolean;
}

export interface RemoteEntity {
  readonly entity_type: string;
  readonly entity_id: string;
  readonly shard_id: number;
}

/** What a runner answers to its peers. */
export interface InboundHandler {
  call(envelope: CallEnvelope): Promise<unknown>;
  activeEntities(): RemoteEntity[];
}

interface WireCallRequest {
  request_id: string;
  entity_type: string;
  entity_id: string;
  rpc: string;
  payload: string;
  call_chain: string[];
  deadline: number;
  fresh: boolean;
}
interface WireCallReply {
  ok?: string;
  error?: { code: string; message: string };
  result?: "ok" | "error";
}
interface WireEntityList {
  runner: string;
  entities: RemoteEntity[];
}
type Callback<T> = (error: grpc.ServiceError | null, value?: T) => void;
interface RunnerClient extends grpc.Client {
  Call(
    request: WireCallRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: Callback<WireCallReply>,
  ): grpc.ClientUnaryCall;
  ActiveEntities(
    request: object,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: Callback<WireEntityList>,
  ): grpc.ClientUnaryCall;
}

const protoPath = fileURLToPath(new URL("./cluster.proto", import.meta.url));
const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: Number, defaults: true, oneofs: true });
const RunnerService = (grpc.loadPackageDefinition(definition) as unknown as { cluster: { Runner: grpc.ServiceClientConstructor } }).cluster
  .Runner;

const SECRET_HEADER = "x-cluster-secret";
const CODES = new Set<string>(CLUSTER_ERROR_CODES);
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Notice a dead peer within seconds even when no call is in flight.
  "grpc.keepalive_time_ms": 5_000,
  "grpc.keepalive_timeout_ms": 2_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.max_send_message_length": 64 * 1024 * 1024,
};

export interface GrpcTransportOptions {
  /** host:port peers reach this runner at; also this runner's id. */
  readonly address: string;
  /** host:port to bind, when it differs from `address` (e.g. behind a proxy). */
  readonly bind?: string | undefined;
  readonly secret: string | undefined;
  readonly log: Logger;
}

/**
 * The runners' wire: one gRPC server per runner, one cached channel per peer. Application errors
 * travel inside the reply with their ClusterError code; transport failures become UNAVAILABLE.
 */
export class GrpcTransport {
  private readonly server = new grpc.Server(CHANNEL_OPTIONS);
  private readonly clients = new Map<string, RunnerClient>();
  private readonly inflight = new Map<string, Set<grpc.ClientUnaryCall>>();

  constructor(private readonly options: GrpcTransportOptions) {}

  /** Starts serving `handler` on the runner's address. */
  listen(handler: InboundHandler): Promise<void> {
    const authorized = (call: grpc.ServerUnaryCall<unknown, unknown>) => this.authorized(call.metadata);
    this.server.addService(RunnerService.service, {
      Call: (call: grpc.ServerUnaryCall<WireCallRequest, WireCallReply>, reply: grpc.sendUnaryData<WireCallReply>) => {
        if (!authorized(call)) return reply({ code: grpc.status.UNAUTHENTICATED, details: "bad or missing cluster secret" });
        const r = call.request;
        const envelope: CallEnvelope = {
          requestId: r.request_id,
          entityType: r.entity_type,
          entityId: r.entity_id,
          rpc: r.rpc,
          payload: r.payload === "" ? undefined : JSON.parse(r.payload),
          callChain: r.call_chain,
          deadline: Number(r.deadline),
          fresh: r.fresh,
        };
        handler.call(envelope).then(
          (value) => reply(null, { ok: JSON.stringify(value ?? null) }),
          (error: unknown) => {
            const e = toClusterError(error);
            if (e.code === "INTERNAL") this.options.log.error({ err: error }, "forwarded call failed");
            reply(null, { error: { code: e.code, message: e.message } });
          },
        );
      },
      ActiveEntities: (call: grpc.ServerUnaryCall<object, WireEntityList>, reply: grpc.sendUnaryData<WireEntityList>) => {
        if (!authorized(call)) return reply({ code: grpc.status.UNAUTHENTICATED, details: "bad or missing cluster secret" });
        reply(null, { runner: this.options.address, entities: handler.activeEntities() });
      },
      Ping: (call: grpc.ServerUnaryCall<object, { runner: string }>, reply: grpc.sendUnaryData<{ runner: string }>) => {
        if (!authorized(call)) return reply({ code: grpc.status.UNAUTHENTICATED, details: "bad or missing cluster secret" });
        reply(null, { runner: this.options.address });
      },
    });
    return new Promise((resolve, reject) => {
      this.server.bindAsync(this.options.bind ?? this.options.address, grpc.ServerCredentials.createInsecure(), (error) =>
        error ? reject(error) : resolve(),
      );
    });
  }

  /** Sends an entity call to `peer` and returns its reply. */
  call(peer: string, envelope: CallEnvelope): Promise<unknown> {
    const request: WireCallRequest = {
      request_id: envelope.requestId,
      entity_type: envelope.entityType,
      entity_id: envelope.entityId,
      rpc: envelope.rpc,
      payload: JSON.stringify(envelope.payload ?? null),
      call_chain: [...envelope.callChain],
      deadline: envelope.deadline,
      fresh: envelope.fresh,
    };
    return this.unary<WireCallReply>(peer, envelope.deadline, (client, metadata, options, callback) =>
      client.Call(request, metadata, options, callback),
    ).then((reply) => {
      if (reply.error) {
        const code = CODES.has(reply.error.code) ? (reply.error.code as ClusterErrorCode) : "INTERNAL";
        throw new ClusterError(code, reply.error.message);
      }
      return JSON.parse(reply.ok ?? "null");
    });
  }

  async activeEntities(peer: string, timeoutMs: number): Promise<RemoteEntity[]> {
    const list = await this.unary<WireEntityList>(peer, Date.now() + timeoutMs, (client, metadata, options, callback) =>
      client.ActiveEntities({}, metadata, options, callback),
    );
    return list.entities;
  }

  /** A peer left the cluster: fail its in-flight calls now (callers retry elsewhere), drop its channel. */
  forget(peer: string): void {
    for (const call of this.inflight.get(peer) ?? []) call.cancel();
    this.inflight.delete(peer);
    this.clients.get(peer)?.close();
    this.clients.delete(peer);
  }

  async close(): Promise<void> {
    for (const peer of [...this.clients.keys()]) this.forget(peer);
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  private unary<T>(
    peer: string,
    deadline: number,
    start: (client: RunnerClient, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback<T>) => grpc.ClientUnaryCall,
  ): Promise<T> {
    const metadata = new grpc.Metadata();
    if (this.options.secret) metadata.set(SECRET_HEADER, this.options.secret);
    return new Promise<T>((resolve, reject) => {
      const calls = this.inflight.get(peer) ?? new Set();
      this.inflight.set(peer, calls);
      const call = start(this.client(peer), metadata, { deadline: new Date(deadline) }, (error, value) => {
        calls.delete(call);
        if (error) reject(fromGrpcError(peer, error));
        else resolve(value as T);
      });
      calls.add(call);
    });
  }

  private client(peer: string): RunnerClient {
    let client = this.clients.get(peer);
    if (!client) {
      client = new RunnerService(peer, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as unknown as RunnerClient;
      this.clients.set(peer, client);
    }
    return client;
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
    default:
      // Unreachable, cancelled because the peer left, reset: the call may be retried elsewhere.
      return new ClusterError("UNAVAILABLE", `peer ${peer}: ${error.details || error.message}`);
  }
}
