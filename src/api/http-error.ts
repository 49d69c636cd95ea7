import { ClusterError, type ClusterErrorCode, Overloaded } from "../cluster/index.ts";

/** An error answered as JSON: `{ error, issues? }` with an HTTP status. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly issues?: readonly unknown[],
    readonly headers: Record<string, string> = {},
    /** More fields of the body: `/ready`'s `ready: false`, an overload refusal's `retry_after_ms`. */
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }

  body(): { error: string; issues?: readonly unknown[] } | { accepted: string } {
    // 202: not a failure (a workflow suspended on a durable wait; it goes on by itself).
    if (this.status < 400) return { accepted: this.message };
    return this.issues ? { error: this.message, issues: this.issues, ...this.extra } : { error: this.message, ...this.extra };
  }
}

/** The HTTP status of each framework error. */
export const HTTP_STATUS: Readonly<Record<ClusterErrorCode, number>> = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  NOT_FOUND: 404,
  CONFLICT: 409,
  ALREADY_EXISTS: 409,
  WORKFLOW_FAILED: 422,
  SUSPENDED: 202,
  INTERNAL: 500,
  NOT_IMPLEMENTED: 501,
  NOT_OWNER: 503,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  OVERLOADED: 503,
};

/** `Retry-After` takes whole seconds; a refusal's finer hint is in the body's `retry_after_ms`. */
export const retryAfterSeconds = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));

/** 503 `{error: "overloaded", retry_after_ms, reason}` with `Retry-After`: the call was not applied. */
function refusal(error: Overloaded): HttpError {
  const headers = { "Retry-After": retryAfterSeconds(error.retryAfterMs) };
  return new HttpError(503, "overloaded", undefined, headers, { retry_after_ms: error.retryAfterMs, reason: error.message });
}

interface Issue {
  readonly path?: readonly PropertyKey[];
  readonly message: string;
}

/** A readable one-line summary: `amount: Invalid input: expected number, received string`. */
function describe(issues: readonly Issue[]): string {
  return issues.map((i) => (i.path && i.path.length > 0 ? `${i.path.map(String).join(".")}: ${i.message}` : i.message)).join("; ");
}

/** A 400 listing the schema's complaints. */
export function invalidInput(issues: readonly Issue[]): HttpError {
  const simple = issues.map((i) => ({ path: (i.path ?? []).map(String), message: i.message }));
  return new HttpError(400, `invalid input: ${describe(issues)}`, simple);
}

/** Any error → the HTTP answer for it. Internal errors keep their message to the logs. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof Overloaded) return refusal(error);
  if (error instanceof ClusterError) {
    const status = HTTP_STATUS[error.code];
    return new HttpError(status, status === 500 ? "internal error" : error.message);
  }
  return new HttpError(500, "internal error");
}
