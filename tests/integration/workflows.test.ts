/**
 * WorkflowTest and ActivityTest through a runner's API (PGlite, and Postgres when provisioned):
 * what the bash suites cannot easily show — reads served while a workflow runs, a stopped runner's
 * execution resumed by the next one at start-up, the error statuses over tRPC too.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type Client, createClient } from "../../src/client.ts";
import type { Runner } from "../../src/runner.ts";
import { rejects } from "../support/assert.ts";
import { BACKENDS } from "../support/backends.ts";
import { uniqueId } from "../support/unique-id.ts";
import { waitFor } from "../support/wait.ts";

const steps = (n: number) => Array.from({ length: n }, (_, k) => `step${k + 1}`);
const once = (n: number) => Object.fromEntries(steps(n).map((s) => [s, 1]));

for (const backend of BACKENDS) {
  const it = suite<{ runner?: Runner; api: Client }>(`Workflows through the API [${backend.name}]`, {
    api: undefined as unknown as Client,
  });
  it.before(async (ctx) => {
    ctx.runner = await backend.start();
    ctx.api = createClient(ctx.runner.url);
  });
  it.after(async (ctx) => {
    await ctx.runner?.stop();
  });

  it("the entity answers reads while one of its workflows runs", async ({ api }) => {
    const id = uniqueId("wf");
    const run = api.workflow.runLong({ id, exec_id: "long", steps: 20, step_delay_ms: 30 });
    const midway = await waitFor("a read showing the run half-way", async () => {
      const x = await api.workflow.execution({ id, exec_id: "long" }).catch(() => undefined);
      return x && x.status === "running" && x.steps_completed.length > 0 ? x : undefined;
    });
    assert.ok(midway.steps_completed.length < 20);
    assert.equal(midway.steps_completed, steps(midway.steps_completed.length));
    assert.is(await run, "completed 20 steps");
  });

  it("failure statuses over both transports: 422 for a failed workflow, 409 for a reused exec id", async ({ runner }) => {
    for (const transport of ["rest", "trpc"] as const) {
      const api = createClient(runner!.url, { transport });
      const id = uniqueId(`wf-${transport}`);
      const failed = await rejects(() => api.workflow.runFailing({ id, exec_id: "f", fail_at: 2 }), 422, /step2 failed: injected failure/);
      assert.ok(failed.body !== null && typeof failed.body === "object", "the error body is JSON");
      await rejects(() => api.workflow.runFailing({ id, exec_id: "f", fail_at: 3 }), 409, /exec id f is taken/);
      assert.is(await api.workflow.runFailing({ id, exec_id: "f", fail_at: 2 }), "completed 3 steps");
      await rejects(() => api.workflow.runSimple({ id, exec_id: "f" }), 409);
    }
  });

  it.run();
}

for (const backend of BACKENDS) {
  const it = suite(`Workflow resumed at start-up [${backend.name}]`);

  it("a workflow left running by a stopped runner is resumed by the next one at start-up", async () => {
    const first = await backend.start();
    const id = uniqueId("wf-restart");
    let second: Runner | undefined;
    try {
      const api = createClient(first.url);
      const caller = new AbortController();
      const pending = api.workflow
        .runLong({ id, exec_id: "r", steps: 30, step_delay_ms: 40 }, { signal: caller.signal })
        .catch(() => "aborted");
      await waitFor(
        "a few steps",
        async () =>
          ((await api.workflow.execution({ id, exec_id: "r" }).catch(() => undefined))?.steps_completed.length ?? 0) >= 5 || undefined,
      );
      caller.abort();
      await pending;
      await first.stop();
      second = await backend.start();
      const api2 = createClient(second.url);
      const done = await waitFor(
        "the resumed execution to complete",
        async () => {
          const x = await api2.workflow.execution({ id, exec_id: "r" });
          return x.status === "completed" ? x : undefined;
        },
        15_000,
      );
      assert.equal(done.steps_completed, steps(30));
      assert.equal(done.step_runs, once(30));
      assert.is(done.attempts, 2);
      assert.is(await api2.workflow.runLong({ id, exec_id: "r", steps: 30, step_delay_ms: 40 }), "completed 30 steps");
    } finally {
      await second?.stop();
      await first.stop().catch(() => {});
    }
  });

  it.run();
}
