import { randomBytes } from "node:crypto";
import type { MintedId } from "./call.ts";

/**
 * The request ids a router mints for the calls it forwards, and which of them it still waits
 * for, by entity. Each attempt tells the owner the lowest it still waits for (`settledBelow`):
 * the owner keeps replies only from there on, so a forwarded call costs no reply row.
 */
export class MintedIds {
  /** Random per process: a restarted runner's ids never meet its predecessor's. */
  readonly router = randomBytes(9).toString("base64url");
  private next = 0;
  /**
   * Entity key → the sequence numbers in flight to it, ascending (each is minted above all before
   * it): a number while it is one, as it nearly always is (no array to make and drop per call).
   */
  private readonly open = new Map<string, number | number[]>();

  mint(entity: string): number {
    const seq = this.next++;
    const open = this.open.get(entity);
    if (open === undefined) this.open.set(entity, seq);
    else if (typeof open === "number") this.open.set(entity, [open, seq]);
    else open.push(seq);
    return seq;
  }

  /** `seq`'s id for its next attempt. */
  id(entity: string, seq: number): MintedId {
    const open = this.open.get(entity);
    const lowest = open === undefined ? seq : typeof open === "number" ? open : (open[0] ?? seq);
    return { router: this.router, seq, settledBelow: lowest };
  }

  requestId(seq: number): string {
    return `${this.router}.${seq}`;
  }

  /** No attempt of `seq` will be sent any more: it was answered, or given up. */
  settle(entity: string, seq: number): void {
    const open = this.open.get(entity);
    if (open === seq) this.open.delete(entity);
    if (typeof open !== "object") return;
    const at = open.indexOf(seq);
    if (at >= 0) open.splice(at, 1);
    if (open.length === 1) this.open.set(entity, open[0] as number);
  }

  /** Entities with calls in flight (for tests: it must not grow with traffic). */
  get entities(): number {
    return this.open.size;
  }
}
