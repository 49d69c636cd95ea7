/**
 * The multi-host test's ownership check (scripts/hosts.sh): reads the runners' ownership journals
 * (OWNERSHIP_LOG) and fails if any shard ever had two owners at once, reusing the chaos harness's
 * interval and overlap code. `--runner ADDRESS` names the runner whose link was cut: its journal
 * must show it lost (fenced or released) shards that another runner then acquired, so that the check
 * is about a real hand-over and not vacuous.
 *
 *   node --import tsx scripts/hosts/ownership-check.ts [--runner ADDRESS] JOURNAL...
 */
import { readFileSync } from "node:fs";
import { findOverlaps } from "../chaos/overlaps.ts";
import { ownershipIntervals, parseJournal } from "../chaos/ownership-intervals.ts";

const args = process.argv.slice(2);
let cut: string | undefined;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runner") cut = args[++i];
  else files.push(args[i] as string);
}
if (files.length === 0) {
  console.error("usage: ownership-check.ts [--runner ADDRESS] JOURNAL...");
  process.exit(2);
}

const records = files.flatMap((f) => parseJournal(readFileSync(f, "utf8")));
const intervals = ownershipIntervals(records);
const overlaps = findOverlaps(intervals);
const problems: string[] = [];

for (const o of overlaps.slice(0, 5)) {
  problems.push(
    `${o.resource}: ${o.first.holder} [${o.first.start}, ${o.first.end}) and ${o.second.holder} [${o.second.start}, ${o.second.end}) overlap by ${o.overlapMs} ms`,
  );
}
if (overlaps.length > 5) problems.push(`… ${overlaps.length} overlaps in all`);

let handedOver = 0;
if (cut !== undefined) {
  const leases = new Set(records.filter((r) => r.runner === cut).map((r) => r.lease));
  if (leases.size < 2) problems.push(`runner ${cut} journaled ${leases.size} lease(s): it never lost its lease and joined again`);
  // Shards that the cut runner held and that another runner held after it.
  const mine = intervals.filter((i) => i.holder.startsWith(`${cut} `));
  for (const i of mine) {
    if (intervals.some((j) => j.resource === i.resource && !j.holder.startsWith(`${cut} `) && j.start >= i.end && Number.isFinite(i.end)))
      handedOver++;
  }
  if (handedOver === 0) problems.push(`no shard of ${cut} was taken over by another runner: nothing was checked`);
}

const runners = new Set(records.map((r) => r.runner)).size;
const summary = `${records.length} records from ${runners} runners, ${intervals.length} intervals, ${overlaps.length} overlaps${cut ? `, ${handedOver} intervals of ${cut} followed by another owner` : ""}`;
if (problems.length > 0) {
  console.log(`${summary}\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(summary);
