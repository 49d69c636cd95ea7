import type { Call, MintedId } from "../call.ts";
import type { EntityAddress } from "../entity/address.ts";
import { CLUSTER_ERROR_CODES, ClusterError, type ClusterErrorCode, Overloaded, toClusterError } from "../errors.ts";
import type { TrafficSample } from "../metrics/traffic.ts";
import { formatTraceparent, parseTraceparent } from "../trace.ts";

/** Where an entity lives, as the receiving runner computes it (the sender's shard is not trusted). */
export type Locate = (type: string, id: string) => EntityAddress;

/** What an operator sees of a runner; on the wire, cluster.proto's RunnerStatus (dates as epoch ms, 0 for none). */
export interface RunnerStatus {
  readonly address: string;
  readonly runtime: "node" | "deno";
  readonly version: string;
  readonly startedAt: Date;
  readonly shardsOwned: number;
  readonly activeEntities: number;
  readonly lastKeepAlive: Date | undefined;
  readonly fencingDeadline: Date | undefined;
  readonly draining: boolean;
  readonly ready: boolean;
}

/** What a runner answers to its peers. */
export interface InboundHandler {
  call(call: Call): Promise<unknown>;
  /** Where the entity of a call received lives, by this runner's reckoning. */
  readonly locate: Locate;
  activeEntities(): EntityAddress[];
  /** This runner's recent traffic samples. */
  traffic(): readonly TrafficSample[];
  /** For operators; a runner without them answers UNIMPLEMENTED. */
  status?(): RunnerStatus;
  drain?(on: boolean): Promise<RunnerStatus>;
}

export interface WireRunnerStatus {
  address: string;
  runtime: string;
  version: string;
  started_at: number;
  shards_owned: number;
  active_entities: number;
  last_keepalive_at: number;
  fencing_deadline: number;
  draining: boolean;
  ready: boolean;
}

export function encodeStatus(s: RunnerStatus): WireRunnerStatus {
  return {
    address: s.address,
    runtime: s.runtime,
    version: s.version,
    started_at: s.startedAt.getTime(),
    shards_owned: s.shardsOwned,
    active_entities: s.activeEntities,
    last_keepalive_at: s.lastKeepAlive?.getTime() ?? 0,
    fencing_deadline: s.fencingDeadline?.getTime() ?? 0,
    draining: s.draining,
    ready: s.ready,
  };
}

export function decodeStatus(w: WireRunnerStatus): RunnerStatus {
  const date = (ms: number) => (Number(ms) > 0 ? new Date(Number(ms)) : undefined);
  return {
    address: w.address,
    runtime: w.runtime === "deno" ? "deno" : "node",
    version: w.version,
    startedAt: date(w.started_at) ?? new Date(0),
    shardsOwned: w.shards_owned,
    activeEntities: w.active_entities,
    lastKeepAlive: date(w.last_keepalive_at),
    fencingDeadline: date(w.fencing_deadline),
    draining: w.draining,
    ready: w.ready,
  };
}

/** The messages of cluster.proto's Calls stream, as proto-loader decodes them (keepCase, longs as numbers). */
export interface WireCallRequest {
  id: number;
  request_id: string;
  entity_type: string;
  entity_id: string;
  rpc: string;
  payload: string;
  call_chain: string[];
  deadline: number;
  fresh: boolean;
  traceparent: string;
  minted: boolean;
  minted_router: string;
  minted_seq: number;
  settled_below: number;
}
export interface WireCallReply {
  id: number;
  ok?: string;
  error?: { code: string; message: string; retry_after_ms?: number };
  result?: "ok" | "error";
}
export interface WireCallBatch {
  calls: WireCallRequest[];
}
export interface WireReplyBatch {
  replies: WireCallReply[];
}

const CODES = new Set<string>(CLUSTER_ERROR_CODES);

/** A call on the wire: a forwarded call always has a request id (the router mints one). */
export function encodeCall(id: number, call: Call): WireCallRequest {
  return {
    id,
    request_id: call.requestId ?? "",
    entity_type: call.address.type,
    entity_id: call.address.id,
    rpc: call.rpc,
    payload: JSON.stringify(call.args ?? null),
    call_chain: [...call.callChain],
    deadline: call.deadline,
    fresh: call.fresh,
    traceparent: call.trace ? formatTraceparent(call.trace) : "",
    minted: call.minted !== undefined,
    minted_router: call.minted?.router ?? "",
    minted_seq: call.minted?.seq ?? 0,
    settled_below: call.minted?.settledBelow ?? 0,
  };
}

/** The call a peer sent; BAD_REQUEST when its payload is not JSON. */
export function decodeCall(r: WireCallRequest, locate: Locate): Call {
  let payload: unknown;
  try {
    payload = r.payload === "" ? undefined : JSON.parse(r.payload);
  } catch {
    throw new ClusterError("BAD_REQUEST", `call ${r.id}: payload is not JSON`);
  }
  return {
    address: locate(r.entity_type, r.entity_id),
    rpc: r.rpc,
    args: payload,
    requestId: r.request_id === "" ? undefined : r.request_id,
    fresh: r.fresh,
    minted: mintedId(r),
    callChain: r.call_chain,
    deadline: Number(r.deadline),
    // A malformed one (a peer of another version) is dropped, as on HTTP.
    trace: r.traceparent ? parseTraceparent(r.traceparent) : undefined,
  };
}

/**
 * A minted id's marks, if well formed. Without them (a runner of before, or a malformed one) the
 * id is kept like a client's idempotency key: a reply row, 24 h. Safe, only dearer.
 */
function mintedId(r: WireCallRequest): MintedId | undefined {
  const seq = Number(r.minted_seq);
  const settledBelow = Number(r.settled_below);
  if (!r.minted || !r.minted_router || r.minted_router.length > 64) return undefined;
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(settledBelow) || settledBelow > seq || settledBelow < 0) return undefined;
  return { router: r.minted_router, seq, settledBelow };
}

export function okReply(id: number, value: unknown): WireCallReply {
  return { id, ok: JSON.stringify(value ?? null) };
}

export function errorReply(id: number, error: unknown): WireCallReply {
  const e = toClusterError(error);
  if (e instanceof Overloaded) return { id, error: { code: e.code, message: e.message, retry_after_ms: e.retryAfterMs } };
  return { id, error: { code: e.code, message: e.message } };
}

/** The result a reply carries; application errors are thrown with the code the owner gave them. */
export function decodeReply(reply: WireCallReply): unknown {
  if (reply.error) {
    // A peer's refusal reaches the client as it is: never retried inside the cluster.
    if (reply.error.code === "OVERLOADED") throw new Overloaded(reply.error.message, Number(reply.error.retry_after_ms ?? 0));
    const code = CODES.has(reply.error.code) ? (reply.error.code as ClusterErrorCode) : "INTERNAL";
    throw new ClusterError(code, reply.error.message);
  }
  return JSON.parse(reply.ok ?? "null");
}

/** Bytes a message spends on JSON text, for keeping batches well below the message size limit. */
export const callWeight = (call: WireCallRequest): number => call.payload.length;
export const replyWeight = (reply: WireCallReply): number => (reply.ok ?? reply.error?.message ?? "").length;
