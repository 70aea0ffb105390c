// rhcli dashboard: one page, routed by the address's #fragment, fed by server-sent events.
// Every value from the cluster goes into the page as text (textContent), never as HTML.
"use strict";

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "timed_out"];
const CODE_STATUS = { q: "queued", r: "running", s: "succeeded", f: "failed", c: "cancelled", t: "timed_out" };
const COLOR = {
  queued: "#a3a3a3", running: "#93c5fd", succeeded: "#16a34a", failed: "#dc2626",
  cancelled: "#9333ea", timed_out: "#ea580c",
};
const HISTORY = 150; // samples kept for the nodes page's charts (about 5 minutes)

const page = document.getElementById("page");
const live = document.getElementById("live");
const failureBox = document.getElementById("failure");
const clusterSelect = document.getElementById("cluster");
let clusters = { clusters: [], default: "" };
let closers = []; // what the current page must stop when the route changes
const functionsSeen = new Set();
const nodeHistory = {}; // cluster -> {t: [], series: {label: []}}

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  const params = new URLSearchParams(query || "");
  const parts = (path || "runs").split("/").map(decodeURIComponent);
  return { parts, params };
}

function link(parts, params) {
  const q = new URLSearchParams(params || {});
  q.set("cluster", currentCluster());
  return "#/" + parts.map(encodeURIComponent).join("/") + "?" + q.toString();
}

function currentCluster() {
  return parseHash().params.get("cluster") || clusters.default;
}

function api(path, params) {
  const q = new URLSearchParams(params || {});
  q.set("cluster", currentCluster());
  return path + "?" + q.toString();
}

function showFailure(message) {
  failureBox.hidden = !message;
  failureBox.textContent = message || "";
}

// A live view: an EventSource whose named events go to handlers; "failure" events (the
// cluster is down, a run is unknown) show in the banner until the next good event.
function stream(url, handlers) {
  const source = new EventSource(url);
  source.onopen = () => { live.textContent = "live"; live.classList.add("on"); };
  source.onerror = () => { live.textContent = "reconnecting"; live.classList.remove("on"); };
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => {
      showFailure("");
      fn(JSON.parse(event.data), event);
    });
  }
  source.addEventListener("failure", (event) => showFailure(JSON.parse(event.data).message));
  closers.push(() => source.close());
  return source;
}

