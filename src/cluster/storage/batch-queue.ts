/**
 * Coalesces independent requests into batches: one statement for many entities instead of one
 * each. A request waits at most one turn of the event loop when the queue is idle; while
 * `maxInFlight` batches are running, requests accumulate and go together in the next one. The
 * batch size therefore follows the load, with no timer and no added latency when idle.
 */
export class BatchQueue<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    /** Runs one batch; answers one result per item, in order. */
    private readonly execute: (items: readonly T[]) => Promise<readonly R[]>,
    private readonly maxInFlight: number,
    private readonly maxBatch: number,
  ) {}

  push(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.pending.length === 0) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every mailbox drained in this check phase joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      this.inFlight++;
      this.execute(batch.map((p) => p.item))
        .then(
          (results) => {
            for (const [i, p] of batch.entries()) p.resolve(results[i] as R);
          },
          (error: unknown) => {
            for (const p of batch) p.reject(error);
          },
        )
        .finally(() => {
          this.inFlight--;
          this.schedule();
        });
    }
  }
}
