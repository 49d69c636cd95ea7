import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Client, createClient } from "../../src/client.ts";

const run = promisify(execFile);
const repo = join(import.meta.dirname, "..", "..");

/**
 * A live cluster started by `scripts/cluster.sh up` (its state directory in CLUSTER_STATE):
 * runner URLs, clients, and the failure controls the tests use.
 */
export class ClusterHarness {
  constructor(readonly state: string) {}

  static fromEnv(): ClusterHarness | undefined {
    const state = process.env.CLUSTER_STATE;
    return state ? new ClusterHarness(state) : undefined;
  }

  /** The variables of the cluster's env file, as bash reads them (re-read: PIDs change on restarts). */
  env(): Record<string, string> {
    const dump = execFileSync("bash", ["-c", 'set -a; source "$1" >/dev/null; env -0', "env", join(this.state, "env")], {
      encoding: "utf8",
    });
    return Object.fromEntries(
      dump
        .split("\0")
        .filter(Boolean)
        .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
    );
  }

  get size(): number {
    return Number(this.env().CLUSTER_SIZE);
  }

  url(i: number): string {
    const url = this.env()[`RUNNER_${i}_URL`];
    if (!url) throw new Error(`no runner ${i} in ${this.state}`);
    return url;
  }

  /** The runner id (its gRPC address) of runner i. */
  id(i: number): string {
    const id = this.env()[`RUNNER_${i}_GRPC`];
    if (!id) throw new Error(`no runner ${i} in ${this.state}`);
    return id;
  }

  client(i: number): Client {
    return createClient(this.url(i));
  }

  /** Runner indexes, 1-based. */
  indexes(): number[] {
    return Array.from({ length: this.size }, (_, i) => i + 1);
  }

  async control(command: "kill" | "term" | "start" | "restart", i: number): Promise<void> {
    await run("bash", [join(repo, "scripts/cluster.sh"), command, String(i), "--state", this.state], { cwd: repo });
  }
}
