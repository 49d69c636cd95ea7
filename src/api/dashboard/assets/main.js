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

async function poll() {
  const admin = (fetcher) => (authorized ? fetcher() : Promise.resolve(null));
  const sources = {
    health: get("/health"),
    shards: get("/debug/shards"),
    entities: get("/debug/entities"),
    traffic: get("/dashboard/traffic"),
    singletons: singletons(),
    runners: admin(() => get("/admin/runners")),
    workflows: admin(() => get(workflowsQuery())),
    execution: admin(fetchSelected),
    timers: admin(() => get("/admin/timers?limit=100")),
  };
  const names = Object.keys(sources);
  const settled = await Promise.allSettled(Object.values(sources));
  const got = {};
  const failed = [];
  settled.forEach((r, i) => {
    if (r.status === "fulfilled") got[names[i]] = r.value;
    else failed.push(`${names[i]}: ${r.reason instanceof HttpError ? r.reason.message : "no answer"}`);
  });
  if (settled.some((r) => r.status === "rejected" && r.reason instanceof HttpError && r.reason.status === 401)) {
    authorized = false;
    await checkSession("The runner no longer accepts this token.");
  }
  render(got);
  statusLine.classList.toggle("error", failed.length > 0);
  statusLine.textContent = failed.length
    ? `unavailable: ${failed.join("; ")}`
    : `updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
}

function render(got) {
  if (got.health) document.getElementById("served-by").textContent = `served by ${got.health.runner} (${got.health.mode})`;
  if (got.shards) renderShards(got.shards);
  if (got.shards || got.runners) renderRunners(got.runners ?? null, got.shards ?? null);
  if (got.entities) renderEntities(got.entities);
  if (got.traffic) renderTraffic(got.traffic);
  if (got.singletons) renderSingletons(got.singletons);
  if (got.workflows) renderWorkflows(got.workflows);
  if ("execution" in got && authorized) renderExecution(got.execution);
  if (got.timers) renderTimers(got.timers);
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
