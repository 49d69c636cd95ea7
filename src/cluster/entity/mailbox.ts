import { deadlineExceeded, expired } from "../deadline.ts";
import { ClusterError } from "../errors.ts";
import { limits } from "../limits.ts";
import { toCallerError } from "../storage/failures.ts";
import type { OpenTransaction } from "../storage/transaction.ts";
import { traceFields } from "../trace.ts";
import type { EntityAddress } from "./address.ts";
import { formatAddress } from "./address.ts";
import { BatchReplies } from "./batch-replies.ts";
import type { TurnContext, TxWrite } from "./context.ts";
import type { EntityType } from "./definition.ts";
import { ForwardedReplies } from "./forwarded-replies.ts";
import { ReplyIndex } from "./reply-index.ts";
import { commitFence, type MailboxHost, type Outcome, type Queued, type Turn, turnContext } from "./turn-context.ts";

/**
 * The single-threaded heart of an active entity: calls are applied one at a time, in arrival
 * order. Calls that queue up while a commit is in flight are applied back to back and committed
 * together (group commit); no reply leaves before the state it saw is durable, so batching is
 * invisible to callers except in throughput.
 */
export class Mailbox {
  private state: unknown;
  /** The last committed state, serialized: the rollback point and the change detector. */
  private committedJson = "";
  private version = 0;
  private loaded = false;
  /** Replies committed up to `version`; undefined while there are none (most entities, no memory). */
  private replies: ReplyIndex | undefined;
  /** Replies to forwarded calls their routers may still ask for, as committed up to `version`. */
  private forwarded = ForwardedReplies.none;
  /** Request ids a failed commit could not rule out: read from storage with the next load. */
  private suspects: string[] | undefined;
  private readonly queue: Queued[] = [];
  private running = false;
  private idleWaiters: (() => void)[] | undefined;
  /** The batch being applied, if any, and what it knows of its request ids: reentrant calls join it. */
  private turn: { readonly writes: Turn; readonly ids: BatchReplies } | undefined;
  lastActive = Date.now();

  // A runner may hold 100,000 of these: what all mailboxes share lives in one `host`.
  constructor(
    readonly address: EntityAddress,
    private readonly type: EntityType,
    private readonly host: MailboxHost,
  ) {}

  /** "Type/id", as call chains name entities. */
  private get key(): string {
    return formatAddress(this.address);
  }

  get idle(): boolean {
    return !this.running && this.queue.length === 0;
  }

  /** Calls waiting for their turn (not counting the batch being applied). */
  get backlog(): number {
    return this.queue.length;
  }

  post(queued: Queued): void {
    if (this.turn && queued.call.callChain.length > 0 && queued.call.callChain.includes(this.key)) {
      void this.reenter(queued, this.turn.writes, this.turn.ids);
      return;
    }
    this.queue.push(queued);
    this.lastActive = Date.now();
    if (!this.running) {
      // Start on the next turn of the event loop, so calls that arrived together (one poll phase
      // of sockets) are applied as one batch even when storage blocks the thread (PGlite).
      this.running = true;
      setImmediate(() => void this.drain());
    }
  }

  /** Resolves once every queued call has been settled. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    this.idleWaiters ??= [];
    const waiters = this.idleWaiters;
    return new Promise((resolve) => waiters.push(resolve));
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, limits.mailboxBatch);
        try {
          this.checkOwnership();
          if (!this.loaded) await this.load();
          await this.apply(batch).catch(async (error: unknown) => {
            // A request id beyond the index may have been applied before: read it, and apply the
            // batch again on the reloaded state (the failed commit wrote nothing, replied nothing).
            if (!this.suspects || !(error instanceof ClusterError && error.code === "CONFLICT")) throw error;
            await this.load();
            await this.apply(batch);
          });
        } catch (error) {
          const failure = toCallerError(error, `turn of ${this.key} failed`);
          // The batch's first call names a trace to follow it by (the others failed with it).
          if (failure.code === "INTERNAL")
            this.host.log.error({ err: error, entity: this.key, ...traceFields(batch[0]?.call.trace) }, "turn failed");
          for (const queued of batch) queued.reject(failure);
        }
      }
    } finally {
      this.running = false;
      this.lastActive = Date.now();
      const waiters = this.idleWaiters;
      this.idleWaiters = undefined;
      for (const wake of waiters ?? []) wake();
    }
  }

  /** State and recent replies, in one query: no call needs a read of its own afterwards. */
  private async load(): Promise<void> {
    const { type, id } = this.address;
    const unavailable = (error: unknown) => {
      throw new ClusterError("UNAVAILABLE", `cannot load ${formatAddress(this.address)}: ${String(error)}`, { cause: error });
    };
    const loaded = await this.host.store.load(type, id, limits.replyIndexEntries).catch(unavailable);
    const suspects = this.suspects;
    // The rare path: a commit failed while some of its request ids were beyond the index.
    const found = suspects ? await this.host.store.findReplies(type, id, suspects).catch(unavailable) : [];
    const stored = loaded.state;
    this.state = stored ? this.type.decodeState(JSON.parse(stored.json)) : this.type.initialState();
    this.committedJson = stored ? stored.json : JSON.stringify(this.state);
    this.version = stored?.version ?? 0;
    this.forwarded = ForwardedReplies.parse(stored?.forwarded);
    this.replies = loaded.replies.length > 0 || loaded.more || found.length > 0 ? new ReplyIndex(loaded.replies, !loaded.more) : undefined;
    this.replies?.add(found);
    this.suspects = undefined;
    this.loaded = true;
  }

