/* Kinetic dashboard: live state over SSE (/api/live), controls over the REST API.
 * No build step, no network beyond the daemon: uPlot is vendored under static/vendor/. */
"use strict";

const TOKEN_KEY = "kinetic.api_token";
const $ = (id) => document.getElementById(id);
const K = (window.kinetic = { state: null, history: [], chart: null, connected: false });

/* ------------------------------------------------------------------ formatting */
const usd = (v) => (v === null || v === undefined ? "–" :
  (v < 0 ? "-" : "") + "$" + Math.abs(v).toLocaleString(undefined,
    { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
const num = (v, d = 6) => (v === null || v === undefined ? "–" :
  Number(v).toLocaleString(undefined, { maximumFractionDigits: d }));
const pct = (v) => (v === null || v === undefined ? "–" : v.toFixed(2) + "%");
const signed = (v) => (v > 0 ? "pos" : v < 0 ? "neg" : "");
const time = (ms) => (ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 16) : "–");
const age = (s) => (s === null || s === undefined ? "–" : s < 90 ? s.toFixed(1) + " s" :
  (s / 60).toFixed(1) + " min");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/* ------------------------------------------------------------------ API + token */
function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  if (token()) h.Authorization = "Bearer " + token();
  return h;
}

let tokenPrompt = null;
function askToken(reason) {
  if (tokenPrompt) return tokenPrompt;
  const dlg = $("token-dialog");
  $("token-input").value = "";
  if (reason) dlg.querySelector("p").textContent = reason;
  tokenPrompt = new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      tokenPrompt = null;
      if (dlg.returnValue === "ok" && $("token-input").value) {
        sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
        resolve(true);
      } else resolve(false);
    }, { once: true });
    dlg.showModal();
  });
  return tokenPrompt;
}

class ApiError extends Error {
  constructor(status, message, data) { super(message); this.status = status; this.data = data; }
}

async function api(method, path, body) {
  const opts = { method, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
  if (body !== undefined) opts.body = JSON.stringify(body);
  const resp = await fetch(path.replace(/^\//, ""), opts);
  let payload = null;
  try { payload = await resp.json(); } catch (_) { payload = null; }
  if (resp.status === 401) {
    if (await askToken("The daemon needs its API token for this.")) return api(method, path, body);
    throw new ApiError(401, "not authorised");
  }
  const error = payload && payload.error;
  if (!resp.ok || error) {
    throw new ApiError(resp.status, error || resp.statusText, payload && payload.data);
  }
  return payload ? payload.data : null;
}

/* The API's confirmation rule: a destructive call is answered 428 with a one-time
 * ``confirm_token`` (60 s, these arguments only); the same call carrying it goes through.
 * The operator has already confirmed in the dashboard's dialog, so it follows at once. */
async function act(method, path, body = {}) {
  try {
    return await api(method, path, body);
  } catch (err) {
    if (err.status !== 428 || !err.data || !err.data.confirm_token) throw err;
    return api(method, path, { ...body, confirm_token: err.data.confirm_token });
  }
}

/* ------------------------------------------------------------------ confirmation dialog */
function ask(title, text, { reason = true, danger = true } = {}) {
  const dlg = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-reason-row").hidden = !reason;
  $("confirm-reason").value = "";
  $("confirm-yes").className = danger ? "danger" : "ok";
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      resolve(dlg.returnValue === "ok" ? { reason: $("confirm-reason").value.trim() } : null);
    }, { once: true });
    dlg.returnValue = "";
    dlg.showModal();
  });
}

function say(text, bad = false) {
  const m = $("control-msg");
  m.textContent = text;
  m.style.color = bad ? "var(--neg)" : "";
}

async function control(title, text, method, path, body, opts) {
  const answer = await ask(title, text, opts);
  if (!answer) { say("cancelled"); return; }
  const payload = { ...body };
  if (!opts || opts.reason !== false) payload.reason = answer.reason || "dashboard";
  say(title + " …");
  try {
    const data = await act(method, path, payload);
    say((data && data.message) || title + ": done");
  } catch (err) {
    say(title + " failed: " + err.message, true);
  }
}

