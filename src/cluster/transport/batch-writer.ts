/** The writable half of a gRPC stream, as far as batching needs it. */
export interface MessageSink<M> {
  write(message: M): boolean;
  once(event: "drain", listener: () => void): unknown;
  end(): unknown;
}

/**
 * Sends items pushed during one event-loop tick as a single stream message: every message costs
 * HTTP/2 frames and a writev, whatever its size. Flushes on setImmediate, i.e. after the I/O
 * callbacks of this loop turn have queued their items, which adds no wait when the loop is idle.
 * While the stream reports backpressure (write() returned false) items wait for 'drain', and then
 * leave together.
 */
export class BatchWriter<T, M> {
  private queue: T[] = [];
  private scheduled = false;
  private blocked = false;
  private closed = false;

  constructor(
    private readonly sink: MessageSink<M>,
    private readonly pack: (items: T[]) => M,
    /** Roughly the bytes an item adds to a message. */
    private readonly weight: (item: T) => number,
    /** A message is cut after this many bytes, far below the gRPC message size limit. */
    private readonly budget = 1024 * 1024,
  ) {}

  push(item: T): void {
    if (this.closed) return;
    this.queue.push(item);
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Drops what is queued and writes nothing more (the stream failed or is being cancelled). */
  close(): void {
    this.closed = true;
    this.queue = [];
  }

  /** Writes what is queued, backpressure or not (the stream buffers it), then ends the stream. */
  end(): void {
    if (this.closed) return;
    this.write(true);
    this.closed = true;
    this.sink.end();
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (!this.closed && !this.blocked) this.write(false);
  };

  private write(regardless: boolean): void {
    while (this.queue.length > 0) {
      let bytes = 0;
      let n = 0;
      while (n < this.queue.length && (n === 0 || bytes < this.budget)) bytes += this.weight(this.queue[n++] as T);
      const items = n === this.queue.length ? this.queue : this.queue.slice(0, n);
      this.queue = n === this.queue.length ? [] : this.queue.slice(n);
      if (!this.sink.write(this.pack(items)) && !regardless) {
        this.blocked = true;
        this.sink.once("drain", () => {
          this.blocked = false;
          this.flush();
        });
        return;
      }
    }
  }
}
