/**
 * `npm run bench:profile`: CPU profiles of a 3-runner cluster under the spread-entry load of
 * `npm run bench` (64 clients, entry spread over the runners). Each runner runs with
 * `--cpu-prof`; the profiles land in bench-results/profiles/ (open them in Chrome DevTools or
 * https://www.speedscope.app for flame graphs) and a table of self time by package is printed,
 * counting only the loaded part of each profile.
 *
 *   npm run bench:profile [-- --seconds 8]
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ClusterHarness } from "../../tests/support/cluster.ts";
import { closedLoop, incrementer, printTable, WARMUP_SECONDS } from "./lib.ts";

const run = promisify(execFile);
const repo = join(import.meta.dirname, "..", "..");
const argSeconds = process.argv.indexOf("--seconds");
const SECONDS = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 8;
const CLIENTS = 64;
const out = join(repo, "bench-results", "profiles");

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code comes from: an npm package, a file of ours, a Node internal, or V8 itself. */
function origin(url: string, fn: string): string {
  const pkg = url.split("node_modules/").at(-1);
  if (url.includes("node_modules/") && pkg)
    return pkg
      .split("/")
      .slice(0, pkg.startsWith("@") ? 2 : 1)
      .join("/");
  if (url.startsWith(`file://${repo}/`)) return url.slice(`file://${repo}/`.length);
  if (url.startsWith("node:")) return url.replace(/^node:internal\/(deps\/)?/, "node:").split("/")[0] as string;
  if (url === "") return fn.startsWith("(") ? fn : "(native code)";
  return url;
}

/** Self time per origin between `from` and `to` (microseconds since the profile began). */
function selfTime(profile: CpuProfile, from: number, to: number): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const totals = new Map<string, number>();
  let t = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (t < from || t > to) return;
    const frame = byId.get(id);
    const key = frame ? origin(frame.url, frame.functionName) : "?";
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return totals;
}

const state = mkdtempSync(join(tmpdir(), "bench-profile-"));
const profiles = join(state, "cpu");
const sh = (...args: string[]) =>
  run("bash", [join(repo, "scripts", "cluster.sh"), ...args, "--state", state], {
    cwd: repo,
    env: { ...process.env, LOG_LEVEL: "warn", RUNNER_NODE_FLAGS: `--cpu-prof --cpu-prof-dir=${profiles}` },
  });

try {
  await sh("up", "--runners", "3");
  const cluster = new ClusterHarness(state);
  const entries = cluster.indexes().map((i) => incrementer(cluster.url(i), CLIENTS));
  // CPU profiles stamp samples with the monotonic clock in microseconds, the clock of hrtime.
  const began = Number(process.hrtime.bigint() / 1000n);
  const result = await closedLoop(CLIENTS, SECONDS, WARMUP_SECONDS, (c) =>
    (entries[c % entries.length] as (id: string) => Promise<void>)(`spread-${c}`),
  );
  const ended = Number(process.hrtime.bigint() / 1000n);
  console.log(`spread entry: ${result.throughput.toFixed(0)} ops/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms`);
  await sh("down"); // a graceful exit writes the profiles
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  // One column per runner's main thread (each also writes an idle profile of a helper thread).
  const shares: Map<string, number>[] = [];
  const idle: string[] = [];
  for (const file of readdirSync(profiles).filter((f) => f.endsWith(".cpuprofile"))) {
    const profile = JSON.parse(readFileSync(join(profiles, file), "utf8")) as CpuProfile;
    // Only the measured load: after the warm-up, before the shutdown.
    const totals = selfTime(profile, began - profile.startTime + WARMUP_SECONDS * 1e6, ended - profile.startTime);
    const all = [...totals.values()].reduce((a, b) => a + b, 0);
    const idleUs = totals.get("(idle)") ?? 0;
    totals.delete("(idle)");
    if (all - idleUs < 0.05 * all) continue;
    await run("cp", [join(profiles, file), out]);
    idle.push(`${((100 * idleUs) / all).toFixed(0)}%`);
    shares.push(new Map([...totals].map(([k, us]) => [k, (100 * us) / (all - idleUs)])));
  }
  const sum = (name: string) => shares.reduce((a, m) => a + (m.get(name) ?? 0), 0);
  const names = [...new Set(shares.flatMap((m) => [...m.keys()]))].sort((a, b) => sum(b) - sum(a)).slice(0, 25);
  const rows = names.map((name) => ({
    origin: name,
    ...Object.fromEntries(shares.map((m, i) => [`runner ${i + 1} %`, (m.get(name) ?? 0).toFixed(1)])),
  }));
  printTable(`Share of busy time by origin, per runner (idle: ${idle.join(", ")}); profiles in ${out}`, rows);
} finally {
  await sh("down").catch(() => {});
  rmSync(state, { recursive: true, force: true });
}