  private async apply(batch: Queued[]): Promise<void> {
    const ids = new BatchReplies(this.replies, this.forwarded);
    const outcomes: Outcome[] = [];
    const turn: Turn = { writes: [], effects: [], mutated: false };
    this.turn = { writes: turn, ids };
    // Rollback without a copy per call: `base` is a serialized checkpoint and `replay` the
    // synchronous mutations applied since. A failed mutation restores `base` and re-applies `replay`
    // (handlers are deterministic given state, args and ctx). Asynchronous handlers may have effects
    // beyond the state, so they are never replayed: the mutation after one checkpoints first. Not
    // right after it: most batches end there, and the commit serializes the state anyway, so an
    // entity with asynchronous handlers serializes its state once per batch instead of twice.
    let base = this.committedJson;
    let replay: [Queued, TurnContext][] = [];
    let checkpointDue = false;
    const reads = batch.flatMap((queued) => queued.impl.prefetch?.() ?? []);
    if (reads.length > 0) await Promise.all(reads);

    try {
      for (const queued of batch) {
        const { impl, call } = queued;
        const mutation = impl.kind === "mutation";
        const earlier = mutation ? ids.earlier(call) : undefined;
        if (earlier) {
          outcomes.push(earlier);
          continue;
        }
        // Its caller stopped waiting (TIMEOUT) while it queued: applying it now would surprise a retry.
        if (expired(call)) {
          outcomes.push({ ok: false, error: deadlineExceeded(call, "was not applied: its deadline passed while it waited") });
          continue;
        }
        const doubtful = mutation && ids.doubtful(call);
        if (mutation && checkpointDue) {
          base = JSON.stringify(this.state);
          replay = [];
          checkpointDue = false;
        }
        if (mutation) ids.applying(call);
        const own: Turn = { writes: [], effects: [], mutated: false };
        const ctx = turnContext(this.host, this.address, call, own, turn);
        let outcome: Outcome;
        try {
          const pending = impl.handler(this.state, call.args, ctx);
          const isAsync = pending instanceof Promise;
          const reply = (isAsync ? await pending : pending) ?? null;
          if (own.queried) await turn.sql?.settle(false);
          if (mutation) {
            turn.mutated = true;
            turn.writes.push(...own.writes);
            turn.effects.push(...own.effects);
            if (isAsync) checkpointDue = true;
            else replay.push([queued, ctx]);
            ids.applied(call, reply, doubtful);
          }
          outcome = { ok: true, reply };
        } catch (error) {
          if (own.queried) await turn.sql?.settle(true).catch(() => {});
          if (mutation) this.restore(base, replay);
          ids.failed(call, doubtful);
          outcome = { ok: false, error };
        }
        outcomes.push(outcome);
        if (mutation) ids.settle(call, outcome);
        // While a transaction is open (on PGlite: the database is), the batch ends here; the rest
        // is applied next, as calls outside the transaction would wait for it.
        if (own.queried) this.queue.unshift(...batch.splice(outcomes.length));
      }
    } finally {
      this.turn = undefined;
    }

    const json = turn.mutated ? JSON.stringify(this.state) : this.committedJson;
    const open = turn.sql?.transaction();
    // A turn that queried commits its state even when unchanged: the version compare-and-set fences its queries.
    if (json !== this.committedJson || ids.pending || turn.writes.length > 0 || (open && turn.mutated)) {
      await this.commit(json, ids, turn.writes, open);
    } else if (open) {
      // Nothing to commit. On a lost connection the server has dropped the transaction already.
      await (await open.catch(() => undefined))?.rollback().catch(() => {});
    }
    await ids.answerRefused(batch, outcomes, (refused) => this.host.store.findReplies(this.address.type, this.address.id, refused));
    for (const effect of turn.effects) {
      try {
        effect();
      } catch (err) {
        this.host.log.error({ err, entity: this.key }, "after-commit effect failed");
      }
    }
    batch.forEach((queued, i) => {
      const outcome = outcomes[i] as Outcome;
      if (outcome.ok) queued.resolve(outcome.reply);
      else queued.reject(outcome.error);
    });
  }

