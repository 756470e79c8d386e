// The dashboard's script: the login page fills its form from the link's #token; the main
// page polls /ui/api/state every second and updates the table in place (rows are kept by
// server name, cells change only when their text does), so a page with 1,000 servers stays
// cheap. JS errors are counted in window.mcpproxyErrors (the browser tests read it).
"use strict";
window.mcpproxyErrors = [];
addEventListener("error", (e) => mcpproxyErrors.push(String(e.message)));
addEventListener("unhandledrejection", (e) => mcpproxyErrors.push(String(e.reason)));

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function shown(v) {
  return v === null || v === undefined || v === "" ? "–" : String(v);
}

function set(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({
    credentials: "same-origin",
    headers: { "X-Mcpproxy-UI": "1" },
  }, options || {}));
  if (response.status === 401) {
    location.href = "/ui/login";
    throw new Error("signed out");
  }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// ---- login page ----
function login() {
  const token = decodeURIComponent(location.hash.slice(1));
  if (new URLSearchParams(location.search).has("refused")) {
    $("login-error").textContent = "That token was not accepted.";
    $("login-error").hidden = false;
  }
  if (token) {
    history.replaceState(null, "", location.pathname);
    $("token").value = token;
    $("login").submit();
  }
}

// ---- main page ----
const rows = new Map();
let servers = [];
let detail = null;

function summaryWords(summary) {
  if (!summary || !summary.total) return "no servers";
  const states = Object.entries(summary.by_state).map(([s, n]) => `${n} ${s}`).join(", ");
  let text = `${summary.total} servers: ${states}`;
  if (summary.quarantined) text += `; ${summary.quarantined} quarantined`;
  if (summary.tools_awaiting_approval) text += `; ${summary.tools_awaiting_approval} tools awaiting approval`;
  return text;
}

function fill(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, shown(v))]));
}

function renderStatus(status) {
  set($("summary"), summaryWords(status.servers));
  const config = status.config || {};
  fill($("config"), [
    ["file", status.config_path],
    ["generation", status.config_generation],
    ["syncs", status.config_syncs],
    ["self-writes suppressed", status.self_writes_suppressed],
    ["reloads", config.reloads],
    ["saves", config.saves],
    ["writable", config.writable],
    ["listening", status.listen],
  ]);
  const error = status.last_config_error;
  const banner = $("config-error");
  banner.hidden = !error;
  set(banner, error ? `Config error (the running config is kept): ${error}` : "");
  const p = status.policy || {};
  const decisions = Object.entries(p.decisions || {}).map(([hook, outcomes]) => {
    const parts = Object.entries(outcomes).map(([o, n]) => `${n} ${o}`);
    return [`${hook}`, parts.length ? parts.join(", ") : "none yet"];
  });
  const q = p.quarantine || {};
  fill($("policy"), [
    ["source", p.source],
    ["sha256", p.sha256 ? p.sha256.slice(0, 16) + "…" : null],
    ["world", p.world_version],
    ...decisions,
    ["fallbacks", p.fallbacks],
    ["quarantined", q.quarantined ? `yes (${q.remaining_ms} ms left)` : "no"],
    ["bundle", status.bundle ? status.bundle.name || "pinned" : "none"],
  ]);
}

function reason(s) {
  if (s.auto_disable_reason) return s.auto_disable_reason;
  if (s.quarantine_reason) return s.quarantine_reason;
  if (s.quarantined) return "quarantined: approve to show its tools";
  if (s.hidden_tools && s.hidden_tools.length) return `${s.hidden_tools.length} tool(s) hidden until approved`;
  return s.last_error || "";
}

function retryIn(s) {
  if (!s.next_retry_at) return "–";
  const seconds = Math.max(0, Math.round((Date.parse(s.next_retry_at) - Date.now()) / 1000));
  return `in ${seconds} s`;
}

function actionsFor(s) {
  const actions = [];
  if (s.connection_state === "Disabled" || s.connection_state === "Auto-Disabled") actions.push("enable");
  else actions.push("disable");
  actions.push("restart");
  if (s.quarantined || (s.hidden_tools && s.hidden_tools.length)) actions.push("approve");
  return actions;
}

