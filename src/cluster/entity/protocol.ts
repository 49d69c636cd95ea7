import type { z } from "zod";

/**
 * What the framework needs to know of an entity's RPCs. The contract's entity declarations satisfy
 * this shape; the framework never imports the contract itself.
 */
export interface RpcProtocol {
  readonly args: z.ZodType;
  readonly output: z.ZodType;
  /** Queries never change state: they skip serialization and commit. */
  readonly kind: "query" | "mutation";
  /** Runs as a durable workflow of the entity (see workflow.ts) rather than as a turn. */
  readonly workflow?: boolean;
}

export interface EntityProtocol {
  readonly type: string;
  readonly rpcs: Readonly<Record<string, RpcProtocol>>;
}
