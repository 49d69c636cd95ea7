import { test } from "uvu";
import * as assert from "uvu/assert";
import { ClusterMetrics } from "../../src/cluster/index.ts";
import { parseMetrics } from "../support/prometheus.ts";

test("instruments write the Prometheus text format, one registry per ClusterMetrics", async () => {
  const a = new ClusterMetrics(true);
  const b = new ClusterMetrics(true);
  a.calls.total.inc({ entity_type: "Counter", rpc: "increment", outcome: "ok" }, 3);
  a.calls.duration.observe({ entity_type: "Counter", rpc: "increment" }, 0.004);
  a.workflowCancelled("runLong");
  const samples = parseMetrics(await a.text());
  const value = (name: string) => samples.find((s) => s.name === name)?.value;
  assert.is(value("cluster_calls_total"), 3);
  assert.is(value("cluster_call_duration_seconds_count"), 1);
  assert.is(value("cluster_workflows_cancelled_total"), 1);
  assert.equal(samples.find((s) => s.name === "cluster_calls_total")?.labels, { entity_type: "Counter", rpc: "increment", outcome: "ok" });
  assert.not.ok(
    parseMetrics(await b.text()).some((s) => s.name === "cluster_calls_total" && s.value > 0),
    "b is apart from a",
  );
});

test("METRICS=off: every instrument is a no-op and the exposition is empty", async () => {
  const off = new ClusterMetrics(false);
  off.calls.total.inc({ entity_type: "Counter", rpc: "increment", outcome: "ok" });
  off.http.duration.observe({ method: "GET", route: "/health" }, 0.1);
  off.read({ shardsOwned: () => 1, liveRunners: () => 1, activeEntities: () => [], timersPending: () => 0 });
  assert.is((await off.text()).trim(), "");
});

test.run();
