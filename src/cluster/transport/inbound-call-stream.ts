import type * as grpc from "@grpc/grpc-js";
import { ClusterError, toClusterError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { BatchWriter } from "./batch-writer.ts";
import {
  decodeCall,
  errorReply,
  type InboundHandler,
  okReply,
  replyWeight,
  type WireCallBatch,
  type WireCallReply,
  type WireCallRequest,
  type WireReplyBatch,
} from "./wire.ts";

export type ServerCallDuplex = grpc.ServerDuplexStream<WireCallBatch, WireReplyBatch>;

/**
 * The serving side of one peer's Calls stream: runs each call it receives through `handler` and
 * writes the replies back, those that complete in the same tick as one message. A call whose
 * payload is not JSON is answered BAD_REQUEST; nothing a peer sends makes it throw.
 */
export class InboundCallStream {
  private inFlight = 0;
  private closing = false;
  private readonly writer: BatchWriter<WireCallReply, WireReplyBatch>;

  constructor(
    stream: ServerCallDuplex,
    private readonly handler: Pick<InboundHandler, "call" | "locate">,
    private readonly log: Logger,
  ) {
    this.writer = new BatchWriter<WireCallReply, WireReplyBatch>(stream, (replies) => ({ replies }), replyWeight);
    stream.on("data", (batch: WireCallBatch) => {
      for (const call of batch.calls) this.accept(call);
    });
    // The peer will send no more calls: answer those in flight, then end our side.
    stream.on("end", () => this.end());
    // The peer is gone (cancelled, connection lost): replies have nowhere to go.
    stream.on("cancelled", () => this.writer.close());
  }

  /** Answers the calls in flight, refuses new ones (UNAVAILABLE: the caller retries elsewhere), then ends the stream. */
  end(): void {
    this.closing = true;
    if (this.inFlight === 0) this.writer.end();
  }

  private accept(call: WireCallRequest): void {
    this.inFlight++;
    let result: Promise<unknown>;
    try {
      if (this.closing) throw new ClusterError("UNAVAILABLE", "runner is shutting down");
      result = this.handler.call(decodeCall(call, this.handler.locate));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (value) => this.reply(call.id, value),
      (error: unknown) => this.fail(call.id, error, call),
    );
  }

  private reply(id: number, value: unknown): void {
    let reply: WireCallReply;
    try {
      reply = okReply(id, value);
    } catch (error) {
      this.fail(id, error);
      return;
    }
    this.answered(reply);
  }

  private fail(id: number, error: unknown, call?: WireCallRequest): void {
    if (toClusterError(error).code === "INTERNAL") {
      // Named as the caller's lines name it: entity, RPC and trace (as the caller sent it).
      const about = call && { entity: `${call.entity_type}/${call.entity_id}`, rpc: call.rpc, traceparent: call.traceparent || undefined };
      this.log.error({ err: error, ...about }, "forwarded call failed");
    }
    this.answered(errorReply(id, error));
  }

  private answered(reply: WireCallReply): void {
    this.inFlight--;
    this.writer.push(reply);
    if (this.closing && this.inFlight === 0) this.writer.end();
  }
}