function clock(t) {
  if (!t) return "-";
  const d = new Date(t * 1000);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

function duration(s) {
  if (s === null || s === undefined) return "-";
  if (s < 1) return (s * 1000).toFixed(0) + " ms";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  return (s / 3600).toFixed(1) + " h";
}

function gib(bytes) { return (bytes / 2 ** 30).toFixed(1) + " GiB"; }

function badge(status) { return h("span", { class: "status " + status, text: status.replace("_", " ") }); }

function runLink(run) {
  return link([run.is_map ? "map" : "run", run.run_id]);
}

function commands(found) {
  return h("div", { class: "commands" },
    Object.entries(found).map(([name, text]) =>
      h("div", {}, h("span", { class: "muted", text: name }), h("code", { text }))));
}

// --- runs ---------------------------------------------------------------------------------
function runsPage(params) {
  const status = params.get("status") || "";
  const fn = params.get("function") || "";
  const statusPick = h("select", { id: "filter-status", onchange: (e) => refilter("status", e.target.value) },
    h("option", { value: "", text: "any status" }),
    STATUSES.map((s) => h("option", { value: s, text: s, selected: s === status })));
  const fnPick = h("select", { id: "filter-function", onchange: (e) => refilter("function", e.target.value) },
    h("option", { value: "", text: "any function" }));
  const fillFunctions = () => {
    const have = new Set([...fnPick.options].map((o) => o.value));
    for (const name of [...functionsSeen, fn].filter(Boolean).sort()) {
      if (!have.has(name)) fnPick.append(h("option", { value: name, text: name }));
    }
    fnPick.value = fn;
  };
  fillFunctions();
  const body = h("tbody", { id: "runs-body" });
  const note = h("p", { class: "muted", id: "runs-note", text: "Loading runs..." });
  page.replaceChildren(
    h("h1", { text: "Runs on " + currentCluster() }),
    h("div", { class: "filters" }, statusPick, fnPick),
    h("table", { id: "runs-table" },
      h("thead", {}, h("tr", {}, ["Run", "Function", "Status", "Started", "Duration", "Items"].map((t) => h("th", { text: t })))),
      body),
    note);
  let seen = null;
  stream(api("/api/runs/events", { status, function: fn }), {
    runs: (runs) => {
      const fresh = seen === null ? new Set() : new Set(runs.map((r) => r.run_id).filter((id) => !seen.has(id)));
      seen = new Set(runs.map((r) => r.run_id));
      runs.forEach((r) => functionsSeen.add(r.function));
      fillFunctions();
      note.textContent = runs.length ? "" : "No runs match.";
      body.replaceChildren(...runs.map((r) => h("tr", { class: fresh.has(r.run_id) ? "new" : null, "data-run-id": r.run_id },
        h("td", { class: "mono" }, h("a", { href: runLink(r), text: r.run_id })),
        h("td", { text: r.function }),
        h("td", {}, badge(r.status)),
        h("td", { text: clock(r.started_at || r.created_at) }),
        h("td", { text: duration(r.duration_s) }),
        h("td", { text: r.is_map ? `${r.items} (${r.items_failed} failed)` : "" }))));
    },
  });
}

function refilter(name, value) {
  const { parts, params } = parseHash();
  if (value) params.set(name, value); else params.delete(name);
  location.hash = "#/" + parts.join("/") + "?" + params.toString();
}

// --- one run ------------------------------------------------------------------------------
function runPage(runId) {
  const facts = h("div", { class: "panel", id: "run-facts" }, "Loading...");
  const ending = h("div", { id: "run-ending" });
  const log = h("div", { class: "log", id: "log" });
  const cmds = h("div", { id: "run-commands" });
  page.replaceChildren(h("h1", { class: "mono", text: runId }), facts, ending,
    h("h2", { text: "Log" }), log, h("h2", { text: "Commands" }), cmds);
  let following = false;
  stream(api("/api/runs/" + encodeURIComponent(runId) + "/events"), {
    run: (run) => {
      if (run.is_map) { location.replace(link(["map", runId])); return; }
      facts.replaceChildren(h("dl", { class: "facts" },
        h("dt", { text: "status" }), h("dd", { id: "run-status" }, badge(run.status),
          run.failure ? " " + run.failure : ""),
        h("dt", { text: "function" }), h("dd", { class: "mono", text: run.function }),
        h("dt", { text: "arguments" }), h("dd", { class: "mono", text: run.args_summary || (run.parent ? "an item of map " + run.parent : "-") }),
        run.parent ? [h("dt", { text: "map" }), h("dd", {}, h("a", { href: link(["map", run.parent]), text: run.parent }))] : null,
        h("dt", { text: "created" }), h("dd", { text: clock(run.created_at) }),
        h("dt", { text: "started" }), h("dd", { text: clock(run.started_at) }),
        h("dt", { text: "ended" }), h("dd", { text: clock(run.ended_at) }),
        h("dt", { text: "duration" }), h("dd", { text: duration(run.duration_s) }),
        h("dt", { text: "worker" }), h("dd", { class: "mono", text: run.worker || "-" }),
        run.reason ? [h("dt", { text: "reason" }), h("dd", { id: "run-reason", text: run.reason })] : null));
      ending.replaceChildren(...renderEnding(run));
      cmds.replaceChildren(commands(run.commands));
      if (!following) { following = true; followLog(runId, run.parent, log); }
    },
  });
}

function renderEnding(run) {
  const parts = [];
  if (run.error) {
    parts.push(h("h2", { text: "Exception" }),
      h("p", { class: "mono", id: "run-error", text: `${run.error.type}: ${run.error.message}` }),
      h("pre", { class: "traceback", id: "run-traceback", text: run.error.traceback }));
  } else if (run.status === "succeeded") {
    parts.push(h("h2", { text: "Result" }),
      run.result_repr ? h("pre", { class: "result", id: "run-result", text: run.result_repr })
        : h("p", { class: "muted", id: "run-result", text: `a result of ${run.result_size} bytes (rhcli get shows it)` }));
  }
  return parts;
}

function followLog(runId, parent, box) {
  const params = parent ? { parent } : {};
  const source = stream(api("/api/runs/" + encodeURIComponent(runId) + "/log", params), {
    lines: (lines) => {
      const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
      for (const line of lines) {
        const prefix = line.item !== null && !parent ? h("span", { class: "item", text: `[${line.item}] ` }) : null;
        box.append(h("div", { class: line.stream === "err" ? "err" : null, "data-seq": line.seq }, prefix, line.text));
      }
      while (box.childElementCount > 5000) box.firstChild.remove();
      if (stick) box.scrollTop = box.scrollHeight;
    },
    end: (end) => {
      box.append(h("div", { class: "end", id: "log-end", text: `-- the run ended: ${end.status}` }));
      source.close();
    },
  });
}

// --- a map --------------------------------------------------------------------------------
function mapPage(mapId) {
  const head = h("div", { class: "panel", id: "map-head" }, "Loading...");
  const grid = h("canvas", { class: "grid", id: "map-grid", width: 10, height: 10 });
  const legend = h("div", { class: "grid-legend muted" }, "items: ",
    STATUSES.map((s) => { const el = h("span", { text: s === "running" ? "running or waiting" : s }); el.style.setProperty("--c", COLOR[s]); return el; }));
  const chartBox = h("div", { id: "map-throughput" });
  const timelineBox = h("canvas", { id: "map-timeline", width: 10, height: 10 });
  const failed = h("tbody", { id: "failed-body" });
  const cmds = h("div", {});
  page.replaceChildren(h("h1", { class: "mono", text: mapId }), head,
    h("h2", { text: "Items" }), h("div", { class: "panel" }, grid, legend),
    h("h2", { text: "Failed items" }),
    h("table", { id: "failed-items" }, h("thead", {}, h("tr", {}, ["Item", "Status", "Reason", "Log"].map((t) => h("th", { text: t })))), failed),
    h("h2", { text: "Throughput (items ended per second)" }), h("div", { class: "panel" }, chartBox),
    h("h2", { text: "Timeline (one lane per worker, by node)" }), h("div", { class: "panel" }, timelineBox),
    h("h2", { text: "Commands" }), cmds);
  let chart = null;
  grid.addEventListener("click", (e) => {
    const index = grid._cellAt && grid._cellAt(e.offsetX, e.offsetY);
    if (index !== null && index !== undefined) location.hash = link(["run", `${mapId}.${index}`]);
  });
  stream(api("/api/maps/" + encodeURIComponent(mapId) + "/events"), {
    map: (state) => {
      const m = state.map;
      const pct = state.total ? (100 * state.done / state.total) : 0;
      head.replaceChildren(
        h("dl", { class: "facts" },
          h("dt", { text: "status" }), h("dd", { id: "map-status" }, badge(m.status)),
          h("dt", { text: "function" }), h("dd", { class: "mono", text: m.function }),
          h("dt", { text: "started" }), h("dd", { text: clock(m.started_at || m.created_at) }),
          h("dt", { text: "duration" }), h("dd", { text: duration(m.duration_s) }),
          h("dt", { text: "progress" }), h("dd", { id: "map-progress-text", text: `${state.done} of ${state.total} items ended (${pct.toFixed(0)}%)` })),
        h("div", { class: "progress", id: "map-progress" },
          ["succeeded", "failed", "timed_out", "cancelled"].map((s) => {
            const seg = h("div", { title: s }); seg.style.width = (state.total ? 100 * state.counts[s] / state.total : 0) + "%";
            seg.style.background = COLOR[s]; return seg;
          })),
        h("p", { class: "counts" }, STATUSES.filter((s) => state.counts[s]).map((s) => h("span", { text: `${state.counts[s]} ${s === "running" ? "running or waiting" : s}` }))));
      drawGrid(grid, state.grid);
      failed.replaceChildren(...state.failed.map((f) => h("tr", { "data-index": f.index },
        h("td", { class: "mono" }, h("a", { href: link(["run", f.run_id]), text: `#${f.index}` })),
        h("td", {}, badge(f.status)),
        h("td", { class: "reason", text: f.reason }),
        h("td", {}, h("a", { href: link(["run", f.run_id]), text: "log" })))));
      if (!state.failed.length) failed.replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "muted", text: "None so far." })));
      if (state.failed_total > state.failed.length) {
        failed.append(h("tr", {}, h("td", { colspan: 4, class: "muted", text: `and ${state.failed_total - state.failed.length} more (the grid shows them all)` })));
      }
      chart = drawThroughput(chartBox, chart, state.throughput);
      drawTimeline(timelineBox, state.timeline);
      cmds.replaceChildren(commands(m.commands));
    },
  });
  closers.push(() => chart && chart.destroy());
}

