import * as grpc from "@grpc/grpc-js";
import type { Call } from "../call.ts";
import { deadlineExceeded } from "../deadline.ts";
import { ClusterError } from "../errors.ts";
import { limits } from "../limits.ts";
import type { Logger } from "../log.ts";
import { overloaded } from "../overload.ts";
import { BatchWriter } from "./batch-writer.ts";
import { callWeight, decodeReply, encodeCall, type WireCallBatch, type WireCallRequest, type WireReplyBatch } from "./wire.ts";

export type CallDuplex = grpc.ClientDuplexStream<WireCallBatch, WireReplyBatch>;

interface PendingCall {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly call: Call;
}

interface OpenStream {
  readonly stream: CallDuplex;
  readonly writer: BatchWriter<WireCallRequest, WireCallBatch>;
  /** The peer has answered on it: its breaking is news, unlike a stream that never got through. */
  answered: boolean;
}

// setTimeout's longest delay; a later deadline is re-checked when this one fires.
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * The calling side of the Calls stream to one peer. The stream is opened on the first call and
 * re-opened on the first call after it broke. When it breaks (peer gone, connection reset, the
 * server ended it), every call in flight on it fails with UNAVAILABLE: the router retries them
 * with their request ids, which the owner deduplicates. One timer, armed for the earliest
 * deadline, fails calls whose deadline passes with TIMEOUT.
 */
export class CallStream {
  private current: OpenStream | undefined;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 1;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly peer: string,
    private readonly open: () => CallDuplex,
    private readonly log: Logger,
  ) {}

  call(call: Call): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (call.deadline <= Date.now()) return reject(this.timeout(call));
      // Bounded forwarding: past the bound a call is refused here, not queued for the peer.
      if (this.pending.size >= limits.forwardQueue) {
        return reject(overloaded("forwarding", `${this.pending.size} calls wait for ${this.peer} (forwarding queue full)`));
      }
      const id = this.nextId++;
      const request = encodeCall(id, call);
      this.pending.set(id, { resolve, reject, call });
      (this.current ?? this.connect()).writer.push(request);
      if (call.deadline < this.timerAt) this.arm(call.deadline);
    });
  }

  /** Fails the calls in flight with `error` and cancels the stream; the next call opens a new one. */
  fail(error: ClusterError): void {
    const current = this.current;
    if (current) this.broken(current.stream, error);
  }

  private connect(): OpenStream {
    const stream = this.open();
    const writer = new BatchWriter<WireCallRequest, WireCallBatch>(stream, (calls) => ({ calls }), callWeight);
    const current: OpenStream = { stream, writer, answered: false };
    this.current = current;
    stream.on("data", (batch: WireReplyBatch) => {
      current.answered = true;
      for (const reply of batch.replies) {
        const call = this.pending.get(reply.id);
        // Already failed with TIMEOUT, or with the stream (ids are never reused, even across streams).
        if (!call) continue;
        this.settled(reply.id);
        try {
          call.resolve(decodeReply(reply));
        } catch (error) {
          call.reject(error);
        }
      }
    });
    stream.on("error", (error: grpc.ServiceError) => this.broken(stream, fromStreamError(this.peer, error)));
    // The server ended the stream (it is shutting down): the calls still in flight get no reply.
    stream.on("end", () => this.broken(stream, new ClusterError("UNAVAILABLE", `peer ${this.peer} ended the call stream`)));
    return current;
  }

  private broken(stream: CallDuplex, error: ClusterError): void {
    const current = this.current;
    if (current?.stream !== stream) return;
    this.current = undefined;
    current.writer.close();
    // Sends RST_STREAM unless the stream already ended: the peer stops writing to it.
    stream.cancel();
    const calls = [...this.pending.values()];
    this.pending.clear();
    this.disarm();
    // Logged once per stream that worked; while a peer is unreachable every retry fails another one.
    const level = current.answered ? "warn" : "debug";
    this.log[level]({ peer: this.peer, calls: calls.length, err: error.message }, "call stream to peer closed");
    for (const call of calls) call.reject(error);
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.disarm();
  }

  private arm(deadline: number): void {
    clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(this.expire, Math.min(Math.max(0, deadline - Date.now()), MAX_DELAY_MS));
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private readonly expire = (): void => {
    this.disarm();
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, pending] of this.pending) {
      const { deadline } = pending.call;
      if (deadline > now) next = Math.min(next, deadline);
      else {
        this.pending.delete(id);
        pending.reject(this.timeout(pending.call));
      }
    }
    if (next < Number.POSITIVE_INFINITY) this.arm(next);
  };

  private timeout(call: Call): ClusterError {
    return deadlineExceeded(call, `did not answer from ${this.peer} before the call's deadline`);
  }
}

function fromStreamError(peer: string, error: grpc.ServiceError): ClusterError {
  if (error.code === grpc.status.UNAUTHENTICATED) return new ClusterError("UNAUTHENTICATED", `${peer} refused our cluster secret`);
  // Unreachable, reset, cancelled because the peer left: the calls may be retried elsewhere.
  return new ClusterError("UNAVAILABLE", `peer ${peer}: ${error.details || error.message}`);
}
