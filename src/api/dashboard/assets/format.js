// Small formatting helpers shared by the panels.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) node.append(child);
  return node;
}

/** Replaces the rows of a table body (or any element) with `rows`. */
export function fill(parent, rows) {
  parent.replaceChildren(...rows);
}

export function duration(ms) {
  if (!Number.isFinite(ms)) return "–";
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d`;
}

export function clock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "–" : d.toLocaleTimeString([], { hour12: false });
}

/** A stable colour per runner address, distinct for the few runners a cluster has. */
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"];
const assigned = new Map();
export function colourOf(runner) {
  if (!assigned.has(runner)) assigned.set(runner, PALETTE[assigned.size % PALETTE.length]);
  return assigned.get(runner);
}

export function status(name) {
  return el("span", { class: `status ${name}`, text: name });
}
