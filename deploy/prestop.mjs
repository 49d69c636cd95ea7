// Kubernetes preStop hook of the runner container (deploy/kubernetes/deployment.yaml): asks this
// runner to drain (hand its shards to the others) and waits, bounded, until it owns none, so that
// the SIGTERM that follows finds nothing left to move. Best effort: whatever fails here, it exits 0
// and the SIGTERM hands the shards over gracefully anyway (in-flight calls finish, the lease is
// revoked, the others take over at once). Plain Node, no dependencies.
//   node deploy/prestop.mjs            (in the image: node prestop.mjs)
// Env: LISTEN_ADDR (the HTTP port), RUNNER_ADDRESS (this runner's id), ADMIN_TOKEN (sent as the
// bearer token of the operator API, when set), DRAIN_TIMEOUT_S (default 20).
const port = (process.env.LISTEN_ADDR ?? "0.0.0.0:8080").split(":").pop();
const base = `http://127.0.0.1:${port}`;
const runner = process.env.RUNNER_ADDRESS ?? "";
const deadline = Date.now() + Number(process.env.DRAIN_TIMEOUT_S ?? 20) * 1000;
const say = (msg) => process.stdout.write(`${JSON.stringify({ level: "info", time: new Date().toISOString(), msg: `preStop: ${msg}` })}\n`);

try {
  const secret = process.env.ADMIN_TOKEN;
  const res = await fetch(`${base}/admin/runners/${encodeURIComponent(runner)}/drain`, {
    method: "POST",
    headers: secret ? { authorization: `Bearer ${secret}` } : {},
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) {
    say(`drain answered ${res.status}: relying on SIGTERM's hand-over`);
    process.exit(0);
  }
  while (Date.now() < deadline) {
    const health = await (await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) })).json();
    if (health.shards_owned === 0) {
      say("drained");
      process.exit(0);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  say("still owns shards at the drain timeout: SIGTERM hands them over");
} catch (error) {
  say(`drain failed (${error}): relying on SIGTERM's hand-over`);
}
process.exit(0);
