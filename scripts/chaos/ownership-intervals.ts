import type { OwnershipRecord } from "../../src/cluster/ownership/journal.ts";
import type { ZombieProbe } from "./faults.ts";
import type { Interval } from "./overlaps.ts";

/**
 * The shard ownership intervals that runners' journals (OWNERSHIP_LOG) describe. An interval opens
 * at `acquired` and closes at `released`, and never outlives the last fencing deadline recorded for
 * its lease: a runner killed or paused without releasing stopped serving by then at the latest.
 */
export function ownershipIntervals(records: readonly OwnershipRecord[]): Interval[] {
  const fence = new Map<string, number>();
  for (const r of records) if (r.kind === "fence") fence.set(r.lease, Math.max(fence.get(r.lease) ?? 0, r.until));
  const open = new Map<string, { runner: string; lease: string; shard: number; start: number }>();
  const intervals: Interval[] = [];
  const close = (key: string, at: number) => {
    const o = open.get(key);
    if (!o) return;
    open.delete(key);
    const end = Math.min(at, fence.get(o.lease) ?? Number.NEGATIVE_INFINITY);
    intervals.push({ resource: `shard ${o.shard}`, holder: `${o.runner} (lease ${o.lease})`, start: o.start, end });
  };
  for (const r of [...records].sort((a, b) => a.at - b.at)) {
    if (r.kind === "fence") continue;
    for (const shard of r.shards) {
      const key = `${r.lease}/${shard}`;
      if (r.kind === "acquired" && !open.has(key)) open.set(key, { runner: r.runner, lease: r.lease, shard, start: r.at });
      if (r.kind === "released") close(key, r.at);
    }
  }
  for (const key of [...open.keys()]) close(key, Number.POSITIVE_INFINITY);
  return intervals;
}

/**
 * The shards a woken runner called its own that its journal does not explain: each must have been
 * acquired again (under a new lease) between the freeze and the answer; any other was served by a
 * zombie past its fence.
 */
export function unexplainedWake(records: readonly OwnershipRecord[], probe: ZombieProbe): number[] {
  const reacquired = new Set<number>();
  for (const r of records) {
    if (r.kind === "acquired" && r.runner === probe.runner && r.at >= probe.frozenAt && r.at <= probe.answeredAt) {
      for (const s of r.shards) reacquired.add(s);
    }
  }
  return probe.local.filter((s) => !reacquired.has(s));
}

/** Parses a journal's lines; a torn last line (a runner killed mid-write) is skipped. */
export function parseJournal(text: string): OwnershipRecord[] {
  const records: OwnershipRecord[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      records.push(JSON.parse(line) as OwnershipRecord);
    } catch {
      // Only the very end of a file can be torn; a record there never took effect.
    }
  }
  return records;
}
