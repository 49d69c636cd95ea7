/**
 * The ticker singleton's lifecycle on the shared cluster: a SIGTERM of its host leaves the graceful
 * marker before the hand-off, a SIGKILL leaves none, and the tick count never goes back.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { TICKER_NAME, type TickerState } from "../../contract/index.ts";
import { shardOf } from "../../src/cluster/index.ts";
import { ClusterHarness } from "../support/cluster.ts";
import { waitFor } from "../support/wait.ts";

const found = ClusterHarness.fromEnv();
if (!found) throw new Error("CLUSTER_STATE is not set: start a cluster with scripts/cluster.sh up (npm test does)");
const cluster: ClusterHarness = found;
const leaseTtlMs = Number(process.env.LEASE_TTL_MS ?? 5000);
const it = suite("Cluster ticker singleton");

/** Stops the ticker's host with `signal`; resolves with the state the next host shows once it ticked. */
async function handOff(signal: "term" | "kill"): Promise<{ before: TickerState; after: TickerState }> {
  const settled = async () => {
    const state = await cluster.client(1).ticker.state({});
    const table = await cluster.client(1).system.shards({});
    const shard = table.find((s) => s.shard_id === shardOf(TICKER_NAME, table.length));
    return state.runner_id !== null && shard?.owner === state.runner_id ? state : undefined;
  };
  const before = await waitFor("the ticker on its shard's owner", settled, 30_000);
  const victim = cluster.indexes().find((i) => cluster.id(i) === before.runner_id) as number;
  assert.ok(victim, `host ${before.runner_id} is one of the runners`);
  const api = cluster.client(cluster.indexes().find((i) => i !== victim) as number);
  await cluster.control(signal, victim);
  const after = await waitFor(
    `a new ticker host after ${signal}`,
    async () => {
      const s = await api.ticker.state({}).catch(() => undefined);
      return s && s.runner_id !== before.runner_id && s.tick_count > before.tick_count ? s : undefined;
    },
    leaseTtlMs + 10_000,
  );
  await cluster.control("start", victim);
  return { before, after };
}

it("SIGTERM of the host: graceful_shutdown_at is set before the hand-off, cleared by the next host; ticks go on", async () => {
  const { before, after } = await handOff("term");
  assert.is(after.graceful_shutdown_at, null);
  assert.is(after.previous_host?.runner_id, before.runner_id);
  assert.ok(after.previous_host?.graceful_shutdown_at, "the old host left its marker");
  assert.ok(after.tick_count > before.tick_count);
});

it("SIGKILL of the host: no marker; the tick count continues, never going back", async () => {
  const { before, after } = await handOff("kill");
  assert.is(after.previous_host?.runner_id, before.runner_id);
  assert.is(after.previous_host?.graceful_shutdown_at, null);
  assert.ok(after.tick_count > before.tick_count);
});

it.run();
