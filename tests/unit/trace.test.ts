import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatTraceparent, parseTraceparent, startSpan, traceFields } from "../../src/cluster/index.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

test("traceparent: a valid header is read, and written back the same", () => {
  const header = `00-${TRACE}-${SPAN}-01`;
  assert.equal(parseTraceparent(header), { traceId: TRACE, spanId: SPAN, flags: "01" });
  assert.is(formatTraceparent(parseTraceparent(header) as NonNullable<ReturnType<typeof parseTraceparent>>), header);
  // A future version may append fields: its first four are read.
  assert.equal(parseTraceparent(`01-${TRACE}-${SPAN}-00-more`), { traceId: TRACE, spanId: SPAN, flags: "00" });
});

test("traceparent: malformed headers are ignored (a new trace starts), never thrown at", () => {
  for (const bad of [
    undefined,
    "",
    "00-xyz",
    `00-${TRACE.toUpperCase()}-${SPAN}-01`,
    `00-${"0".repeat(32)}-${SPAN}-01`,
    `00-${TRACE}-${"0".repeat(16)}-01`,
    `ff-${TRACE}-${SPAN}-01`,
    `00-${TRACE}-${SPAN}-01-extra`,
    `00-${TRACE}-${SPAN}-1`,
    `00-${TRACE}-${SPAN}-01${"x".repeat(600)}`,
  ]) {
    assert.is(parseTraceparent(bad), undefined, String(bad));
  }
});

test("spans: a child keeps the trace and gets its own span; a root gets fresh ids", () => {
  const parent = { traceId: TRACE, spanId: SPAN, flags: "01" };
  const child = startSpan(parent);
  assert.is(child.traceId, TRACE);
  assert.is(child.flags, "01");
  assert.ok(/^[0-9a-f]{16}$/.test(child.spanId) && child.spanId !== SPAN);
  const roots = new Set(Array.from({ length: 1000 }, () => startSpan(undefined).traceId));
  assert.is(roots.size, 1000);
  for (const id of roots) assert.ok(/^[0-9a-f]{32}$/.test(id) && !/^0+$/.test(id));
});

test("a log line about a call carries its trace and span; one about no call, neither", () => {
  const trace = startSpan(undefined);
  assert.equal(traceFields(trace), { trace_id: trace.traceId, span_id: trace.spanId });
  assert.equal(traceFields(undefined), {});
});

test.run();
