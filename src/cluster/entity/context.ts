import type { z } from "zod";
import type { Json } from "../json.ts";
import type { Database, SqlHandle } from "../storage/database.ts";
import type { Statement } from "../storage/statement.ts";
import type { ExecutionRecord } from "../storage/workflows/store.ts";
import type { TimerSink, Timers } from "../timers/timer.ts";
import type { EntityAddress } from "./address.ts";
import type { EntityProtocol, RpcProtocol } from "./protocol.ts";

/**
 * The types a turn is made of: what a handler sees (EntityContext), what the mailbox gives each
 * turn (TurnContext), and a turn's implementation. A leaf module: entities, traits, timers,
 * workflows and storage all speak these types without importing one another.
 */

/**
 * What `ctx.sql` hands a handler: a Drizzle handle on the turn's transaction, for the
 * application's own tables (its schema module; the query builder, `tx.select().from(table)…`).
 */
export type SqlTransaction = SqlHandle;

/**
 * A storage write that commits (or not) together with a turn's state: queries run in the turn's
 * transaction, or a fixed statement (the framework's own writes: a commit made only of those
 * sends them together, in one round trip).
 */
export type TxWrite = ((tx: Database) => Promise<void>) | Statement;

interface BaseContext {
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
  /**
   * Runs the application's own queries (its Drizzle schema, e.g. `tx.insert(transfers)…`) inside
   * this turn, and resolves with their result: they run in the transaction that then commits the
   * turn's state (and an activity's journal entry), so all of it commits or none of it does. If
   * the handler throws, its queries are rolled back. The turn's state is written (its version
   * compare-and-set is the fence) even when unchanged, so a stale owner's queries never commit.
   * While the transaction is open the entity runs no other call; do not await other entities
   * inside it (on PGlite, one connection, their storage would wait for this transaction).
   */
  sql<T>(query: (tx: SqlTransaction) => Promise<T>): Promise<T>;
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

/** What a handler may use besides its state and arguments. */
export interface EntityContext extends BaseContext {
  /** The entity's durable timers (entities defined with `onTimer`). */
  readonly timers: Timers;
}

/** What the mailbox gives each turn; handlers see it as an EntityContext. */
export interface TurnContext extends BaseContext {
  /** The shard owner's timer schedule, told of timer changes once they commit. */
  readonly timerSink: TimerSink | undefined;
}

/**
 * A handler reads and (for mutations) changes `state` in place, and returns the reply. If it
 * throws, its changes are rolled back and the caller gets the error.
 */
export type Handler<S, A, O> = (state: S, args: A, ctx: EntityContext) => O | Promise<O>;

/** A handler as the mailbox runs it, with types erased. */
export type TurnHandler = (state: unknown, args: unknown, turn: TurnContext) => unknown;

/** Something to apply in an entity's mailbox: an RPC handler, or a turn the framework makes (an activity, a timer fire). */
export interface TurnImplementation {
  readonly kind: RpcProtocol["kind"];
  readonly handler: TurnHandler;
  /**
   * Runs the read the handler begins with (the framework's workflow turns: their journal entry);
   * settles when it is done, and never rejects (the handler reports its failure). The mailbox runs
   * the reads of a whole batch together and applies the batch once all have settled, so that its
   * turns neither wait for one read after another nor run asynchronously. Each read still sees all
   * that the batches before it committed, as a read made inside the turn would; neither sees the
   * uncommitted writes of the turns ahead of it in its own batch.
   */
  readonly prefetch?: () => Promise<void>;
}

/** The executions of one entity, as its handlers may read them (`ctx.workflows`). */
export interface ExecutionReader {
  get(execId: string): Promise<ExecutionRecord | undefined>;
  list(): Promise<ExecutionRecord[]>;
  /**
   * Delivers signal `name` to execution `execId` of this entity, exactly once (a second delivery
   * is refused with ALREADY_EXISTS); it does not wait for this turn to commit.
   */
  signal(execId: string, name: string, payload: Json): Promise<void>;
}
