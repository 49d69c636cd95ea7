import type { Health } from "../../contract/index.ts";
import type { ActiveEntityView, ShardView } from "../cluster/cluster.ts";

/** What the API needs from the runner; each group of the contract is served by one of these. */
export interface ApiServices {
  /** Calls an entity RPC wherever the entity lives. */
  callEntity(type: string, id: string, rpc: string, args: unknown, requestId: string | undefined): Promise<unknown>;
  /** Whether this runner hosts entities of `type` (the rest answer 501). */
  hasEntity(type: string): boolean;
  health(): Health;
  shards(): ShardView[];
  entities(localOnly: boolean): Promise<ActiveEntityView[]>;
  /** The cluster singleton's RPCs, once the runner hosts one. */
  singleton: SingletonService | undefined;
}

export interface SingletonService {
  nextSequence(): Promise<number>;
  leaderHistory(): Promise<unknown[]>;
  currentRunner(): Promise<string>;
  clearHistory(): Promise<null>;
  resetSequence(): Promise<null>;
}

/** Request-scoped context: the caller's idempotency key, if it sent one. */
export interface ApiContext {
  readonly requestId: string | undefined;
}
