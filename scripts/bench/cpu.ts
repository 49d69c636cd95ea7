/**
 * Where a load case's CPU goes: CPU time per operation of each group of processes (runners,
 * Postgres, the load generator itself), read from /proc, next to the machine time there was per
 * operation (cores × wall time / operations). When the groups add up to about that, the case
 * is bound by the machine's cores, and the table says who used them.
 */

import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** utime + stime of a process, in milliseconds (0 once it is gone). */
function cpuMs(pid: number): number {
  try {
    const fields = (readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1] ?? "").split(" ");
    return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
  } catch {
    return 0;
  }
}

/** `pid` and its children (Postgres: the postmaster and its backends). */
export function withChildren(pid: number): number[] {
  const children = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return (readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1] ?? "").split(" ")[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
  return [pid, ...children];
}

export type CpuShare = Record<string, number>;

/**
 * Measures `groups` (name → their PIDs, asked at start()) and this process between start() and
 * stop(ops): CPU microseconds per operation of each.
 */
export class CpuMeter {
  private before: { pids: Record<string, number[]>; ms: Record<string, number>; self: NodeJS.CpuUsage; at: number } | undefined;
  share: CpuShare | undefined;

  constructor(private readonly groups: Record<string, () => number[]>) {}

  start(): void {
    const pids = Object.fromEntries(Object.entries(this.groups).map(([name, list]) => [name, list()]));
    const ms = Object.fromEntries(Object.entries(pids).map(([name, list]) => [name, total(list)]));
    this.before = { pids, ms, self: process.cpuUsage(), at: performance.now() };
  }

  stop(ops: number): void {
    const before = this.before;
    if (!before) throw new Error("CpuMeter.stop() before start()");
    const wallMs = performance.now() - before.at;
    const own = process.cpuUsage(before.self);
    const perOp = (ms: number) => (ms * 1000) / ops;
    this.share = Object.fromEntries(Object.entries(before.pids).map(([name, list]) => [name, perOp(total(list) - (before.ms[name] ?? 0))]));
    this.share["load generator"] = perOp((own.user + own.system) / 1000);
    this.share["machine available"] = perOp(wallMs * availableParallelism());
  }
}

function total(pids: readonly number[]): number {
  return pids.reduce((a, pid) => a + cpuMs(pid), 0);
}