function rowFor(s) {
  let row = rows.get(s.name);
  if (row) return row;
  row = el("tr", { "data-server": s.name });
  const cells = {};
  for (const key of ["name", "protocol", "state", "reason", "attempts", "retry", "pid", "tools", "actions"]) {
    cells[key] = el("td", { class: key });
    row.append(cells[key]);
  }
  const link = el("a", { class: "name", role: "button" }, s.name);
  link.addEventListener("click", () => openDetail(s.name));
  cells.name.append(link);
  row.cells_ = cells;
  row.actions_ = "";
  rows.set(s.name, row);
  return row;
}

function renderServers(list) {
  servers = list.servers || [];
  const body = document.querySelector("#servers tbody");
  const names = new Set();
  const wantName = $("filter-name").value.trim().toLowerCase();
  const wantState = $("filter-state").value;
  let visible = 0;
  servers.forEach((s, i) => {
    names.add(s.name);
    const row = rowFor(s);
    const c = row.cells_;
    set(c.protocol, shown(s.protocol));
    const stateKey = s.connection_state + (s.quarantined ? "+q" : "");
    if (row.state_ !== stateKey) {
      row.state_ = stateKey;
      const badges = [el("span", { class: `state ${s.connection_state}` }, s.connection_state)];
      if (s.quarantined) badges.push(el("span", { class: "state quarantined" }, "quarantined"));
      c.state.replaceChildren(...badges);
    }
    set(c.reason, reason(s));
    set(c.attempts, shown(s.attempts));
    set(c.retry, retryIn(s));
    set(c.pid, shown(s.pid));
    set(c.tools, shown(s.tool_count));
    const actions = actionsFor(s).join(" ");
    if (row.actions_ !== actions) {
      row.actions_ = actions;
      c.actions.replaceChildren(...actionsFor(s).map((a) => {
        const button = el("button", { type: "button", "data-action": a }, a);
        button.addEventListener("click", () => act(s.name, a, button));
        return button;
      }));
    }
    const match = (!wantName || s.name.toLowerCase().includes(wantName)) &&
      (!wantState || (wantState === "quarantined" ? s.quarantined : s.connection_state === wantState));
    row.hidden = !match;
    if (match) visible++;
    if (body.children[i] !== row) body.insertBefore(row, body.children[i] || null);
  });
  for (const [name, row] of rows) {
    if (!names.has(name)) { row.remove(); rows.delete(name); }
  }
  set($("shown"), `${visible} of ${servers.length} shown`);
}

async function act(name, action, button) {
  button.disabled = true;
  try {
    await api(`/ui/api/servers/${encodeURIComponent(name)}/${action}`, { method: "POST" });
    $("action-error").hidden = true;
  } catch (e) {
    $("action-error").textContent = `${action} ${name}: ${e.message}`;
    $("action-error").hidden = false;
  } finally {
    button.disabled = false;
    poll();
  }
}

async function openDetail(name) {
  detail = name;
  await refreshDetail();
  $("detail").hidden = false;
}

async function refreshDetail() {
  if (!detail) return;
  const d = await api(`/ui/api/servers/${encodeURIComponent(detail)}`);
  set($("detail-name"), `${d.server.name}: ${d.server.connection_state}`);
  $("detail-tools").replaceChildren(...(d.tools.length ? d.tools : [{ name: "(none offered now)" }])
    .map((t) => el("li", {}, t.description ? `${t.name}: ${t.description}` : t.name)));
  set($("detail-log"), d.log || "(no log)");
}

let polling = false;
async function poll() {
  if (polling) return;
  polling = true;
  try {
    const state = await api("/ui/api/state");
    renderStatus(state.status);
    renderServers(state.servers);
    // When the first full table stood: the dashboard benchmark reads it.
    if (window.mcpproxyFirstRender === undefined) window.mcpproxyFirstRender = performance.now();
    if (detail) await refreshDetail();
    $("live").classList.remove("stale");
  } catch (e) {
    $("live").classList.add("stale");
    if (e.message !== "signed out") console.warn(e);
  } finally {
    polling = false;
  }
}

function main() {
  $("filter-name").addEventListener("input", () => renderServers({ servers }));
  $("filter-state").addEventListener("change", () => renderServers({ servers }));
  $("detail-close").addEventListener("click", () => { detail = null; $("detail").hidden = true; });
  poll();
  setInterval(poll, POLL_MS);
}

if ($("login")) {
  login();
  // The link opened in a tab that already shows this page changes only the fragment.
  addEventListener("hashchange", login);
} else {
  main();
}
