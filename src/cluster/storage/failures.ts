import { ClusterError, toClusterError } from "../errors.ts";

/** Node's socket errors and the Postgres driver's own codes for a connection lost or never made. */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTCONN",
]);

/**
 * Whether a database error is transient (the statement may well succeed if the whole turn is tried
 * again) rather than the statement being refused: a lost connection, a server shutting down or
 * starting up (SQLSTATE class 08, 57P01–57P03), a serialization failure or a deadlock (40001, 40P01).
 * A constraint violation or a syntax error is not: retrying it would fail the same way.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const code = sqlState(error);
  if (typeof code !== "string") return false;
  return CONNECTION_CODES.has(code) || code.startsWith("08") || /^57P0[123]$/.test(code) || code === "40001" || code === "40P01";
}

/**
 * The SQLSTATE (or driver code) of a database error, if it has one: its own, or that of the
 * error it wraps (Drizzle reports a failed query as "Failed query: …" with the driver's error as
 * its cause).
 */
export function sqlState(error: unknown): unknown {
  for (let e = error, depth = 0; typeof e === "object" && e !== null && depth < 4; depth++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (code !== undefined) return code;
    e = cause;
  }
  return undefined;
}

/** What a caller is told of `error`: UNAVAILABLE (retry) for a transient database error. */
export function toCallerError(error: unknown, what: string): ClusterError {
  if (!isTransientDatabaseError(error)) return toClusterError(error);
  return new ClusterError("UNAVAILABLE", `${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