function drawGrid(canvas, codes) {
  const cell = codes.length > 20000 ? 4 : codes.length > 2000 ? 7 : 12;
  const gap = cell > 4 ? 2 : 1;
  const width = Math.min((canvas.parentElement || page).clientWidth - 34, 1300);
  const perRow = Math.max(1, Math.floor(width / (cell + gap)));
  const rows = Math.ceil(codes.length / perRow) || 1;
  canvas.width = perRow * (cell + gap);
  canvas.height = rows * (cell + gap);
  const ctx = canvas.getContext("2d");
  for (let i = 0; i < codes.length; i++) {
    ctx.fillStyle = COLOR[CODE_STATUS[codes[i]]] || "#000";
    ctx.fillRect((i % perRow) * (cell + gap), Math.floor(i / perRow) * (cell + gap), cell, cell);
  }
  canvas._cellAt = (x, y) => {
    const i = Math.floor(y / (cell + gap)) * perRow + Math.floor(x / (cell + gap));
    return i < codes.length ? i : null;
  };
}

function drawThroughput(box, chart, data) {
  if (!data.t.length) { box.textContent = "No item has ended yet."; return null; }
  const series = [data.t, data.rate];
  if (chart) { chart.setData(series); return chart; }
  box.textContent = "";
  return new uPlot({
    width: Math.min(page.clientWidth - 60, 1300), height: 220,
    series: [{}, { label: "items/s", stroke: "#2563eb", fill: "rgba(37,99,235,0.12)" }],
    axes: [{}, { label: "items/s" }],
  }, series, box);
}