function wireControls() {
  $("btn-kill").addEventListener("click", () => control("Activate the kill switch?",
    "The daemon goes HALTED: no new orders, entry and take-profit orders are cancelled. " +
    "Protective stops stay on the venue.", "POST", "api/risk/kill_switch", { active: true }));
  $("btn-clear").addEventListener("click", () => control("Clear the kill switch?",
    "Every scope goes back to ACTIVE and engines may open new positions.",
    "POST", "api/risk/kill_switch", { active: false }, { danger: false }));
  $("btn-flatten").addEventListener("click", () => control("Flatten everything?",
    "Every position of every engine is closed reduce-only; the daemon is held REDUCE_ONLY.",
    "POST", "api/execution/flatten_all", {}));
  $("btn-cancel").addEventListener("click", () => control("Cancel all open orders?",
    "Entry and take-profit orders are cancelled; protective stops stay.",
    "POST", "api/execution/cancel_all", {}));
  $("token-btn").addEventListener("click", async () => {
    if (await askToken()) connect(true);
  });
}

function pauseEngine(name, paused) {
  return control(paused ? `Pause ${name} entries?` : `Resume ${name}?`,
    paused ? "The engine opens no new positions; exits and stops go on."
      : "The engine may open new positions again.",
    "PATCH", "api/engines/" + encodeURIComponent(name), { entries_paused: paused },
    { danger: paused });
}

/* ------------------------------------------------------------------ chart */
function chartSize() {
  const box = $("chart");
  const w = Math.max(260, box.clientWidth);
  return { width: w, height: w < 500 ? 220 : 280 };
}

function makeChart() {
  const css = getComputedStyle(document.documentElement);
  const muted = css.getPropertyValue("--muted").trim();
  const line = css.getPropertyValue("--line").trim();
  const axis = (scale, side) => ({
    scale, side, stroke: muted, grid: { stroke: line, width: 1, show: side !== 1 },
    ticks: { stroke: line }, size: 64,
    values: (u, vals) => vals.map((v) => (scale === "%" ? v.toFixed(1) + "%" :
      Math.abs(v) >= 1e6 ? (v / 1e6).toFixed(2) + "M" : v.toLocaleString(undefined,
        { maximumFractionDigits: 0 }))),
  });
  const opts = {
    ...chartSize(),
    cursor: { drag: { x: true, y: false } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    scales: { x: { time: true }, "%": { range: (u, lo, hi) => [0, Math.max(1, hi * 1.2)] } },
    series: [
      {},
      { label: "Equity", scale: "$", stroke: "#3b82f6", width: 2,
        value: (u, v) => (v === null ? "–" : usd(v)) },
      { label: "Drawdown", scale: "%", stroke: "#ef4444", width: 1,
        fill: "rgba(239,68,68,0.15)", value: (u, v) => (v === null ? "–" : pct(v)) },
    ],
    axes: [{ stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line } },
      axis("$", 3), axis("%", 1)],
  };
  K.chart = new uPlot(opts, [[], [], []], $("chart"));
  new ResizeObserver(() => K.chart.setSize(chartSize())).observe($("chart"));
}

function drawChart() {
  const h = K.history;
  K.chart.setData([h.map((p) => p[0]), h.map((p) => p[1]), h.map((p) => p[2])]);
  $("chart").dataset.points = String(h.length);
  $("chart-info").textContent = h.length ? `${h.length} points, market time UTC` : "";
}

function addPoint(p) {
  const h = K.history;
  if (h.length && p[0] <= h[h.length - 1][0]) return;
  h.push(p);
  if (h.length > 4000) K.history = h.filter((_, i) => i % 2 === 0);
}

