import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { percentile, printTable } from "../bench/lib.ts";
import type { FaultName } from "./faults.ts";
import type { Overlap } from "./overlaps.ts";
import type { KindStats, Verdict } from "./workload.ts";

export interface KindOutcome {
  readonly name: string;
  readonly stats: KindStats;
  readonly verdict: Verdict;
}

export interface ChaosReport {
  readonly seed: number;
  readonly durationS: number;
  readonly leaseTtlMs: number;
  readonly runners: readonly string[];
  readonly faults: Partial<Record<FaultName, number>>;
  readonly kinds: readonly KindOutcome[];
  readonly skippedKinds: readonly string[];
  readonly shardOverlaps: readonly Overlap[];
  readonly shardIntervals: number;
  readonly singletonOverlaps: readonly Overlap[];
  readonly singletonRuns: number;
  /** Runners that died without being killed by the harness. */
  readonly crashes: readonly number[];
  /** Paused runners asked for their shards the moment they woke; any that served one it had not acquired again. */
  readonly zombies: { readonly woken: number; readonly serving: readonly string[] };
}

interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}

/** The pass conditions: nothing lost, nothing applied twice, never two owners, nothing crashed. */
export function checks(report: ChaosReport): Check[] {
  const list: Check[] = [];
  for (const { name, verdict, stats } of report.kinds) {
    list.push({ name: `${name}: operations acknowledged`, ok: stats.acknowledged > 0, detail: `${stats.acknowledged}` });
    list.push({ name: `${name}: lost = 0`, ok: verdict.lost === 0, detail: `${verdict.lost}` });
    list.push({ name: `${name}: duplicated = 0`, ok: verdict.duplicated === 0, detail: `${verdict.duplicated}` });
    list.push({ name: `${name}: no anomalies`, ok: verdict.anomalies.length === 0, detail: verdict.anomalies.slice(0, 5).join("; ") });
  }
  const faults = Object.values(report.faults).reduce((a, b) => a + b, 0);
  list.push({ name: "faults injected", ok: faults > 0, detail: `${faults}` });
  list.push({ name: "ownership intervals recorded", ok: report.shardIntervals > 0, detail: `${report.shardIntervals}` });
  list.push({ name: "no shard had two owners at once", ok: report.shardOverlaps.length === 0, detail: describe(report.shardOverlaps) });
  list.push({
    name: "singleton runs never overlap",
    ok: report.singletonOverlaps.length === 0,
    detail: describe(report.singletonOverlaps),
  });
  list.push({
    name: "zombies serve no shard on waking",
    ok: report.zombies.serving.length === 0 && (report.faults.pause === undefined || report.zombies.woken > 0),
    detail: [`${report.zombies.woken} probed`, ...report.zombies.serving].join("; "),
  });
  list.push({
    name: "no runner crashed on its own",
    ok: report.crashes.length === 0,
    detail: report.crashes.map((i) => `runner ${i}`).join(", "),
  });
  return list;
}

function describe(overlaps: readonly Overlap[]): string {
  return overlaps
    .slice(0, 3)
    .map(
      (o) => `${o.resource}: ${o.first.holder} and ${o.second.holder} for ${o.overlapMs} ms at ${new Date(o.second.start).toISOString()}`,
    )
    .join("; ");
}

function rows(report: ChaosReport): Record<string, string | number>[] {
  const row = (kind: string, s: KindStats, v: Verdict) => {
    const sorted = [...s.latenciesMs].sort((a, b) => a - b);
    return {
      kind,
      operations: s.operations,
      acknowledged: s.acknowledged,
      lost: v.lost,
      duplicated: v.duplicated,
      "availability %": s.attempts === 0 ? 0 : (100 * (s.attempts - s.failedAttempts)) / s.attempts,
      "p50 ms": sorted.length ? percentile(sorted, 50) : 0,
      "p99 ms": sorted.length ? percentile(sorted, 99) : 0,
    };
  };
  const list = report.kinds.map((k) => row(k.name, k.stats, k.verdict));
  const sum = (pick: (k: KindOutcome) => number) => report.kinds.reduce((n, k) => n + pick(k), 0);
  const total: KindStats = {
    operations: sum((k) => k.stats.operations),
    acknowledged: sum((k) => k.stats.acknowledged),
    attempts: sum((k) => k.stats.attempts),
    failedAttempts: sum((k) => k.stats.failedAttempts),
    failures: {},
    latenciesMs: report.kinds.flatMap((k) => k.stats.latenciesMs),
  };
  return [...list, row("total", total, { lost: sum((k) => k.verdict.lost), duplicated: sum((k) => k.verdict.duplicated), anomalies: [] })];
}

/** Prints the tables and the checks; writes everything as JSON to `out`. Returns the failed checks. */
export function publish(report: ChaosReport, out: string): number {
  const faults = Object.entries(report.faults).map(([fault, n]) => ({ fault, injected: n }));
  printTable(`Faults injected over ${report.durationS} s (seed ${report.seed}, LEASE_TTL_MS=${report.leaseTtlMs})`, faults);
  const table = rows(report);
  printTable("Workload under faults (availability = successful attempts / attempts; latency includes retries)", table);
  if (report.skippedKinds.length > 0) console.log(`skipped (routes answer 501 on this build): ${report.skippedKinds.join(", ")}`);
  console.log(
    `ownership: ${report.shardIntervals} shard intervals, ${report.shardOverlaps.length} overlaps; ` +
      `singleton: ${report.singletonRuns} runs, ${report.singletonOverlaps.length} overlaps; crashes: ${report.crashes.length}`,
  );
  const results = checks(report);
  console.log("");
  for (const c of results) console.log(`${c.ok ? "PASS" : "FAIL"}: ${c.name}${c.detail ? ` (${c.detail})` : ""}`);
  mkdirSync(dirname(out), { recursive: true });
  const failures = Object.fromEntries(report.kinds.map((k) => [k.name, k.stats.failures]));
  const json = {
    at: new Date().toISOString(),
    ...report,
    kinds: undefined,
    table,
    failedAttemptsByCause: failures,
    anomalies: Object.fromEntries(report.kinds.map((k) => [k.name, k.verdict.anomalies])),
    checks: results,
  };
  writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`\nresults: ${out}`);
  const failed = results.filter((c) => !c.ok).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  return failed;
}
