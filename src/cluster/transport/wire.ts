import type { Call } from "../call.ts";
import type { EntityAddress } from "../entity/address.ts";
import { CLUSTER_ERROR_CODES, ClusterError, type ClusterErrorCode, toClusterError } from "../errors.ts";

/** Where an entity lives, as the receiving runner computes it (the sender's shard is not trusted). */
export type Locate = (type: string, id: string) => EntityAddress;

/** What a runner answers to its peers. */
export interface InboundHandler {
  call(call: Call): Promise<unknown>;
  /** Where the entity of a call received lives, by this runner's reckoning. */
  readonly locate: Locate;
  activeEntities(): EntityAddress[];
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
  minted: boolean;
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
    minted: call.minted,
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
    minted: r.minted === true,
    callChain: r.call_chain,
    deadline: Number(r.deadline),
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