function drawTimeline(canvas, lanes) {
  const ctx = canvas.getContext("2d");
  const width = Math.min(page.clientWidth - 60, 1300);
  const label = 190, laneH = 16;
  canvas.width = width;
  canvas.height = Math.max(1, lanes.length) * laneH + 20;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!lanes.length) { ctx.fillStyle = "#6b7280"; ctx.fillText("No item has ended on a known worker yet.", 4, 14); return; }
  let t0 = Infinity, t1 = -Infinity;
  for (const lane of lanes) for (const [s, e] of lane.spans) { t0 = Math.min(t0, s); t1 = Math.max(t1, e); }
  const scale = (width - label - 10) / Math.max(t1 - t0, 1e-3);
  ctx.font = "11px ui-monospace, monospace";
  let node = null;
  lanes.forEach((lane, i) => {
    const y = i * laneH;
    if (lane.node !== node) {
      node = lane.node;
      ctx.fillStyle = "#e5e7eb"; ctx.fillRect(0, y, width, 1);
    }
    ctx.fillStyle = "#374151"; ctx.fillText(lane.worker, 2, y + 12);
    for (const [s, e, code] of lane.spans) {
      ctx.fillStyle = COLOR[CODE_STATUS[code]] || "#000";
      ctx.fillRect(label + (s - t0) * scale, y + 3, Math.max(1, (e - s) * scale), laneH - 6);
    }
  });
  ctx.fillStyle = "#6b7280";
  ctx.fillText(clock(t0), label, lanes.length * laneH + 14);
  const end = clock(t1); ctx.fillText(end, width - ctx.measureText(end).width - 4, lanes.length * laneH + 14);
}

// --- nodes --------------------------------------------------------------------------------
function bar(percent) {
  const inner = h("div", {}); inner.style.width = Math.min(100, percent || 0) + "%";
  return h("span", { class: "bar" }, inner);
}

function nodesPage() {
  const cards = h("div", { class: "nodes", id: "nodes" }, "Loading...");
  const chartBox = h("div", { id: "nodes-chart" });
  page.replaceChildren(h("h1", { text: "Nodes of " + currentCluster() }), cards,
    h("h2", { text: "Use over time (percent)" }), h("div", { class: "panel" }, chartBox));
  let chart = null;
  stream(api("/api/nodes/events"), {
    nodes: (nodes) => {
      cards.replaceChildren(...nodes.map(nodeCard));
      chart = drawHistory(chartBox, chart, nodes);
    },
  });
  closers.push(() => chart && chart.destroy());
}

