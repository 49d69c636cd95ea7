import type { EntityAddress } from "../entity/address.ts";

/** A timer waiting in a runner's schedule. */
export interface ScheduledTimer {
  /** Unique per (entity, timer id): a newer entry with the same key replaces the older. */
  readonly key: string;
  readonly address: EntityAddress;
  readonly timerId: string;
  /** When to attempt the fire, epoch milliseconds. */
  readonly fireAt: number;
  /** Failed attempts so far (drives the retry backoff). */
  readonly attempt: number;
}

/**
 * Earlier due time first; on a tie, by key, so that an entity's timers due together are fired
 * together (their turns then share one group commit).
 */
function before(a: ScheduledTimer, b: ScheduledTimer): boolean {
  return a.fireAt < b.fireAt || (a.fireAt === b.fireAt && a.key < b.key);
}

/**
 * Timers ordered by due time: a binary min-heap, plus a map from key to the live entry. Replacing
 * or deleting a timer leaves its old heap slot behind, skipped when it surfaces and swept when such
 * slots outnumber the live ones, so each operation is O(log n) amortized.
 */
export class TimerSchedule {
  private heap: ScheduledTimer[] = [];
  private readonly live = new Map<string, ScheduledTimer>();

  get size(): number {
    return this.live.size;
  }

  has(key: string): boolean {
    return this.live.has(key);
  }

  /** Adds `timer`, replacing any entry with its key. */
  set(timer: ScheduledTimer): void {
    this.live.set(timer.key, timer);
    this.heap.push(timer);
    this.siftUp(this.heap.length - 1);
    this.compactIfSparse();
  }

  delete(key: string): void {
    if (this.live.delete(key)) this.compactIfSparse();
  }

  /** Removes every timer `predicate` selects. */
  deleteWhere(predicate: (timer: ScheduledTimer) => boolean): void {
    for (const [key, timer] of this.live) if (predicate(timer)) this.live.delete(key);
    this.rebuild();
  }

  clear(): void {
    this.live.clear();
    this.heap = [];
  }

  /** The earliest due time, if any timer is scheduled. */
  nextAt(): number | undefined {
    this.dropStaleTop();
    return this.heap[0]?.fireAt;
  }

  /** Takes out the earliest timer if it is due at `now`. */
  popDue(now: number): ScheduledTimer | undefined {
    this.dropStaleTop();
    const top = this.heap[0];
    if (!top || top.fireAt > now) return undefined;
    this.removeTop();
    this.live.delete(top.key);
    return top;
  }

  private dropStaleTop(): void {
    for (let top = this.heap[0]; top && this.live.get(top.key) !== top; top = this.heap[0]) this.removeTop();
  }

  private compactIfSparse(): void {
    if (this.heap.length > 2 * this.live.size + 64) this.rebuild();
  }

  private rebuild(): void {
    this.heap = [...this.live.values()];
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private removeTop(): void {
    const last = this.heap.pop() as ScheduledTimer;
    if (this.heap.length === 0) return;
    this.heap[0] = last;
    this.siftDown(0);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const item = heap[i] as ScheduledTimer;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent] as ScheduledTimer;
      if (!before(item, above)) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = item;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i] as ScheduledTimer;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && before(heap[right] as ScheduledTimer, heap[child] as ScheduledTimer)) child = right;
      const below = heap[child] as ScheduledTimer;
      if (!before(below, item)) break;
      heap[i] = below;
      i = child;
    }
    heap[i] = item;
  }
}
