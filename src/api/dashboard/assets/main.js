// The dashboard's loop: poll the runner that served the page about once a second, render each
// panel from what it answered. A panel whose source fails keeps its last view; the header says so.
import { get, HttpError, session, storedToken, storeToken } from "./api.js";
import { renderEntities, renderRunners, renderShards } from "./cluster-panels.js";
import { renderTraffic } from "./traffic.js";
import {
  fetchSelected,
  renderExecution,
  renderSingletons,
  renderTimers,
  renderWorkflows,
  setupWorkflows,
  workflowsQuery,
} from "./work-panels.js";

const PERIOD_MS = 1000;
let authorized = false;
let timer;
let running = false;
let again = false;

const statusLine = document.getElementById("status");

async function singletons() {
  const [runner, history] = await Promise.all([get("/singleton/current-runner"), get("/singleton/leader-history")]);
  return [{ name: "SingletonTest", runner, history }];
}

/** One poll at a time: a tick asked for while one runs (a filter changed, a button) follows it at once. */
async function tick() {
  clearTimeout(timer);
  if (running) {
    again = true;
    return;
  }
  running = true;
  const started = Date.now();
  try {
    await poll();
  } finally {
    running = false;
  }
  if (again) {
    again = false;
    tick();
  } else timer = setTimeout(tick, Math.max(0, PERIOD_MS - (Date.now() - started)));
}

/** Each panel is drawn as soon as its source answers: a slow one (a peer timing out) delays no other. */
async function poll() {
  const admin = (fetcher) => (authorized ? fetcher() : Promise.resolve(null));
  const sources = {
    health: get("/health"),
    shards: get("/debug/shards"),
    runners: admin(() => get("/admin/runners")),
    entities: get("/debug/entities"),
    traffic: get("/dashboard/traffic"),
    singletons: singletons(),
    workflows: admin(() => get(workflowsQuery())),
    execution: admin(fetchSelected),
    timers: admin(() => get("/admin/timers?limit=100")),
  };
  const ok = (promise) =>
    promise.then(
      (value) => value,
      () => null,
    );
  const drawn = [
    ok(sources.health).then((h) => {
      if (h) document.getElementById("served-by").textContent = `served by ${h.runner} (${h.mode})`;
    }),
    // The runner list reads the shard map too (a runner that stopped answering still owns shards).
    Promise.all([ok(sources.shards), ok(sources.runners)]).then(([shards, runners]) => {
      if (shards) renderShards(shards);
      if (shards || runners) renderRunners(runners, shards);
    }),
    ok(sources.entities).then((e) => e && renderEntities(e)),
    ok(sources.traffic).then((t) => t && renderTraffic(t)),
    ok(sources.singletons).then((s) => s && renderSingletons(s)),
    ok(sources.workflows).then((w) => w && renderWorkflows(w)),
    sources.execution.then(
      (x) => authorized && renderExecution(x),
      () => {},
    ),
    ok(sources.timers).then((t) => t && renderTimers(t)),
  ];
  const names = Object.keys(sources);
  const settled = await Promise.allSettled(Object.values(sources));
  await Promise.all(drawn);
  const failed = [];
  settled.forEach((r, i) => {
    if (r.status === "rejected") failed.push(`${names[i]}: ${r.reason instanceof HttpError ? r.reason.message : "no answer"}`);
  });
  if (settled.some((r) => r.status === "rejected" && r.reason instanceof HttpError && r.reason.status === 401)) {
    authorized = false;
    await checkSession("The runner no longer accepts this token.");
  }
  statusLine.classList.toggle("error", failed.length > 0);
  statusLine.textContent = failed.length
    ? `unavailable: ${failed.join("; ")}`
    : `updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
}

/** Asks the runner whether it needs a token and accepts ours; shows the token form when it does not. */
async function checkSession(message = "") {
  const { token_required, token_accepted } = await session();
  authorized = !token_required || token_accepted;
  const form = document.getElementById("token-form");
  form.hidden = authorized;
  document.getElementById("token-message").textContent = authorized ? "" : message;
  if (!authorized && token_required && storedToken()) storeToken(null);
  return authorized;
}

document.getElementById("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("token-input");
  const candidate = input.value;
  const { token_accepted } = await session(candidate);
  if (!token_accepted) {
    document.getElementById("token-message").textContent = "The runner refused this token.";
    return;
  }
  storeToken(candidate);
  input.value = "";
  await checkSession();
  tick();
});

setupWorkflows(() => tick());
checkSession()
  .catch(() => {})
  .finally(tick);