function nodeCard(node) {
  const res = node.resources;
  return h("div", { class: "panel node", "data-address": node.address },
    h("h2", {}, node.address, node.head ? " (head)" : "", node.alive ? "" : " LOST"),
    h("dl", { class: "facts" },
      h("dt", { text: "Ray resources" }), h("dd", { text: `CPU ${res.CPU || 0}, GPU ${res.GPU || 0}, memory ${gib(res.memory || 0)}` }),
      h("dt", { text: "CPU" }), h("dd", { class: "cpu" }, node.cpu_percent === null ? "-" : [bar(node.cpu_percent), `${node.cpu_percent.toFixed(0)}%`]),
      h("dt", { text: "memory" }), h("dd", { class: "memory" }, node.memory_total ? [bar(node.memory_percent), `${gib(node.memory_used)} of ${gib(node.memory_total)}`] : "-"),
      node.gpus.length ? node.gpus.map((g) => [
        h("dt", { text: `GPU ${g.index}` }),
        h("dd", { class: "gpu" }, h("div", { class: "muted", text: g.name }),
          h("div", {}, bar(g.utilization), `${g.utilization.toFixed(0)}% busy`),
          h("div", {}, bar(g.memory_percent), `${gib(g.memory_used)} of ${gib(g.memory_total)}`))])
        : [h("dt", { text: "GPUs" }), h("dd", { class: "gpus muted", text: "none" })],
      h("dt", { text: "running" }), h("dd", { class: "node-runs" },
        node.runs.length ? node.runs.map((id) => h("div", { class: "mono" }, h("a", { href: link(["run", id]), text: id }))) : "nothing"),
      node.usage_error ? [h("dt", { text: "figures" }), h("dd", { class: "usage-error", text: node.usage_error })] : null));
}

function drawHistory(box, chart, nodes) {
  const cluster = currentCluster();
  const hist = nodeHistory[cluster] || (nodeHistory[cluster] = { t: [], series: {} });
  const now = Date.now() / 1000;
  hist.t.push(now);
  const values = {};
  for (const n of nodes) {
    if (n.cpu_percent !== null) values[`${n.address} CPU`] = n.cpu_percent;
    for (const g of n.gpus) values[`${n.address} GPU ${g.index}`] = g.utilization;
  }
  for (const name of Object.keys(values)) if (!hist.series[name]) hist.series[name] = hist.t.slice(0, -1).map(() => null);
  for (const [name, arr] of Object.entries(hist.series)) arr.push(name in values ? values[name] : null);
  if (hist.t.length > HISTORY) { hist.t.shift(); for (const arr of Object.values(hist.series)) arr.shift(); }
  const names = Object.keys(hist.series);
  const data = [hist.t, ...names.map((n) => hist.series[n])];
  if (chart && chart.series.length === names.length + 1) { chart.setData(data); return chart; }
  if (chart) chart.destroy();
  box.textContent = "";
  const palette = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626"];
  return new uPlot({
    width: Math.min(page.clientWidth - 60, 1300), height: 220,
    scales: { y: { range: [0, 100] } },
    series: [{}, ...names.map((n, i) => ({ label: n, stroke: palette[i % palette.length] }))],
  }, data, box);
}

// --- endpoints ----------------------------------------------------------------------------
async function endpointsPage() {
  page.replaceChildren(h("h1", { text: "Endpoints on " + currentCluster() }), h("p", { class: "muted", text: "Loading..." }));
  const answer = await fetch(api("/api/endpoints"));
  const found = await answer.json();
  if (!answer.ok) { page.lastChild.textContent = found.error; return; }
  if (!found.available) { page.lastChild.textContent = found.reason; return; }
  if (!found.endpoints.length) { page.lastChild.textContent = "Nothing is served on this cluster."; return; }
  const names = [...new Set(found.endpoints.flatMap((e) => Object.keys(e)))];
  page.lastChild.replaceWith(h("table", { id: "endpoints" },
    h("thead", {}, h("tr", {}, names.map((n) => h("th", { text: n })))),
    h("tbody", {}, found.endpoints.map((e) => h("tr", {}, names.map((n) => h("td", { text: e[n] === undefined ? "" : String(e[n]) })))))));
}

// --- routing ------------------------------------------------------------------------------
function route() {
  for (const close of closers) close();
  closers = [];
  showFailure("");
  const { parts, params } = parseHash();
  const [view, id] = parts;
  for (const name of ["runs", "nodes", "endpoints"]) {
    document.getElementById("nav-" + name).classList.toggle("active", view === name);
    document.getElementById("nav-" + name).href = link([name]);
  }
  clusterSelect.value = currentCluster();
  if (view === "run" && id) runPage(id);
  else if (view === "map" && id) mapPage(id);
  else if (view === "nodes") nodesPage();
  else if (view === "endpoints") endpointsPage();
  else runsPage(params);
}

async function start() {
  const answer = await fetch("/api/clusters");
  clusters = await answer.json();
  clusterSelect.replaceChildren(...clusters.clusters.map((c) => h("option", { value: c, text: c })));
  clusterSelect.addEventListener("change", () => { location.hash = "#/runs?cluster=" + encodeURIComponent(clusterSelect.value); });
  window.addEventListener("hashchange", route);
  route();
}

start();
