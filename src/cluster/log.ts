import pino from "pino";
import { currentTrace } from "./trace.ts";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
export type Logger = pino.Logger;

const NO_TRACE = {};

/** The trace of the call being served, on every line written while serving it (pino runs this only for lines it writes). */
function traceFields(): object {
  const trace = currentTrace();
  return trace ? { trace_id: trace.traceId, span_id: trace.spanId } : NO_TRACE;
}

/** One line of JSON per event on stdout. */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: bindings,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: traceFields,
  });
}

/** A logger that drops everything, for tests that do not care. */
export const silentLogger: Logger = pino({ level: "silent" });
