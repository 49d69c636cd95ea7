import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Etcd3 } from "etcd3";
import postgres from "postgres";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { shardOf } from "../../src/cluster/index.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { freePort } from "../support/free-port.ts";
import { waitFor } from "../support/wait.ts";

/**
 * Trace context across runners. The shared cluster logs at warn, so this suite starts a cluster of
 * its own at LOG_LEVEL=debug (one Node and one Deno runner, 8 shards) on the shared Postgres and
 * etcd: its own database and etcd prefix, so the two clusters never see each other's entities.
 */
const shared = ClusterHarness.fromEnv();
if (!shared) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const it = suite("Trace context (traceparent) across runners and into their logs");
const run = promisify(execFile);
const repo = join(import.meta.dirname, "..", "..");
const SHARDS = 8;
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

interface Runner {
  readonly dir: string;
  readonly url: string;
  readonly id: string;
}

const env = shared.env();
const database = `trace_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
const prefix = `/${database}/`;
const dir = mkdtempSync(join(tmpdir(), "trace-test-"));
const runners: Runner[] = [];
const admin = postgres(env.POSTGRES_URL as string, { max: 1, onnotice: () => {} });

async function startRunner(runtime: "node" | "deno", n: number): Promise<Runner> {
  const state = join(dir, `runner-${n}`);
  const id = `127.0.0.1:${await freePort()}`;
  const url = new URL(env.POSTGRES_URL as string);
  url.pathname = `/${database}`;
  await run("bash", [join(repo, "scripts/runner.sh"), "start", state, runtime], {
    cwd: repo,
    env: {
      ...process.env,
      POSTGRES_URL: url.toString(),
      ETCD_ENDPOINTS: env.ETCD_ENDPOINTS,
      ETCD_PREFIX: prefix,
      RUNNER_ADDRESS: id,
      LISTEN_ADDR: `127.0.0.1:${await freePort()}`,
      LOG_LEVEL: "debug",
      SHARD_COUNT: String(SHARDS),
      LEASE_TTL_MS: "2000",
    },
  });
  const runnerUrl = /RUNNER_URL=(\S+)/.exec(readFileSync(join(state, "env"), "utf8"))?.[1] as string;
  return { dir: state, url: runnerUrl, id };
}

/** The log lines of `runner` (JSON objects) that carry `traceId`. */
function traced(runner: Runner, traceId: string): Record<string, unknown>[] {
  return readFileSync(join(runner.dir, "runner.log"), "utf8")
    .split("\n")
    .filter((line) => line.includes(traceId))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** An id whose shard `owner` serves. */
async function idOwnedBy(owner: Runner, tag: string): Promise<string> {
  const shards = (await (await fetch(`${owner.url}/debug/shards`)).json()) as { shard_id: number; owner: string }[];
  const mine = new Set(shards.filter((s) => s.owner === owner.id).map((s) => s.shard_id));
  for (let n = 0; ; n++) if (mine.has(shardOf(`${tag}-${n}`, SHARDS))) return `${tag}-${n}`;
}

async function post(runner: Runner, path: string, body: unknown, traceparent?: string): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (traceparent !== undefined) headers.traceparent = traceparent;
  const response = await fetch(`${runner.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  assert.is(response.status, 200, `${path}: ${await response.clone().text()}`);
  return response;
}

const traceOf = (response: Response) =>
  /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(response.headers.get("traceresponse") ?? "")?.[1];

it.before(async () => {
  await admin.unsafe(`create database ${database}`);
  runners.push(await startRunner("node", 1), await startRunner("deno", 2));
  await waitFor(
    "both runners to serve their share of the shards",
    async () => {
      const health = await Promise.all(
        runners.map(async (r) => (await (await fetch(`${r.url}/health`)).json()) as { shards_owned: number }),
      );
      return health.every((h) => h.shards_owned > 0) && health.reduce((a, h) => a + h.shards_owned, 0) === SHARDS ? true : undefined;
    },
    30_000,
  );
});

it.after(async () => {
  for (const r of runners) await run("bash", [join(repo, "scripts/runner.sh"), "stop", r.dir], { cwd: repo }).catch(() => {});
  await admin.unsafe(`drop database if exists ${database} with (force)`).catch(() => {});
  await admin.end();
  const etcd = new Etcd3({ hosts: (env.ETCD_ENDPOINTS as string).split(",") });
  await etcd
    .delete()
    .prefix(prefix)
    .exec()
    .catch(() => {});
  etcd.close();
  rmSync(dir, { recursive: true, force: true });
});

it("a forwarded call: the same trace_id in the log lines of the entry runner (Node) and the owner (Deno)", async () => {
  const [entry, owner] = runners as [Runner, Runner];
  const id = await idOwnedBy(owner, "traced");
  const response = await post(entry, `/counter/${id}/increment`, 1, `00-${TRACE}-00f067aa0ba902b7-01`);
  assert.is(traceOf(response), TRACE);
  await waitFor("the owner's log line", () => (traced(owner, TRACE).some((l) => l.msg === "forwarded call served") ? true : undefined));
  const atEntry = traced(entry, TRACE).map((l) => l.msg);
  assert.ok(atEntry.includes("call forwarded") && atEntry.includes("request"), `entry runner's lines: ${atEntry}`);
  const served = traced(owner, TRACE).find((l) => l.msg === "forwarded call served");
  assert.is(served?.entity, `Counter/${id}`);
  assert.is(served?.span_id === "00f067aa0ba902b7", false, "the owner serves it in a span of its own");
});

it("entity-to-entity calls carry the caller's trace: entry → owner of A → (ctx.call) owner of B", async () => {
  const [one, two] = runners as [Runner, Runner];
  const a = await idOwnedBy(two, "sender");
  const b = await idOwnedBy(one, "receiver");
  const trace = "0af7651916cd43dd8448eb211c80319c";
  await post(one, `/cross/${a}/send`, { target_type: "CrossEntity", target_id: b, message: "hi" }, `00-${trace}-b7ad6b7169203331-01`);
  await waitFor("both hops in the logs", () =>
    traced(one, trace).some((l) => l.msg === "forwarded call served" && l.entity === `CrossEntity/${b}`) &&
    traced(two, trace).some((l) => l.msg === "forwarded call served" && l.entity === `CrossEntity/${a}`)
      ? true
      : undefined,
  );
  assert.ok(
    traced(two, trace).some((l) => l.msg === "call forwarded"),
    "runner 2 forwarded A's call to B in the same trace",
  );
});

it("no traceparent, or a malformed one: a fresh trace (never a 4xx), and it too reaches the owner's log", async () => {
  const [entry, owner] = runners as [Runner, Runner];
  const id = await idOwnedBy(owner, "untraced");
  const seen = new Set<string>();
  for (const header of [
    undefined,
    "00-xyz",
    `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
    `ff-${TRACE}-00f067aa0ba902b7-01`,
    `00-${TRACE}-00f067aa0ba902b7-01-extra`,
  ]) {
    const fresh = traceOf(await post(entry, `/counter/${id}/increment`, 1, header));
    assert.ok(fresh && fresh !== TRACE && !seen.has(fresh), `a new trace id for ${header}: ${fresh}`);
    seen.add(fresh as string);
    await waitFor("the owner's line", () => (traced(owner, fresh as string).length > 0 ? true : undefined));
  }
});

it.run();
