// Runners, shard map and active entities: who is in the cluster and what each one holds.
import { clock, colourOf, duration, el, fill } from "./format.js";

/** Last known info of each runner, so one that stops answering stays listed (red) until its lease is gone. */
const known = new Map();

/**
 * `runners`: /admin/runners (null when it could not be read); `shards`: /debug/shards. A runner is
 * listed while it is a member or still owns shards; it is down once it no longer answers or its
 * fencing deadline has passed.
 */
export function renderRunners(runners, shards, now = Date.now()) {
  const owners = new Set(shards?.map((s) => s.owner).filter(Boolean) ?? []);
  if (runners) {
    const listed = new Set(runners.map((r) => r.address));
    for (const info of runners) known.set(info.address, { info, answering: info.answering !== false, seenAt: now });
    for (const [address, entry] of known) {
      if (listed.has(address)) continue;
      if (owners.has(address)) entry.answering = false;
      else known.delete(address);
    }
  }
  for (const owner of owners) if (!known.has(owner)) known.set(owner, { info: { address: owner }, answering: false, seenAt: now });
  const counts = countBy(shards ?? [], (s) => s.owner);
  const rows = [...known.values()]
    .sort((a, b) => a.info.address.localeCompare(b.info.address))
    .map(({ info, answering }) => {
      const lease = info.fencing_deadline ? Date.parse(info.fencing_deadline) - now : Number.NaN;
      const down = !answering || lease <= 0;
      const uptime = info.started_at ? now - Date.parse(info.started_at) : Number.NaN;
      const state = down ? "not answering" : info.draining ? "draining" : info.ready === false ? "starting" : "ok";
      return el(
        "tr",
        { class: down ? "down" : undefined, "data-runner": info.address, "data-state": down ? "down" : "up" },
        el("td", { class: "address" }, el("span", { class: "swatch", style: `background:${colourOf(info.address)}` }), info.address),
        el("td", { "data-label": "runtime", text: info.runtime ?? "–" }),
        el("td", { class: "num", "data-label": "uptime", text: duration(uptime) }),
        el("td", { class: "num", "data-label": "shards", text: String(counts.get(info.address) ?? info.shards_owned ?? 0) }),
        el("td", { class: "num", "data-label": "entities", text: info.active_entities === undefined ? "–" : String(info.active_entities) }),
        el("td", {
          class: "num",
          "data-label": "lease",
          title: info.fencing_deadline ? `fencing deadline ${clock(info.fencing_deadline)}` : undefined,
          text: leaseText(lease),
        }),
        el("td", { "data-label": "state", text: state }),
      );
    });
  fill(document.querySelector("#runners tbody"), rows);
}

function leaseText(ms) {
  if (Number.isNaN(ms)) return "–";
  return ms <= 0 ? `expired ${duration(-ms)} ago` : duration(ms);
}

function countBy(items, key) {
  const counts = new Map();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/** One cell per shard, coloured by its owner; the legend counts each owner's cells. */
export function renderShards(shards) {
  const map = document.getElementById("shard-map");
  if (map.children.length !== shards.length) {
    fill(
      map,
      shards.map(() => el("div", { class: "cell" })),
    );
  }
  shards.forEach((s, i) => {
    const cell = map.children[i];
    const owner = s.owner ?? "";
    if (cell.dataset.owner === owner && cell.dataset.shard === String(s.shard_id)) return;
    cell.dataset.shard = String(s.shard_id);
    cell.dataset.owner = owner;
    cell.title = `shard ${s.shard_id}: ${s.owner ?? "no owner"}`;
    cell.classList.toggle("none", !s.owner);
    cell.style.background = s.owner ? colourOf(s.owner) : "";
  });
  const counts = countBy(shards, (s) => s.owner ?? "");
  document.getElementById("shard-total").textContent = `(${shards.length} shards)`;
  const owners = [...counts.keys()].sort((a, b) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)));
  fill(
    document.getElementById("shard-legend"),
    owners.map((owner) =>
      el(
        "li",
        { "data-owner": owner },
        el("span", { class: "swatch", style: owner ? `background:${colourOf(owner)}` : "background:#d0d4dc" }),
        `${owner || "no owner"}: ${counts.get(owner)}`,
      ),
    ),
  );
}

/** Active entities of the whole cluster, by type. */
export function renderEntities(entities) {
  const counts = countBy(entities, (e) => e.entity_type);
  document.getElementById("entity-total").textContent = `(${entities.length})`;
  const rows = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([type, n]) => el("tr", {}, el("td", { text: type }), el("td", { class: "num", text: String(n) })));
  fill(
    document.querySelector("#entities tbody"),
    rows.length ? rows : [el("tr", {}, el("td", { colspan: 2, class: "muted", text: "none" }))],
  );
}
