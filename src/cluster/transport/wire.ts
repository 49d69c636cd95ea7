import { CLUSTER_ERROR_CODES, ClusterError, type ClusterErrorCode, toClusterError } from "../errors.ts";

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
}
export interface WireCallReply {
  id: number;
  ok?: string;
  error?: { code: string; message: string };
  result?: "ok" | "error";
}
export interface WireCallBatch {
  calls: WireCallRequest[];
}
export interface WireReplyBatch {
  replies: WireCallReply[];
}

const CODES = new Set<string>(CLUSTER_ERROR_CODES);

export function encodeCall(id: number, envelope: CallEnvelope): WireCallRequest {
  return {
    id,
    request_id: envelope.requestId,
    entity_type: envelope.entityType,
    entity_id: envelope.entityId,
    rpc: envelope.rpc,
    payload: JSON.stringify(envelope.payload ?? null),
    call_chain: [...envelope.callChain],
    deadline: envelope.deadline,
    fresh: envelope.fresh,
  };
}

/** The call a peer sent; BAD_REQUEST when its payload is not JSON. */
export function decodeCall(r: WireCallRequest): CallEnvelope {
  let payload: unknown;
  try {
    payload = r.payload === "" ? undefined : JSON.parse(r.payload);
  } catch {
    throw new ClusterError("BAD_REQUEST", `call ${r.id}: payload is not JSON`);
  }
  return {
    requestId: r.request_id,
    entityType: r.entity_type,
    entityId: r.entity_id,
    rpc: r.rpc,
    payload,
    callChain: r.call_chain,
    deadline: Number(r.deadline),
    fresh: r.fresh,
  };
}

export function okReply(id: number, value: unknown): WireCallReply {
  return { id, ok: JSON.stringify(value ?? null) };
}

export function errorReply(id: number, error: unknown): WireCallReply {
  const e = toClusterError(error);
  return { id, error: { code: e.code, message: e.message } };
}

/** The result a reply carries; application errors are thrown with the code the owner gave them. */
export function decodeReply(reply: WireCallReply): unknown {
  if (reply.error) {
    const code = CODES.has(reply.error.code) ? (reply.error.code as ClusterErrorCode) : "INTERNAL";
    throw new ClusterError(code, reply.error.message);
  }
  return JSON.parse(reply.ok ?? "null");
}

/** Bytes a message spends on JSON text, for keeping batches well below the message size limit. */
export const callWeight = (call: WireCallRequest): number => call.payload.length;
export const replyWeight = (reply: WireCallReply): number => (reply.ok ?? reply.error?.message ?? "").length;
