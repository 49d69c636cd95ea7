import { setTimeout as sleep } from "node:timers/promises";
import { TICKER_NAME, TickerState, ticker } from "../../contract/index.ts";
import { defineEntity, type SingletonContext, type SingletonShutdownContext } from "../cluster/index.ts";

/** The ticker's durable state, on the ticker singleton's shard. */
export const SingletonTicker = defineEntity(ticker, {
  state: TickerState,
  initial: () => ({ runner_id: null, tick_count: 0, last_tick_at: null, graceful_shutdown_at: null, previous_host: null }),
  handlers: {
    state: (s) => s,
    tickCount: (s) => s.tick_count,
    reset: (s) => {
      s.tick_count = 0;
      return null;
    },
    started: (s, { runner }) => {
      s.previous_host = s.runner_id === null ? null : { runner_id: s.runner_id, graceful_shutdown_at: s.graceful_shutdown_at };
      s.runner_id = runner;
      s.graceful_shutdown_at = null;
      return null;
    },
    tick: (s, _a, ctx) => {
      s.last_tick_at = ctx.now.toISOString();
      return ++s.tick_count;
    },
    shuttingDown: (s, _a, ctx) => {
      s.graceful_shutdown_at = ctx.now.toISOString();
      return null;
    },
  },
});

/** The ticker: takes over the state, then ticks every second until ownership moves. */
export async function runTicker(ctx: SingletonContext): Promise<void> {
  await ctx.call(ticker, TICKER_NAME, "started", { runner: ctx.runnerId });
  while (!ctx.signal.aborted) {
    await sleep(1_000, undefined, { signal: ctx.signal }).catch(() => {});
    if (!ctx.signal.aborted) await ctx.call(ticker, TICKER_NAME, "tick", {}).catch(() => {});
  }
}

/** Graceful hand-off: the marker is set before the next host can start. */
export const tickerShutdown = (ctx: SingletonShutdownContext) => ctx.call(ticker, TICKER_NAME, "shuttingDown", {}).then(() => {});
