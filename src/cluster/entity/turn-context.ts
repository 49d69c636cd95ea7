import type { Call, CallOrigin } from "../call.ts";
import { ClusterError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ShardId } from "../ownership/shard.ts";
import type { StateStore } from "../storage/entity-state/store.ts";
import type { TimerSink } from "../timers/timer.ts";
import { type EntityAddress, formatAddress } from "./address.ts";
import type { ExecutionReader, TurnContext, TurnImplementation, TxWrite } from "./context.ts";
import type { EntityProtocol } from "./protocol.ts";
import { TurnSql } from "./turn-sql.ts";

/** A call waiting for its turn (its arguments validated), and who waits for its reply. */
export interface Queued {
  readonly call: Call;
  readonly impl: TurnImplementation;
  resolve(reply: unknown): void;
  reject(error: unknown): void;
}

export type Outcome = { ok: true; reply: unknown } | { ok: false; error: unknown };

/** What a batch of calls (or one call of it) accumulates for its commit. */
export interface Turn {
  readonly writes: TxWrite[];
  readonly effects: (() => void)[];
  mutated: boolean;
  /** The batch's application queries (`ctx.sql`), once a handler ran one. */
  sql?: TurnSql;
  /** Whether this call's handler ran queries. */
  queried?: boolean;
}

/** What every mailbox of a runtime shares. */
export interface MailboxHost {
  readonly store: StateStore;
  readonly log: Logger;
  /** Whether state of `shard` may still be written here (the ownership fence). */
  readonly mayCommit: (shard: ShardId) => boolean;
  readonly caller: EntityCaller;
  readonly executions: (address: EntityAddress) => ExecutionReader;
  readonly timerSink: TimerSink | undefined;
}

/** Sends a call to another entity, wherever it lives, carrying the call chain, the deadline and the trace. */
export type EntityCaller = (type: string, id: string, rpc: string, args: unknown, from: CallOrigin) => Promise<unknown>;

/** The context of one call of the entity at `address`: its writes and effects land in `turn`, its queries in `batch`'s transaction. */
export function turnContext(host: MailboxHost, address: EntityAddress, call: Call, turn: Turn, batch: Turn): TurnContext {
  // Methods, not arrow-valued properties: under tsx (esbuild's keepNames) each of those costs a
  // defineProperty call per turn, and this runs for every call (see README, Benchmarks).
  return {
    self: address,
    requestId: call.requestId,
    now: new Date(),
    workflows: host.executions(address),
    transact(write) {
      turn.writes.push(write);
    },
    afterCommit(effect) {
      turn.effects.push(effect);
    },
    sql(query) {
      turn.queried = true;
      batch.sql ??= new TurnSql(host.store);
      return batch.sql.run(query);
    },
    call: entityCall(host, address, call),
    timerSink: host.timerSink,
  };
}

/** Whether a commit of an entity of `shard` may still be written (made per commit, unnamed: see `turnContext`). */
export function commitFence(host: MailboxHost, shard: ShardId): () => boolean {
  return () => host.mayCommit(shard);
}

/** `ctx.call` of a turn of `call`: its chain, deadline and trace go with the calls it makes. */
function entityCall(host: MailboxHost, address: EntityAddress, call: Call): TurnContext["call"] {
  return ((protocol: EntityProtocol, id: string, rpc: string, args: unknown) => {
    const declared = protocol.rpcs[rpc];
    if (!declared) return Promise.reject(new ClusterError("BAD_REQUEST", `${protocol.type} has no RPC ${rpc}`));
    const from: CallOrigin = { callChain: [...call.callChain, formatAddress(address)], deadline: call.deadline, trace: call.trace };
    return host.caller(protocol.type, id, rpc, args, from).then((reply) => declared.output.parse(reply));
  }) as TurnContext["call"];
}
