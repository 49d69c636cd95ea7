import type { z } from "zod";
import type { EntityAddress } from "./address.ts";
import type { EntityProtocol, RpcProtocol } from "./protocol.ts";
import type { Database } from "./storage/database.ts";
import type { ExecutionReader, WorkflowDefinition, WorkflowImplementation } from "./workflow.ts";

/** A storage write that commits (or not) together with a turn's state. */
export type TxWrite = (tx: Database) => Promise<void>;

/** What a handler may use besides its state and arguments. */
export interface EntityContext {
  readonly self: EntityAddress;
  /** The id of the call being handled, when the caller gave one (retries reuse it). */
  readonly requestId: string | undefined;
  /** The turn's clock: one instant per turn, so a handler's timestamps agree with each other. */
  readonly now: Date;
  /** This entity's workflow executions, as storage has them now. */
  readonly workflows: ExecutionReader;
  /**
   * Runs `write` in the transaction that commits this call's state change: both happen or neither
   * does. Dropped if the handler throws. Mutations only.
   */
  transact(write: TxWrite): void;
  /** Runs `effect` once this call's state change is durable; dropped if it never becomes so. */
  afterCommit(effect: () => void): void;
  /**
   * Calls an RPC of another entity (or of this one) wherever it lives. The call carries this
   * call's chain, so a call back into an entity already in the chain runs inside its turn.
   */
  call<P extends EntityProtocol, K extends keyof P["rpcs"] & string>(
    protocol: P,
    id: string,
    rpc: K,
    args: z.input<P["rpcs"][K]["args"]>,
  ): Promise<z.output<P["rpcs"][K]["output"]>>;
}

/**
 * A handler reads and (for mutations) changes `state` in place, and returns the reply. If it
 * throws, its changes are rolled back and the caller gets the error.
 */
export type Handler<S, A, O> = (state: S, args: A, ctx: EntityContext) => O | Promise<O>;

type ArgsOf<R extends RpcProtocol> = z.output<R["args"]>;
type ReplyOf<R extends RpcProtocol> = z.input<R["output"]>;

type IsWorkflow<R extends RpcProtocol> = R extends { readonly workflow: true } ? true : false;

/** A handler for every RPC that is not a workflow. */
export type Handlers<P extends EntityProtocol, S> = {
  readonly [K in keyof P["rpcs"] as IsWorkflow<P["rpcs"][K]> extends true ? never : K]: Handler<
    S,
    ArgsOf<P["rpcs"][K]>,
    ReplyOf<P["rpcs"][K]>
  >;
};

/** A definition for every RPC that is a workflow. */
export type Workflows<P extends EntityProtocol, S> = {
  readonly [K in keyof P["rpcs"] as IsWorkflow<P["rpcs"][K]> extends true ? K : never]: WorkflowDefinition<
    S,
    ArgsOf<P["rpcs"][K]>,
    ReplyOf<P["rpcs"][K]>
  >;
};

/** Something to apply in an entity's mailbox: an RPC handler, or a turn the framework makes (an activity). */
export interface TurnImplementation {
  readonly kind: RpcProtocol["kind"];
  readonly handler: Handler<unknown, unknown, unknown>;
}

/** An RPC as the runtime sees it, with types erased: a turn in the mailbox, or a workflow. */
export type RpcImplementation = (TurnImplementation & { readonly args: z.ZodType }) | WorkflowRpc;

export interface WorkflowRpc {
  readonly kind: "workflow";
  readonly args: z.ZodType;
  readonly workflow: WorkflowImplementation;
}

/** An entity type as the runtime sees it. */
export interface EntityType {
  readonly name: string;
  readonly rpcs: ReadonlyMap<string, RpcImplementation>;
  /** Validates state loaded from storage (and fills defaults added since it was written). */
  readonly decodeState: (raw: unknown) => unknown;
  readonly initialState: () => unknown;
}

export type EntityDefinitionInput<P extends EntityProtocol, S> = {
  readonly state: z.ZodType<S>;
  readonly initial: () => S;
  readonly handlers: Handlers<P, S>;
} & (keyof Workflows<P, S> extends never ? { readonly workflows?: undefined } : { readonly workflows: Workflows<P, S> });

/** Binds handlers and workflows to an entity's declared RPCs. */
export function defineEntity<P extends EntityProtocol, S>(protocol: P, definition: EntityDefinitionInput<P, S>): EntityType {
  const handlers = definition.handlers as Record<string, Handler<unknown, unknown, unknown> | undefined>;
  const workflows = (definition.workflows ?? {}) as Record<string, WorkflowImplementation | undefined>;
  const rpcs = new Map<string, RpcImplementation>();
  for (const [name, declared] of Object.entries(protocol.rpcs)) {
    // The types make these complete; the checks catch definitions that bypassed them.
    if (declared.workflow) {
      const workflow = workflows[name];
      if (!workflow) throw new Error(`entity ${protocol.type}: no workflow for RPC ${name}`);
      rpcs.set(name, { kind: "workflow", args: declared.args, workflow });
    } else {
      const handler = handlers[name];
      if (!handler) throw new Error(`entity ${protocol.type}: no handler for RPC ${name}`);
      rpcs.set(name, { kind: declared.kind, args: declared.args, handler });
    }
  }
  return {
    name: protocol.type,
    rpcs,
    decodeState: (raw) => definition.state.parse(raw),
    initialState: definition.initial,
  };
}
