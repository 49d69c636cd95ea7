// Workflows (with one execution's journal, cancel and resume), pending timers, singletons.
import { get, HttpError, path, post } from "./api.js";
import { clock, colourOf, duration, el, fill, status } from "./format.js";

const EXECUTION = "/admin/workflows/{entity_type}/{entity_id}/{exec_id}";
let selected = null;
let onChange = () => {};

/** `changed` is called after an action, so the page refreshes at once. */
export function setupWorkflows(changed) {
  onChange = changed;
  document.getElementById("wf-status").addEventListener("change", changed);
  document.getElementById("wf-filter").addEventListener("input", changed);
  document.getElementById("exec-close").addEventListener("click", () => {
    selected = null;
    document.getElementById("execution").hidden = true;
    changed();
  });
  document.getElementById("exec-cancel").addEventListener("click", () => act("cancel", "cancelled"));
  document.getElementById("exec-resume").addEventListener("click", () => act("resume", "resumed"));
}

/** The query for the list, from the status filter. */
export function workflowsQuery() {
  const chosen = document.getElementById("wf-status").value;
  return `/admin/workflows?limit=200${chosen ? `&status=${encodeURIComponent(chosen)}` : ""}`;
}

const sameExecution = (a, b) => a && b && a.entity_type === b.entity_type && a.entity_id === b.entity_id && a.exec_id === b.exec_id;

export function renderWorkflows(page) {
  const words = document.getElementById("wf-filter").value.trim().toLowerCase();
  const matches = (x) => !words || [x.entity_type, x.entity_id, x.exec_id, x.workflow].some((s) => s.toLowerCase().includes(words));
  const shown = page.executions.filter(matches);
  const counts = new Map();
  for (const x of shown) counts.set(x.status, (counts.get(x.status) ?? 0) + 1);
  document.getElementById("wf-counts").textContent = [...counts].map(([s, n]) => `${n} ${s}`).join(" · ") || "none";
  const rows = shown.map((x) =>
    el(
      "tr",
      {
        class: sameExecution(x, selected) ? "selected" : undefined,
        "data-exec": x.exec_id,
        "data-status": x.status,
        onclick: () => {
          selected = { entity_type: x.entity_type, entity_id: x.entity_id, exec_id: x.exec_id };
          onChange();
        },
      },
      el("td", {}, status(x.status)),
      el("td", { text: x.workflow }),
      el("td", { text: `${x.entity_type}/${x.entity_id}` }),
      el("td", {}, el("a", { href: "#execution", text: x.exec_id })),
      el("td", { class: "num", text: String(x.attempts) }),
      el("td", { text: clock(x.started_at) }),
    ),
  );
  fill(
    document.querySelector("#workflows tbody"),
    rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: "no executions" }))],
  );
}

/** The selected execution's detail, or null when none is selected. */
export function fetchSelected() {
  return selected ? get(path(EXECUTION, selected)) : Promise.resolve(null);
}

export function renderExecution(detail) {
  const box = document.getElementById("execution");
  box.hidden = !detail;
  if (!detail) return;
  const x = detail.execution;
  box.dataset.status = x.status;
  document.getElementById("exec-title").textContent = `${x.workflow} ${x.entity_type}/${x.entity_id} · ${x.exec_id}`;
  const summary = document.getElementById("exec-summary");
  fill(summary, [status(x.status), ` attempts ${x.attempts}, started ${clock(x.started_at)}`]);
  if (x.finished_at) summary.append(`, finished ${clock(x.finished_at)}`);
  if (x.error) summary.append(el("span", { class: "error", text: ` · ${x.error}` }));
  if (x.result !== null) summary.append(` · result ${x.result}`);
  document.getElementById("exec-cancel").disabled = !["running", "suspended", "failed"].includes(x.status);
  document.getElementById("exec-resume").disabled = x.status !== "failed";
  const rows = detail.journal.map((j) =>
    el(
      "tr",
      {},
      el("td", { class: "num", text: String(j.position + 1) }),
      el("td", { text: j.name }),
      el("td", { text: j.kind }),
      el("td", { class: "num", text: String(j.attempt) }),
      el("td", { class: "num", text: String(j.runs) }),
      el("td", { text: j.error ?? j.result ?? "" }),
      el("td", { text: clock(j.created_at) }),
    ),
  );
  fill(
    document.querySelector("#journal tbody"),
    rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, class: "muted", text: "no step journaled yet" }))],
  );
}

async function act(action, done) {
  if (!selected) return;
  const message = document.getElementById("exec-message");
  message.className = "";
  message.textContent = `${action}…`;
  try {
    await post(`${path(EXECUTION, selected)}/${action}`);
    message.textContent = done;
  } catch (error) {
    message.className = "error";
    message.textContent = error instanceof HttpError ? `${action} refused: ${error.message}` : String(error);
  }
  onChange();
}

export function renderTimers(timers, now = Date.now()) {
  const soonest = [...timers].sort((a, b) => Date.parse(a.fire_at) - Date.parse(b.fire_at));
  document.getElementById("timer-total").textContent = `(${timers.length}${timers.length >= 100 ? "+" : ""})`;
  const rows = soonest.map((t) => {
    const due = Date.parse(t.fire_at) - now;
    return el(
      "tr",
      {},
      el("td", { title: t.fire_at, text: due <= 0 ? "due now" : `in ${duration(due)}` }),
      el("td", { text: `${t.entity_type}/${t.entity_id}` }),
      el("td", { text: t.timer_id }),
    );
  });
  fill(
    document.querySelector("#timers tbody"),
    rows.length ? rows : [el("tr", {}, el("td", { colspan: 3, class: "muted", text: "none pending" }))],
  );
}

/** `singletons`: [{name, runner, history: [{runner_id, became_leader_at, lost_leadership_at}]}]. */
export function renderSingletons(singletons) {
  fill(
    document.getElementById("singletons"),
    singletons.map((s) =>
      el(
        "div",
        { class: "singleton", "data-singleton": s.name },
        el(
          "div",
          {},
          el("strong", { text: s.name }),
          " runs on ",
          el("span", { class: "swatch", style: `background:${colourOf(s.runner)}` }),
          s.runner,
        ),
        el(
          "table",
          {},
          el("thead", {}, el("tr", {}, el("th", { text: "Leader" }), el("th", { text: "From" }), el("th", { text: "Until" }))),
          el(
            "tbody",
            {},
            ...[...s.history]
              .reverse()
              .slice(0, 8)
              .map((h) =>
                el(
                  "tr",
                  {},
                  el("td", { text: h.runner_id }),
                  el("td", { text: clock(h.became_leader_at) }),
                  el("td", { text: h.lost_leadership_at ? clock(h.lost_leadership_at) : "now" }),
                ),
              ),
          ),
        ),
      ),
    ),
  );
}
