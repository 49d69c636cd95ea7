import type { ClusterHarness } from "../../tests/support/cluster.ts";
import { rawRequest } from "../../tests/support/raw-http.ts";
import type { DelayProxy } from "./proxy.ts";
import type { Random } from "./random.ts";

export const FAULTS = ["kill", "pause", "etcd", "postgres", "slow-link"] as const;
export type FaultName = (typeof FAULTS)[number];

/** A paused runner's answer, on waking, to "which shards do you serve?". */
export interface ZombieProbe {
  readonly runner: string;
  readonly frozenAt: number;
  readonly answeredAt: number;
  readonly local: readonly number[];
}

export interface FaultContext {
  readonly cluster: ClusterHarness;
  /** The delaying proxy in front of each runner's gRPC server, by runner index. */
  readonly proxies: ReadonlyMap<number, DelayProxy>;
  readonly random: Random;
  readonly leaseTtlMs: number;
  readonly log: (message: string) => void;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The faults, each injected and undone before the next: a fault schedule, so the waits below are
 * durations of the fault, not guesses at when something happens.
 */
export class FaultInjector {
  /** Runners stopped with SIGSTOP and not continued yet: continued by `heal`, whatever happened. */
  private readonly paused = new Set<number>();
  /** What each paused runner called its own the moment it woke. */
  readonly wakes: ZombieProbe[] = [];

  constructor(private readonly ctx: FaultContext) {}

  async inject(fault: FaultName): Promise<void> {
    const { cluster, random, log, leaseTtlMs } = this.ctx;
    const victim = random.pick(cluster.indexes());
    switch (fault) {
      case "kill": {
        // SIGKILL: no hand-over; its shards move once its lease expires.
        await cluster.control("kill", victim);
        const down = random.int(300, 1_500);
        log(`SIGKILL runner ${victim}, restart in ${down} ms`);
        await pause(down);
        await cluster.control("start", victim);
        return;
      }
      case "pause": {
        // Longer than the lease TTL: it wakes up a zombie whose shards are someone else's.
        const frozen = leaseTtlMs + random.int(500, 1_500);
        const frozenAt = Date.now();
        if (!cluster.signal(victim, "SIGSTOP")) throw new Error(`runner ${victim} is not running`);
        this.paused.add(victim);
        log(`SIGSTOP runner ${victim} for ${frozen} ms`);
        await pause(frozen - 200);
        // Asked while it is still frozen, on a connection of its own (a pooled one could be queued
        // behind calls stuck on the frozen runner), so the question is among the first it handles
        // on waking. Past its fence it may only serve shards it has acquired again since.
        const url = new URL(cluster.url(victim));
        const probe = rawRequest(url.hostname, Number(url.port), { method: "GET", target: "/debug/shards" }, 10_000).then(({ body }) =>
          (JSON.parse(body) as { shard_id: number; local: boolean }[]).filter((s) => s.local).map((s) => s.shard_id),
        );
        await pause(200);
        cluster.signal(victim, "SIGCONT");
        this.paused.delete(victim);
        const local = await probe.catch(() => undefined);
        if (local) this.wakes.push({ runner: cluster.id(victim), frozenAt, answeredAt: Date.now(), local });
        return;
      }
      case "etcd":
      case "postgres":
        log(`restart ${fault}`);
        await cluster.restartService(fault);
        return;
      case "slow-link": {
        const proxy = this.ctx.proxies.get(victim);
        if (!proxy) throw new Error("slow links need a cluster started with --proxied");
        const latency = random.int(50, 300);
        const duration = random.int(3_000, 6_000);
        log(`slow link to runner ${victim}: +${latency} ms each way for ${duration} ms`);
        proxy.latencyMs = latency;
        proxy.jitterMs = latency / 5;
        await pause(duration);
        proxy.latencyMs = 0;
        proxy.jitterMs = 0;
        return;
      }
    }
  }

  /** Undoes whatever a fault interrupted half-way left behind (a paused runner, a slow link). */
  heal(): void {
    for (const i of this.paused) this.ctx.cluster.signal(i, "SIGCONT");
    this.paused.clear();
    for (const proxy of this.ctx.proxies.values()) {
      proxy.latencyMs = 0;
      proxy.jitterMs = 0;
    }
  }

  /** Runners that died without being told to (a crash): restarted, and returned for the report. */
  async reviveCrashed(): Promise<number[]> {
    const { cluster, log } = this.ctx;
    const crashed = cluster.indexes().filter((i) => cluster.pid(i) === undefined);
    for (const i of crashed) {
      log(`runner ${i} died on its own (see its runner.log); restarting it`);
      await cluster.control("start", i);
    }
    return crashed;
  }
}
