import { ApiError, type Client } from "../../src/client.ts";
import type { Random } from "./random.ts";

/** One logical operation of a workload: sent, and retried with the same key, until acknowledged. */
export interface Operation<T = unknown> {
  /** Idempotency key (or exec/timer id) that every attempt of this operation reuses. */
  readonly key: string;
  /** Sent once, never retried: a call without an idempotency key (a retry would be another call). */
  readonly once?: boolean;
  send(api: Client, signal: AbortSignal): Promise<T>;
  /** The operation was acknowledged with `reply`. */
  acknowledged(reply: T): void;
}

/** What a kind checks once the faults have stopped. */
export interface Verdict {
  /** Acknowledged operations whose effect is missing. */
  readonly lost: number;
  /** Operations whose effect was applied more than once. */
  readonly duplicated: number;
  /** Anything else that must never happen, described (phantom writes, unsettled operations, …). */
  readonly anomalies: readonly string[];
}

/**
 * A kind of workload (counter increments, KV sets, …). Kinds whose routes answer 501 (features not
 * built yet on this branch) are skipped: they switch on by themselves once the routes exist.
 */
export interface WorkloadKind {
  readonly name: string;
  /** Concurrent client loops of this kind. */
  readonly loops: number;
  /** Whether the cluster serves this kind now. */
  available(api: Client): Promise<boolean>;
  /** The next operation of client loop `loop`. */
  next(loop: number, random: Random): Operation;
  /**
   * After the faults: brings every operation that was never acknowledged to a known outcome
   * (re-sending it with its key), then checks the invariants.
   */
  verify(cluster: Endpoints): Promise<Verdict>;
}

/** The runners' APIs, reached the way a client behind a load balancer would: any runner, any time. */
export interface Endpoints {
  readonly clients: readonly Client[];
  /** Sends `op` until it is acknowledged or `timeoutMs` passes; true when acknowledged. */
  settle(op: Operation, timeoutMs: number): Promise<boolean>;
  /**
   * A read of the outcome, from any runner, retried while the cluster answers 5xx (an entity's
   * shard may still be settling at its owner) for up to 30 s; a 4xx or the last failure throws.
   */
  read<T>(query: (api: Client) => Promise<T>): Promise<T>;
}

/** Counts kept for each kind while the faults run. */
export interface KindStats {
  operations: number;
  acknowledged: number;
  attempts: number;
  failedAttempts: number;
  /** Failed attempts by cause: HTTP status, `timeout` or `network`. */
  failures: Record<string, number>;
  latenciesMs: number[];
}

export const emptyStats = (): KindStats => ({
  operations: 0,
  acknowledged: 0,
  attempts: 0,
  failedAttempts: 0,
  failures: {},
  latenciesMs: [],
});

/** How long one attempt may take before the client gives up on it and retries. */
export const ATTEMPT_TIMEOUT_MS = 8_000;
/** Statuses a client retries with the same key; any other answer ends the operation. */
const RETRYABLE = new Set([500, 502, 503, 504]);

/** Why an attempt failed, for the report. */
export function failureCause(error: unknown): string {
  if (error instanceof ApiError) return String(error.status);
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) return "timeout";
  return "network";
}

export function retryable(error: unknown): boolean {
  return !(error instanceof ApiError) || RETRYABLE.has(error.status);
}

/**
 * Runs `op` against a random runner per attempt until it is acknowledged, it fails for good (a 4xx:
 * a bug in the harness or the cluster, reported), or `until` returns false between attempts.
 * Returns true when acknowledged.
 */
export async function drive(
  op: Operation,
  clients: readonly Client[],
  random: Random,
  stats: KindStats | undefined,
  until: () => boolean,
): Promise<boolean> {
  const started = performance.now();
  for (let attempt = 0; until(); attempt++) {
    const api = random.pick(clients);
    if (stats) stats.attempts++;
    try {
      const reply = await op.send(api, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS));
      op.acknowledged(reply);
      stats?.latenciesMs.push(performance.now() - started);
      return true;
    } catch (error) {
      if (stats) {
        stats.failedAttempts++;
        const cause = failureCause(error);
        stats.failures[cause] = (stats.failures[cause] ?? 0) + 1;
      }
      if (!retryable(error)) throw error;
      if (op.once) return false;
      await pause(attempt, random);
    }
  }
  return false;
}

/** Between attempts: the runner may be down, or ownership may be moving. */
const pause = (attempt: number, random: Random) =>
  new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 25 * 2 ** Math.min(attempt, 5)) * (0.5 + random.next())));

/** How long `Endpoints.read` keeps trying a runner that answers 5xx or not at all. */
const READ_PATIENCE_MS = 30_000;

/** `Endpoints.read`: `query` against a random runner per attempt, retried as `drive` retries. */
export async function readOutcome<T>(query: (api: Client) => Promise<T>, clients: readonly Client[], random: Random): Promise<T> {
  const deadline = Date.now() + READ_PATIENCE_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await query(random.pick(clients));
    } catch (error) {
      if (!retryable(error) || Date.now() >= deadline) throw error;
      await pause(attempt, random);
    }
  }
}

/** False when `probe` answers 501: the route exists in the contract, the feature not yet. */
export async function implemented(probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 501) return false;
    throw error;
  }
}

/** A kind whose operations go to a handful of entities of one type, with ids fresh for each run. */
export abstract class EntityWorkload implements WorkloadKind {
  protected readonly ids: string[];

  constructor(
    readonly name: string,
    run: string,
    readonly loops: number,
    entities: number,
  ) {
    this.ids = Array.from({ length: entities }, (_, k) => `chaos-${run}-${name}-${k}`);
  }

  /** Served unless a kind says otherwise (features that may not be built yet). */
  available(_api: Client): Promise<boolean> {
    return Promise.resolve(true);
  }

  abstract next(loop: number, random: Random): Operation;
  abstract verify(cluster: Endpoints): Promise<Verdict>;
}
