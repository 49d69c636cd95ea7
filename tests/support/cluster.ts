import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Client, createClient } from "../../src/client.ts";
import { shardOf } from "../../src/cluster/index.ts";
import { uniqueId } from "./unique-id.ts";
import { waitFor } from "./wait.ts";

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

  /** The runners' ADMIN_TOKEN (scripts/test.sh starts the shared cluster with one), if any. */
  get adminToken(): string | undefined {
    // Read once: it is fixed for the cluster's life, and env() runs bash.
    this.token ??= this.env().ADMIN_TOKEN ?? "";
    return this.token || undefined;
  }
  private token: string | undefined;

  /** A client of runner i, sending the admin token on the operator API's calls. */
  client(i: number): Client {
    return createClient(this.url(i), { adminToken: this.adminToken });
  }

  /** Runner indexes, 1-based. */
  indexes(): number[] {
    return Array.from({ length: this.size }, (_, i) => i + 1);
  }

  async control(command: "kill" | "term" | "start" | "restart", i: number): Promise<void> {
    await run("bash", [join(repo, "scripts/cluster.sh"), command, String(i), "--state", this.state], { cwd: repo });
  }

  /** How many shards each runner owns, as runner `via` sees the table. */
  async shardOwners(via: number): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const s of await this.client(via).system.shards({})) {
      if (s.owner) counts.set(s.owner, (counts.get(s.owner) ?? 0) + 1);
    }
    return counts;
  }

  /** Waits until every runner in `via` sees a complete table in which `runner` owns a share that `owns` accepts. */
  async waitForShards(runner: string, owns: (n: number) => boolean, via: readonly number[], timeoutMs: number): Promise<void> {
    await waitFor(
      `${runner} to own the expected share`,
      async () => {
        for (const i of via) {
          const counts = await this.shardOwners(i);
          const total = [...counts.values()].reduce((a, b) => a + b, 0);
          if (total !== SHARD_COUNT || !owns(counts.get(runner) ?? 0)) return undefined;
        }
        return true;
      },
      timeoutMs,
    );
  }

  /** The runner that owns the shard of entity `id`, as runner `via` sees the table. */
  async ownerOf(id: string, via: number): Promise<string | null> {
    const shard = shardOf(id, SHARD_COUNT);
    return (await this.client(via).system.shards({})).find((s) => s.shard_id === shard)?.owner ?? null;
  }

  /** `n` fresh entity ids whose shards runner `i` owns now (as runner `via` sees the table). */
  async idsOwnedBy(i: number, n: number, prefix: string, via = i): Promise<string[]> {
    const owner = this.id(i);
    const owned = new Set((await this.client(via).system.shards({})).filter((s) => s.owner === owner).map((s) => s.shard_id));
    if (owned.size === 0) throw new Error(`runner ${i} owns no shard`);
    const ids: string[] = [];
    while (ids.length < n) {
      const id = uniqueId(prefix);
      if (owned.has(shardOf(id, SHARD_COUNT))) ids.push(id);
    }
    return ids;
  }

  /** Restarts the cluster's Postgres or etcd (same port, same data); returns once it serves again. */
  async restartService(which: "postgres" | "etcd"): Promise<void> {
    await run("bash", [join(repo, "scripts/services.sh"), `restart-${which}`, join(this.state, "services")], { cwd: repo });
  }

  /** The PID of runner i if that process is alive and still is runner i (PIDs get recycled). */
  pid(i: number): number | undefined {
    const pid = Number(this.env()[`RUNNER_${i}_PID`]);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
      return environ.includes(`RUNNER_ADDRESS=${this.id(i)}`) && state !== "Z" ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Sends `signal` to runner i, by its recorded PID; false if it is not running. */
  signal(i: number, signal: "SIGSTOP" | "SIGCONT"): boolean {
    const pid = this.pid(i);
    if (pid === undefined) return false;
    process.kill(pid, signal);
    return true;
  }
}

/** The cluster's shard count (scripts/cluster.sh passes SHARD_COUNT through to the runners). */
const SHARD_COUNT = Number(process.env.SHARD_COUNT ?? 300);