/* ------------------------------------------------------------------ rendering */
function renderBanner(risk, engines) {
  const overall = (risk.overall || "active").toLowerCase();
  const banner = $("banner");
  banner.className = "banner " + overall;
  banner.dataset.state = overall.toUpperCase();
  $("banner-state").textContent = overall.toUpperCase();
  const causes = Object.entries(risk.states)
    .filter(([, s]) => s.state !== "ACTIVE")
    .map(([scope, s]) => `${scope}: ${s.state}${s.cause ? " — " + s.cause : ""}` +
      (s.source ? ` (${s.source})` : ""));
  $("banner-cause").textContent = causes.length ? causes.join(" · ") : "trading normally";
  const badges = $("badges");
  badges.replaceChildren();
  const b = risk.breaker;
  badges.append(el("span", { class: "badge" + (b.active ? " bad" : "") },
    b.active ? "breaker: " + (b.reason || "in force") : "breaker: clear"));
  badges.append(el("span", { class: "badge" + (b.drawdown_latched ? " bad" : "") },
    b.drawdown_latched ? "drawdown hold" : "no drawdown hold"));
  const drifting = engines.filter((e) => e.drifting).map((e) => e.name);
  badges.append(el("span", { class: "badge" + (drifting.length ? " bad" : "") },
    drifting.length ? "drift: " + drifting.join(", ") : "no drift"));
  const daemon = risk.states.daemon || {};
  const killed = daemon.state === "HALTED" && (daemon.cause || "").startsWith("kill switch");
  $("btn-kill").hidden = killed;
  $("btn-clear").hidden = overall === "active";
}

function renderTiles(s) {
  const set = (id, text, cls = "") => { const n = $(id); n.textContent = text; n.className = cls; };
  set("t-equity", usd(s.equity));
  set("t-daily", usd(s.daily_pnl), signed(s.daily_pnl));
  set("t-realized", usd(s.realized), signed(s.realized));
  set("t-unrealized", usd(s.unrealized), signed(s.unrealized));
  set("t-dd", pct(s.drawdown_pct), s.drawdown_pct > 0 ? "neg" : "");
  set("t-exposure", usd(s.exposure));
}

function renderBars(id, values) {
  const box = $(id);
  const entries = Object.entries(values).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map((e) => e[1]));
  box.replaceChildren(...(entries.length ? entries.map(([k, v]) => el("div", { class: "row" },
    el("span", {}, k), el("div", { class: "bar", style: `width:${(v / max) * 100}%` }),
    el("span", { class: "num" }, usd(v)))) : [el("div", { class: "muted" }, "none")]));
}

function renderEngines(engines) {
  $("engines").replaceChildren(...engines.map((e) => {
    const paused = e.own_state && e.own_state.state !== "ACTIVE";
    return el("div", { class: "engine", "data-engine": e.name },
      el("div", { class: "engine-head" },
        el("span", { class: "engine-name" }, e.name),
        el("span", {},
          el("span", { class: "pill " + e.status.toLowerCase() }, e.status), " ",
          el("span", { class: "pill " + e.state.toLowerCase() }, e.state))),
      el("dl", {},
        el("dt", {}, "Strategy"), el("dt", {}, "Heartbeat"), el("dt", {}, "Restarts"),
        el("dd", {}, e.strategy), el("dd", {}, age(e.heartbeat_age_s)), el("dd", {}, e.restarts),
        el("dt", {}, "Equity"), el("dt", {}, "PnL"), el("dt", {}, "Pos. / orders"),
        el("dd", {}, usd(e.equity)),
        el("dd", { class: signed(e.realized + e.unrealized) }, usd(e.realized + e.unrealized)),
        el("dd", {}, `${e.positions} / ${e.open_orders}`)),
      e.drifting ? el("div", { class: "neg" }, "drift: " + e.drift.join("; ")) : "",
      e.last_error ? el("div", { class: "muted" }, "last error: " + e.last_error) : "",
      el("div", { style: "margin-top:6px" }, el("button", {
        class: "small " + (paused ? "ok" : "ghost"), type: "button",
        onclick: () => pauseEngine(e.name, !paused),
      }, paused ? "Resume" : "Pause entries")));
  }));
}

function rows(id, items, cols, empty) {
  const body = $(id).querySelector("tbody");
  if (!items.length) {
    body.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: cols.length }, empty)));
    return;
  }
  body.replaceChildren(...items.map((it) => el("tr", {}, ...cols.map((c) => {
    const [text, cls] = c(it);
    return el("td", cls ? { class: cls } : {}, text);
  }))));
}

/* Trades closed before this daemon started (paper/live: the account's history) come from
 * the REST API once; a replay is a fresh simulation, so it shows only its own. */
async function seedTrades(mode) {
  if (K.seeded || mode === "replay") return;
  K.seeded = true;
  try {
    const rows = await api("GET", "api/portfolio/trades?limit=50");
    K.seedTrades = (rows || []).map((t) => ({ ...t, reason: t.exit_reason }));
    if (K.state) render(K.state);
  } catch (err) {
    console.warn("trade history:", err);
  }
}