  /**
   * A call whose chain passed through this entity while its turn is running (A → B → A): it runs
   * now, inside that turn, instead of queueing behind it, which would deadlock. Its changes commit
   * with the turn; a failure is returned to its caller (validate before mutating: a reentrant call
   * has no rollback of its own, the turn it joins is still in progress).
   */
  private async reenter(queued: Queued, turn: Turn, ids: BatchReplies): Promise<void> {
    const { call, impl } = queued;
    // A retry of a reentrant call (its reply lost) is deduplicated like any other: in the batch or committed.
    const outcome = await ids.once(call, impl.kind === "mutation", async () => {
      if (expired(call)) throw deadlineExceeded(call, "was not applied: its deadline had passed");
      const reply = (await impl.handler(this.state, call.args, turnContext(this.host, this.address, call, turn, turn))) ?? null;
      if (impl.kind === "mutation") turn.mutated = true;
      return reply;
    });
    if (outcome.ok) queued.resolve(outcome.reply);
    else queued.reject(outcome.error);
  }

  /** Back to the checkpoint, then forward through the mutations that succeeded since. */
  private restore(base: string, replay: readonly [Queued, TurnContext][]): void {
    this.state = this.type.decodeState(JSON.parse(base));
    // Their writes and effects were collected the first time round.
    const ignore = () => {};
    for (const [queued, ctx] of replay) {
      const again = queued.impl.handler(this.state, queued.call.args, { ...ctx, transact: ignore, afterCommit: ignore });
      if (again instanceof Promise) throw new ClusterError("INTERNAL", `replay of ${queued.call.rpc} became asynchronous`);
    }
  }

  /** The shard moved away (or the lease fence is down): no turn may start or commit here. */
  private checkOwnership(): void {
    if (this.host.mayCommit(this.address.shard)) return;
    this.loaded = false;
    throw new ClusterError("NOT_OWNER", `this runner no longer serves shard ${this.address.shard}`);
  }

  private async commit(json: string, ids: BatchReplies, writes: TxWrite[], opening?: Promise<OpenTransaction>): Promise<void> {
    const { rows: replies, unseen } = ids;
    let version: number | undefined;
    try {
      // The fence is asked inside the commit, right before the write (it also ends an open transaction).
      const open = await opening;
      const { type, id, shard } = this.address;
      const fence = commitFence(this.host, shard);
      const forwarded = ids.forwardedText();
      version = await this.host.store.commit({ type, id, expected: this.version, json, replies, unseen, forwarded, writes, fence, open });
    } catch (error) {
      this.rollback();
      if (error instanceof ClusterError && error.code === "NOT_OWNER") {
        this.loaded = false;
        throw error;
      }
      throw new ClusterError("UNAVAILABLE", `cannot commit ${formatAddress(this.address)}: ${String(error)}`, { cause: error });
    }
    if (version === undefined) {
      // Someone else wrote this entity (or an id beyond the index was applied before): this
      // runner's copy is stale. Drop it; the next call reloads state, replies and the doubtful ids.
      this.loaded = false;
      if (unseen.length > 0) this.suspects = unseen;
      this.host.log.warn({ entity: formatAddress(this.address), version: this.version }, "state version conflict; reloading");
      throw new ClusterError("CONFLICT", `${formatAddress(this.address)} was changed elsewhere; retry the call`);
    }
    this.version = version;
    this.committedJson = json;
    this.forwarded = ids.committedForwarded();
    // Only now, committed, may a reply answer a retry.
    if (replies.length > 0) {
      this.replies ??= new ReplyIndex([], true);
      this.replies.add(replies);
    }
  }

  private rollback(): void {
    this.state = this.type.decodeState(JSON.parse(this.committedJson));
  }
}
