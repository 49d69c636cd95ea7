/** A span of time during which `holder` owned `resource` (epoch milliseconds, end exclusive). */
export interface Interval {
  readonly resource: string;
  readonly holder: string;
  readonly start: number;
  readonly end: number;
}

export interface Overlap {
  readonly resource: string;
  readonly first: Interval;
  readonly second: Interval;
  readonly overlapMs: number;
}

/**
 * Pairs of intervals of one resource that overlap: two owners at once. Empty intervals (end ≤
 * start: acquired, but the fence had already dropped) never overlap anything.
 */
export function findOverlaps(intervals: readonly Interval[]): Overlap[] {
  const byResource = new Map<string, Interval[]>();
  for (const i of intervals) {
    if (i.end <= i.start) continue;
    byResource.set(i.resource, [...(byResource.get(i.resource) ?? []), i]);
  }
  const overlaps: Overlap[] = [];
  for (const [resource, list] of byResource) {
    list.sort((a, b) => a.start - b.start);
    // The interval reaching furthest so far: any later start before its end is an overlap.
    let reach: Interval | undefined;
    for (const interval of list) {
      if (reach && interval.start < reach.end) {
        overlaps.push({ resource, first: reach, second: interval, overlapMs: Math.min(reach.end, interval.end) - interval.start });
      }
      if (!reach || interval.end > reach.end) reach = interval;
    }
  }
  return overlaps;
}
