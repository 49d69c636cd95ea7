/** Runner processes started by the benchmarks themselves: cold start and memory. */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const repo = join(import.meta.dirname, "..", "..");

export interface Spawned {
  readonly child: ChildProcess;
  readonly url: string;
  /** Milliseconds from spawn to the first `/health` 200. */
  readonly startMs: number;
  stop(): Promise<void>;
}

/** Resident memory of a process, in bytes (from /proc). */
export function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.match(/(\d+)/)?.[1] ?? Number.NaN) * 1024;
}

/** Starts `node --import tsx src/main.ts` (what `npm start` runs, minus npm) and waits for health. */
export async function spawnRunner(env: Record<string, string>, port: number): Promise<Spawned> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: repo,
    env: { ...process.env, LOG_LEVEL: "warn", LISTEN_ADDR: `127.0.0.1:${port}`, ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`runner exited with ${child.exitCode} during start-up`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const startMs = performance.now() - t0;
  return {
    child,
    url,
    startMs,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
