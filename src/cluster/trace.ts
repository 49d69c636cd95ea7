import { randomBytes } from "node:crypto";

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace a call belongs to travels
 * with it — in the `traceparent` HTTP header, in the wire call between runners, and through
 * entity-to-entity calls — and the framework's log lines about it carry its trace_id
 * (`traceFields`). It is passed along explicitly, as the call's own field: Node 20's
 * AsyncLocalStorage would carry it implicitly, but its promise hooks tax every promise of the
 * process (~12 µs of CPU per request, more for a forwarded one, which two runners serve).
 */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** This runner's span: 16 lowercase hex digits, not all zero. */
  readonly spanId: string;
  /** Trace flags, 2 hex digits (01 = sampled). */
  readonly flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZEROS = /^0+$/;

/**
 * The trace a `traceparent` header continues, or undefined when it is absent or malformed (the
 * spec's answer to a malformed header is to start a new trace, never to refuse the request).
 * Version ff is invalid; a future version is read by its first four fields.
 */
export function parseTraceparent(header: string | undefined): TraceContext | undefined {
  if (header === undefined || header.length > 512) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (ZEROS.test(traceId) || ZEROS.test(spanId)) return undefined;
  return { traceId, spanId, flags };
}

export function formatTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${trace.spanId}-${trace.flags}`;
}

/** A span of this runner's in `parent`'s trace, or the root span of a new trace (not sampled). */
export function startSpan(parent: TraceContext | undefined): TraceContext {
  if (parent) return { traceId: parent.traceId, spanId: randomHex(8), flags: parent.flags };
  return { traceId: randomHex(16), spanId: randomHex(8), flags: "00" };
}

/** Random bytes come from a pool refilled 4 KiB at a time: a trace costs no system call. */
let pool = Buffer.alloc(0);
let offset = 0;
function randomHex(bytes: number): string {
  for (;;) {
    if (offset + bytes > pool.length) {
      pool = randomBytes(4096);
      offset = 0;
    }
    const hex = pool.toString("hex", offset, offset + bytes);
    offset += bytes;
    if (!ZEROS.test(hex)) return hex;
  }
}

const NO_TRACE = {};

/** The fields a log line about a call of `trace` carries: `trace_id` and `span_id`. */
export function traceFields(trace: TraceContext | undefined): { trace_id?: string; span_id?: string } {
  return trace ? { trace_id: trace.traceId, span_id: trace.spanId } : NO_TRACE;
}