function mergedTrades(live) {
  const seen = new Set(live.map((t) => `${t.engine}|${t.symbol}|${t.closed_ms}`));
  const older = (K.seedTrades || []).filter((t) => !seen.has(`${t.engine}|${t.symbol}|${t.closed_ms}`));
  return live.concat(older).sort((a, b) => b.closed_ms - a.closed_ms).slice(0, 50);
}

function renderTables(st) {
  rows("positions", st.positions, [
    (p) => [p.engine], (p) => [p.symbol], (p) => [p.side, p.side.toLowerCase()],
    (p) => [num(p.quantity)], (p) => [num(p.entry_price, 2)], (p) => [num(p.price, 2)],
    (p) => [num(p.stop_price, 2)], (p) => [p.liquidation_price ? num(p.liquidation_price, 2) : "–"],
    (p) => [p.leverage + "x"], (p) => [usd(p.unrealized), signed(p.unrealized)],
  ], "no open positions");
  $("pos-count").textContent = `(${st.positions.length})`;
  rows("orders", st.orders, [
    (o) => [o.engine], (o) => [o.symbol], (o) => [o.side], (o) => [o.type + (o.reduce_only ? " RO" : "")],
    (o) => [num(o.quantity)], (o) => [num(o.price, 2)], (o) => [num(o.stop_price, 2)],
    (o) => [o.status], (o) => [o.reason || "", "reason"],
  ], "no open orders");
  $("ord-count").textContent = `(${st.orders.length})`;
  rows("trades", mergedTrades(st.trades), [
    (t) => [time(t.closed_ms)], (t) => [t.engine], (t) => [t.symbol],
    (t) => [t.side, t.side.toLowerCase()], (t) => [num(t.quantity)], (t) => [num(t.entry_price, 2)],
    (t) => [num(t.exit_price, 2)], (t) => [usd(t.pnl), signed(t.pnl)], (t) => [t.reason, "reason"],
  ], st.mode === "replay" ? "no trades closed in this replay yet" : "no closed trades");
  $("events").replaceChildren(...(st.events.length ? st.events.map((e) => el("li", {},
    el("span", { class: "kind" }, e.kind), e.engine ? `[${e.engine}] ` : "", e.message))
    : [el("li", { class: "muted" }, "no events yet")]));
}

function render(st) {
  if (!st) return;
  K.state = st;
  $("mode").textContent = st.mode;
  renderBanner(st.risk, st.engines);
  renderTiles(st.summary);
  renderBars("exp-asset", st.exposure.by_asset);
  renderBars("exp-engine", st.exposure.by_engine);
  renderEngines(st.engines);
  renderTables(st);
}

/* ------------------------------------------------------------------ live feed (SSE) */
function setConn(on, text) {
  K.connected = on;
  const c = $("conn");
  c.className = "conn " + (on ? "on" : "off");
  c.textContent = text || (on ? "live" : "offline");
}

function handle(event, data) {
  if (event === "hello") {
    K.history = (data.history || []).slice();
    if (data.state) addPoint(data.state.point);
    render(data.state);
    if (data.state) seedTrades(data.state.mode);
  } else if (event === "state") {
    addPoint(data.point);
    render(data);
  } else return;
  drawChart();
}

let generation = 0;
async function connect(restart = false) {
  const mine = restart ? ++generation : generation;
  let delay = 1000;
  while (mine === generation) {
    try {
      const resp = await fetch("api/live", { headers: headers({ Accept: "text/event-stream" }) });
      if (resp.status === 401) {
        setConn(false, "token needed");
        if (!(await askToken("The daemon needs its API token to show live data."))) return;
        continue;
      }
      if (!resp.ok || !resp.body) throw new Error("HTTP " + resp.status);
      setConn(true);
      delay = 1000;
      await readStream(resp.body, mine);
    } catch (err) {
      console.warn("live feed:", err);
    }
    if (mine !== generation) return;
    setConn(false, "reconnecting");
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

async function readStream(body, mine) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  while (mine === generation) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) handle(event, JSON.parse(data));
    }
  }
  reader.cancel();
}

/* ------------------------------------------------------------------ start */
window.addEventListener("DOMContentLoaded", () => {
  makeChart();
  wireControls();
  connect();
});
