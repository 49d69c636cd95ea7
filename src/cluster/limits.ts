/**
 * The framework's fixed limits, in one place: what bounds its batches, its waits and what it keeps.
 * Each figure is explained where it was measured or chosen.
 */
export const limits = {
  /** How long a caller waits by default, retries and failovers included. */
  callTimeoutMs: 30_000,
  /** Longest deadline a caller may ask for (`Request-Timeout`, the client's `timeoutMs`). */
  maxCallTimeoutMs: 300_000,
  /** Default `MAILBOX_LIMIT`: most calls queued in one entity's mailbox; more are refused (OVERLOADED). */
  mailboxLimit: 1024,
  /** Default `MAX_INFLIGHT`: most calls one runner applies at once; more are refused (OVERLOADED). */
  maxInflight: 8192,
  /** Most calls waiting for one peer's answer; more are refused (OVERLOADED) instead of queued. */
  forwardQueue: 8192,
  /** The retry hint of a refused call (`retry_after_ms`; `Retry-After` rounds it up to seconds). */
  overloadRetryAfterMs: 250,
  /** Most calls a mailbox applies between two commits (one group commit). */
  mailboxBatch: 256,
  /** Most entities one commit statement writes. */
  commitBatch: 500,
  /**
   * Commit statements in flight per runner; more commits wait and go together in the next one.
   * One: the batches grow with the load, and each costs Postgres far less per row (spread-entry
   * bench: Postgres 42 instead of 50 µs per operation, 9.3k instead of 8.2k ops/s, than with two).
   */
  commitBatchesInFlight: 1,
  /** Timer fire turns in flight per runner. */
  timerFiresInFlight: 256,
  /** How long stored replies to a client's request id are kept for retries to find (and timer rows marked fired by older runners). */
  retentionMs: 24 * 3600 * 1000,
  /**
   * How long after its call's deadline the reply to an id the router minted (a forwarded call)
   * may be kept, at most (its router usually says it has it long before): nobody retries after
   * the deadline; the margin covers clock skew between runners.
   */
  mintedReplyGraceMs: 60_000,
  /**
   * What an active entity keeps of its recent replies in memory (its reply index), so a call with
   * a request id needs no read: most replies, and most bytes of reply JSON. Beyond either, the
   * oldest are dropped, and the commit's reply insert finds a stored one instead (no lookup, no round trip).
   * 16 replies cover the retries that come soon after a lost reply; 64 cost memory and cache misses
   * (1,000 keyed counters in process: the index's upkeep was a microsecond a call) for retries the
   * commit's check answers anyway. An idle entity keeps none.
   */
  replyIndexEntries: 16,
  replyIndexBytes: 4 * 1024,
  /**
   * How often a runner looks for workflow executions of its shards that no run drives (see
   * AbandonedSweep); one is resumed when seen so twice. A cheap query: partial indexes hold only the
   * running and compensating executions.
   */
  workflowSweepMs: 5_000,
  /** How often expired replies and timer rows are pruned. */
  pruneEveryMs: 600_000,
  /** How long a cluster-wide listing (`/debug/entities`) waits for each peer. */
  peerQueryTimeoutMs: 2_000,
  /** Largest gRPC message between runners. */
  maxMessageBytes: 64 * 1024 * 1024,
} as const;
