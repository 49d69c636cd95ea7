/**
 * Every failure the framework reports carries one of these codes; the API maps them to HTTP
 * statuses and the transport carries them between runners unchanged.
 */
export const CLUSTER_ERROR_CODES = [
  "BAD_REQUEST", // the caller's input is wrong; retrying will not help
  "NOT_FOUND",
  "CONFLICT", // the entity's state moved underneath this runner (storage fence)
  "ALREADY_EXISTS", // the name is taken by something else (an exec id run with other arguments)
  "WORKFLOW_FAILED", // the workflow itself failed; running the exec id again resumes it
  "SUSPENDED", // the workflow waits (a durable sleep or a signal) and resumes by itself; not an error of the call
  "NOT_OWNER", // this runner does not own the target's shard
  "UNAVAILABLE", // transient: storage, peer or ownership trouble; safe to retry with the same request id
  "TIMEOUT",
  "OVERLOADED", // refused at once, never queued nor applied: a limit was reached; retry after `retryAfterMs`
  "NOT_IMPLEMENTED",
  "UNAUTHENTICATED",
  "INTERNAL",
] as const;

export type ClusterErrorCode = (typeof CLUSTER_ERROR_CODES)[number];

export class ClusterError extends Error {
  override readonly name = "ClusterError";
  constructor(
    readonly code: ClusterErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A call refused because a bound was reached (see overload.ts); safe to retry with the same request id. */
export class Overloaded extends ClusterError {
  constructor(
    message: string,
    /** When a retry stands a chance, by the refusing runner's estimate. */
    readonly retryAfterMs: number,
  ) {
    super("OVERLOADED", message);
  }
}

export const badRequest = (message: string) => new ClusterError("BAD_REQUEST", message);
export const notFound = (message: string) => new ClusterError("NOT_FOUND", message);
/** Running a cancelled execution again, or a run of it that learns of the cancellation: a 409. */
export const executionCancelled = (execId: string, entity: string) =>
  new ClusterError("ALREADY_EXISTS", `execution ${execId} of ${entity} was cancelled by an operator; it never runs again`);

export function toClusterError(error: unknown): ClusterError {
  if (error instanceof ClusterError) return error;
  return new ClusterError("INTERNAL", error instanceof Error ? error.message : String(error), { cause: error });
}

/** A workflow step or activity whose body threw: the workflow fails unless it handles this. */
export class StepFailed extends ClusterError {
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super("WORKFLOW_FAILED", `${step} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** A signal wait that ran out of time: the workflow fails (and compensates) unless it catches this. */
export class SignalTimeout extends ClusterError {
  constructor(readonly signalName: string) {
    super("WORKFLOW_FAILED", `signal ${signalName} timed out`);
  }
}

/**
 * An entity or trait definition that cannot work (a missing handler, two parts claiming one name).
 * Thrown when the definition is made, at start-up, never while serving calls.
 */
export class DefinitionError extends Error {
  override readonly name = "DefinitionError";
}
