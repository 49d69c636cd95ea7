import { suite, type Test } from "uvu";
import { type Client, createClient, type Transport } from "../../src/client.ts";
import type { Runner } from "../../src/runner.ts";
import type { Backend } from "./backends.ts";

export interface RunnerContext {
  runner?: Runner;
  api: Client;
}

/** A uvu suite with a runner on `backend` started before its tests and stopped after them. */
export function runnerSuite(name: string, backend: Backend, transport: Transport = "rest"): Test<RunnerContext> {
  const it = suite<RunnerContext>(`${name} [${backend.name}${transport === "rest" ? "" : `, ${transport}`}]`, {
    api: undefined as unknown as Client,
  });
  it.before(async (ctx) => {
    ctx.runner = await backend.start();
    ctx.api = createClient(ctx.runner.url, { transport });
  });
  it.after(async (ctx) => {
    await ctx.runner?.stop();
  });
  return it;
}

/** Stops the suite's runner, runs `meanwhile` (the downtime), and starts a new one on the same storage. */
export async function restartRunner(ctx: RunnerContext, backend: Backend, meanwhile: () => Promise<void> = async () => {}): Promise<void> {
  await ctx.runner?.stop();
  ctx.runner = undefined;
  await meanwhile();
  ctx.runner = await backend.start();
  ctx.api = createClient(ctx.runner.url);
}
