// Calls/s and p50/p99 latency per runner over the last 5 minutes, as uPlot charts. The runners
// sample their own metrics every second; /dashboard/traffic gathers every runner's samples.
import { colourOf } from "./format.js";

const charts = new Map();
let shape = null;

function size(el) {
  return { width: Math.max(240, el.clientWidth), height: 200 };
}

/** `traffic`: [{runner, samples: [[unix seconds, calls/s, p50 ms, p99 ms], …]}]. */
export function renderTraffic(traffic) {
  const runners = traffic.map((t) => t.runner).sort();
  const times = [...new Set(traffic.flatMap((t) => t.samples.map((s) => s[0])))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const column = (runner, k) => {
    const out = new Array(times.length).fill(null);
    for (const s of traffic.find((t) => t.runner === runner).samples) out[index.get(s[0])] = s[k];
    return out;
  };
  const rate = [times, ...runners.map((r) => column(r, 1))];
  const latency = [times, ...runners.flatMap((r) => [column(r, 2), column(r, 3)])];
  const next = runners.join(" ");
  if (next !== shape) {
    shape = next;
    for (const chart of charts.values()) chart.destroy();
    charts.clear();
    const line = (label, runner, dash) => ({ label, stroke: colourOf(runner), width: 1.5, dash, spanGaps: false, points: { show: false } });
    charts.set("rate", make("chart-rate", [{}, ...runners.map((r) => line(r, r))], rate));
    charts.set(
      "latency",
      make("chart-latency", [{}, ...runners.flatMap((r) => [line(`${r} p50`, r), line(`${r} p99`, r, [4, 3])])], latency),
    );
  } else {
    charts.get("rate").setData(rate);
    charts.get("latency").setData(latency);
  }
  const calls = traffic.reduce((n, t) => n + t.samples.reduce((m, s) => m + s[1], 0), 0);
  document.getElementById("traffic-note").textContent = times.length
    ? `${runners.length} runners, ${Math.round(calls)} calls in the window`
    : "no samples yet";
}

function make(id, series, data) {
  const el = document.getElementById(id);
  el.replaceChildren();
  const chart = new window.uPlot(
    { ...size(el), series, axes: [{}, { size: 50 }], legend: { live: false }, cursor: { show: true } },
    data,
    el,
  );
  new ResizeObserver(() => chart.setSize(size(el))).observe(el);
  return chart;
}
