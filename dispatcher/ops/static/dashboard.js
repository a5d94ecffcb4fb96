// Live dispatch dashboard: a JSON snapshot polled every few seconds, plus server-sent
// events applied as they arrive, so rows appear and change state without a reload.
// Authentication is the HttpOnly cookie the server set; this script never sees the token.
"use strict";

const I18N = {
  zh: {
    title: "近邻互助 · 实时调度", connecting: "连接中", live_on: "实时", live_off: "重连中",
    requests_today: "今日求助", open_now: "待完成", answered_rate: "响应率",
    ttfa_p50: "接单用时 中位", ttfa_p90: "接单用时 P90", ttfa_p99: "接单用时 P99",
    simulation: "模拟推演",
    requests: "求助", urgency: "紧急程度", category: "类别", community: "社区", ring: "当前圈层",
    waiting: "等待", helpers: "已接单", offers: "已通知", status: "状态",
    no_requests: "暂无待处理求助", events: "实时动态", communities: "各社区今日",
    open_shown: "仅显示最紧急的 {shown} 条，共 {total} 条待完成",
    whistles: "吹哨", expired: "超时未响应", ended: "到时结束", staff_unreached: "值班人员未联系上",
    claimed_by: "负责人", selected: "已选", claim: "接手", resolve: "已解决", cancel: "取消",
    refer: "转介", property: "物业", department: "部门", department_name: "部门名称",
    "call-team": "叫团队", team_name: "团队名称",
    "no-show": "未到场，重新派单", helper_held: "已接单", helper_on_way: "已出发",
    helper_calling: "电话指导中", until: "至", kept_holders: "邻居仍在协助",
    sent: "已提交", failed: "未成功", health: "数据流健康", h_rates: "命令 / 事件 每秒",
    h_lag: "消费积压（按分区；* 尚无提交）", h_dead: "死信", h_push: "推送失败（按通道）",
    h_workers: "工作进程", no_data: "暂无数据",
    signed_in_as: "登录身份", sign_out: "退出登录", district_wide: "全区",
    footer: "本系统不替代 120 / 110 / 119。页面不显示电话、地址或求助原文。",
    u: { critical: "危急", urgent: "紧急", normal: "一般", low: "不急" },
    c: {}, // category labels: from the server's catalogue with each snapshot
    r: { paired: "结对", building: "本楼", compound: "本小区", grid: "本网格",
      community: "全社区", whistle: "吹哨", emergency: "转急救" },
    s: { open: "等待响应", held: "静默时段暂缓", paused: "静默时段暂停", offered: "已通知", partly: "部分接单", assigned: "已接单",
      resolved: "已解决", ended: "到时结束", cancelled: "已取消", referred: "已转介", expired: "超时未响应" },
    e: { request_opened: "新求助", emergency_call_advised: "已提示拨打", offer_sent: "已通知", offers_sent: "已通知",
      offer_declined: "婉拒", offer_expired: "未回复", offer_failed: "通知失败",
      helper_assigned: "邻居接单", offer_stood_down: "已撤回邀请", offers_stood_down: "已撤回邀请", ring_escalated: "扩大范围",
      whistle_blown: "小区吹哨", referred_to_emergency: "建议转介", helper_withdrawn: "邻居退出",
      helper_no_show: "邻居未到场，重新派单",
      request_resolved: "已解决", request_ended: "到时结束（有邻居接单，未确认完成）",
      request_cancelled: "已取消", request_referred: "已转介",
      request_expired: "超时未响应", command_rejected: "操作未生效",
      request_claimed: "工作人员接手", whistle_reported_back: "吹哨报到",
      request_held: "静默时段暂缓", request_released: "静默时段结束，开始通知",
      request_paused: "静默时段暂停联系邻居",
      staff_not_reached: "值班人员未联系上" },
  },
  en: {
    title: "Neighbour help · live dispatch", connecting: "connecting", live_on: "live",
    live_off: "reconnecting", requests_today: "Requests today", open_now: "Open",
    answered_rate: "Answered", ttfa_p50: "Time to accept p50", ttfa_p90: "Time to accept p90",
    ttfa_p99: "Time to accept p99", requests: "Requests", urgency: "Urgency",
    simulation: "What-if report",
    category: "Category", community: "Community", ring: "Ring", waiting: "Waiting",
    helpers: "Helpers", offers: "Offers", status: "Status", no_requests: "No open requests",
    open_shown: "Showing the {shown} most urgent of {total} open requests",
    events: "Live events", communities: "Communities today", whistles: "Whistles",
    expired: "Expired", ended: "Ended (time up)", "call-team": "Call team", team_name: "Team name",
    "no-show": "Not coming: ask others", helper_held: "accepted", helper_on_way: "on the way",
    helper_calling: "calling", until: "until", kept_holders: "helpers still there",
    staff_unreached: "duty officer not reached",
    signed_in_as: "Signed in as", sign_out: "Sign out", district_wide: "district-wide",
    footer: "This service never replaces 120 / 110 / 119. No phone numbers, addresses or message text are shown.",
    u: { critical: "critical", urgent: "urgent", normal: "normal", low: "low" },
    c: {},
    r: { paired: "paired", building: "building", compound: "compound", grid: "grid",
      community: "community", whistle: "whistle", emergency: "emergency" },
    s: { open: "waiting", held: "held (quiet hours)", paused: "paused (quiet hours)", offered: "offered", partly: "partly covered", assigned: "covered",
      resolved: "resolved", ended: "ended (time up)", cancelled: "cancelled", referred: "referred",
      expired: "expired" },
    e: { request_opened: "new request", emergency_call_advised: "told to call",
      offer_sent: "offer sent", offers_sent: "offers sent", offer_declined: "declined", offer_expired: "no answer",
      offer_failed: "delivery failed", helper_assigned: "helper accepted",
      offer_stood_down: "offer withdrawn", offers_stood_down: "offers withdrawn", ring_escalated: "widened",
      whistle_blown: "whistle blown", referred_to_emergency: "referral advised",
      helper_withdrawn: "helper withdrew", helper_no_show: "helper did not show: asking others",
      request_resolved: "resolved", request_ended: "ended at its time limit (helper assigned, not confirmed done)",
      request_cancelled: "cancelled", request_referred: "referred",
      request_expired: "expired", command_rejected: "rejected",
      request_claimed: "taken on by staff", whistle_reported_back: "reported back",
      request_held: "held for quiet hours", request_released: "quiet hours over: offers going out",
      request_paused: "paused for quiet hours",
      staff_not_reached: "duty officer not reached" },
  },
};

let lang = localStorage.getItem("dispatch.lang") === "en" ? "en" : "zh";
const requests = new Map(); // request_id -> row data (from the snapshot, patched by events)
const seenEvents = new Set();
const MAX_EVENTS = 60;
const URGENCY_RANK = { critical: 0, urgent: 1, normal: 2, low: 3 };
// Open requests listed / open in all (the server caps the list, most urgent first); null
// until the first snapshot.
let openCount = null;

const $ = (sel) => document.querySelector(sel);
const t = (key) => I18N[lang][key] ?? key;
const label = (group, value) => (value == null ? "–" : I18N[lang][group][value] ?? value);

function fmtSeconds(s) {
  if (s == null || Number.isNaN(s)) return "–";
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
const fmtRate = (r) => (r == null ? "–" : `${Math.round(r * 100)}%`);

// Resolved by the system: its lifetime ran out with a helper assigned and nobody said it was
// done (the read model's outcome "ended", dispatcher/record/projection_rows.py): 到时结束,
// never 已解决.
const endedByTime = (ev) => ev.type === "request_resolved" && ev.by === "system";

function displayStatus(r) {
  if (r.status !== "open") return r.outcome || r.status;
  if (r.held_until) return "held";
  // Covered first: an offer already out may be accepted during the pause, and the pause
  // (nobody new asked) is news only while slots are open.
  if (r.helpers_assigned >= r.helpers_needed) return "assigned";
  // Paused for quiet hours until then: the ladder goes on at that time (no event says so).
  if (r.paused_until && Date.parse(r.paused_until) > Date.now()) return "paused";
  if (r.helpers_assigned > 0) return "partly";
  if (r.offers_sent > 0) return "offered";
  return "open";
}

function applyLang() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  document.querySelectorAll("[data-i18n]").forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  });
  $("#lang").textContent = lang === "zh" ? "EN" : "中文";
  setLive($("#live").dataset.state);
  renderRequests();
  renderEvents();
  renderOpenCount();
  renderWho();
  renderHelpers();
}

function setLive(state) {
  const el = $("#live");
  el.dataset.state = state;
  el.classList.toggle("on", state === "live");
  el.textContent = t(state === "live" ? "live_on" : state === "down" ? "live_off" : "connecting");
}

function cell(row, text, key, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  td.dataset.label = t(key);
  if (cls) td.className = cls;
  row.appendChild(td);
}

// Open before closed, then most urgent first (as the server picks the capped list), then oldest.
function byUrgency(a, b) {
  const ao = a.status === "open" ? 0 : 1;
  const bo = b.status === "open" ? 0 : 1;
  const rank = (r) => URGENCY_RANK[r.urgency] ?? 4;
  return ao - bo || rank(a) - rank(b) || Date.parse(a.opened_at) - Date.parse(b.opened_at);
}

function renderOpenCount() {
  if (!openCount) return;
  const { shown, total } = openCount;
  $("#s-open").textContent = total;
  const note = $("#open-shown");
  note.hidden = shown >= total;
  note.dataset.shown = shown;
  note.dataset.total = total;
  note.textContent = t("open_shown").replace("{shown}", shown).replace("{total}", total);
}

function renderRequests() {
  const tbody = $("#requests tbody");
  const now = Date.now();
  const rows = [...requests.values()].sort(byUrgency);
  const fresh = document.createDocumentFragment();
  for (const r of rows) {
    const tr = document.createElement("tr");
    const st = displayStatus(r);
    tr.dataset.requestId = r.request_id;
    tr.dataset.status = st;
    if (r.status !== "open") tr.classList.add("closed");
    if (r.request_id === selected) tr.classList.add("selected");
    if (r.claimed_by) tr.dataset.claimedBy = r.claimed_by;
    if (r._flash && now - r._flash < 1500) tr.classList.add("flash");
    const end = r.closed_at ? Date.parse(r.closed_at) : now;
    cell(tr, label("u", r.urgency), "urgency", `u u-${r.urgency}`);
    cell(tr, label("c", r.category), "category");
    cell(tr, r.community_id, "community");
    cell(tr, label("r", r.ring), "ring");
    cell(tr, fmtSeconds((end - Date.parse(r.opened_at)) / 1000), "waiting");
    cell(tr, `${r.helpers_assigned}/${r.helpers_needed}`, "helpers");
    cell(tr, String(r.offers_sent ?? 0), "offers");
    // The whistle or referral reached none of the staff it called, and nobody took it on:
    // the screen is the one place that still shows it.
    const unreached = r.staff_unreached && !r.claimed_by;
    if (unreached) tr.dataset.staffUnreached = r.staff_unreached;
    const until = st === "paused" && r.paused_local ? ` ${t("until")} ${r.paused_local}` : "";
    // Referred to 120/110/119 with helpers kept on it: why an old closed row is still here.
    const kept = r.kept_holders > 0;
    if (kept) tr.dataset.keptHolders = r.kept_holders;
    cell(tr, label("s", st) + until + (unreached ? ` · ${t("staff_unreached")}` : "")
      + (kept ? ` · ${t("kept_holders")}` : ""), "status",
      `st-${st}${unreached ? " st-unreached" : ""}`);
    cell(tr, r.claimed_by || "–", "claimed_by");
    fresh.appendChild(tr);
  }
  tbody.replaceChildren(fresh);
  $("#no-requests").hidden = rows.some((r) => r.status === "open");
}

const eventLog = [];
function renderEvents() {
  const ol = $("#events");
  ol.replaceChildren(
    ...eventLog.map((ev) => {
      const li = document.createElement("li");
      li.dataset.type = ev.type;
      li.dataset.requestId = ev.request_id || "";
      const time = document.createElement("time");
      time.textContent = new Date(ev.occurred_at).toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB");
      const what = document.createElement("span");
      const extra = ev.to_ring ? ` → ${label("r", ev.to_ring)}`
        : ev.ring ? ` (${label("r", ev.ring)})`
        : ev.number ? ` ${ev.number}` : "";
      const r = requests.get(ev.request_id);
      const cat = ev.category || (r && r.category);
      const type = ev.type === "helper_withdrawn" && ev.no_show ? "helper_no_show"
        : endedByTime(ev) ? "request_ended" : ev.type;
      what.textContent = `${ev.community_id} · ${cat ? label("c", cat) + " · " : ""}${label("e", type)}${extra}`;
      li.append(time, what);
      return li;
    }),
  );
}

// Patch the request's row from one event, so the table moves before the next snapshot.
function applyEvent(ev) {
  const id = ev.request_id;
  if (!id) return;
  let r = requests.get(id);
  if (ev.type === "request_opened" && !r) {
    r = { request_id: id, community_id: ev.community_id, category: ev.category,
      urgency: ev.urgency, status: "open", outcome: null, ring: null,
      helpers_needed: ev.helpers_needed, helpers_assigned: 0, offers_sent: 0,
      opened_at: ev.occurred_at, closed_at: null, _live: true };
    requests.set(id, r);
  }
  if (!r) return;
  r._flash = Date.now();
  switch (ev.type) {
    case "offer_sent": r.offers_sent += 1; r.ring = ev.ring; break;
    case "offers_sent": r.offers_sent += ev.offers; r.ring = ev.ring; break;
    case "ring_escalated": r.ring = ev.to_ring; break;
    case "whistle_blown": r.ring = "whistle"; break;
    case "helper_assigned": r.helpers_assigned += 1; break;
    case "helper_withdrawn": r.helpers_assigned = Math.max(0, r.helpers_assigned - 1);
      if (r.kept_holders > 0) r.kept_holders -= 1;
      break;
    case "assignment_completed": if (r.kept_holders > 0) r.kept_holders -= 1; break;
    case "request_claimed": r.claimed_by = ev.by; break;
    case "staff_not_reached": r.staff_unreached = ev.rung; break;
    case "request_held": r.held_until = ev.until; break;
    case "request_released": r.held_until = null; break;
    case "request_paused": r.paused_until = ev.until; r.paused_local = ev.local_time; break;
    case "request_resolved": case "request_cancelled": case "request_referred":
    case "request_expired":
      r.status = ev.type.replace("request_", "");
      r.outcome = endedByTime(ev) ? "ended" : r.status;
      r.closed_at = ev.occurred_at;
      break;
    default: break;
  }
}

function onEvent(ev) {
  if (seenEvents.has(ev.event_id)) return;
  seenEvents.add(ev.event_id);
  applyEvent(ev);
  if (ev.request_id === selected && HOLDERS_CHANGE.has(ev.type)) loadHelpers(selected);
  eventLog.unshift(ev);
  eventLog.length = Math.min(eventLog.length, MAX_EVENTS);
  renderRequests();
  renderEvents();
}

async function refresh() {
  let data;
  try {
    const resp = await fetch("/ops/v1/overview", { credentials: "same-origin", cache: "no-store" });
    if (resp.status === 401) { location.replace("/dashboard"); return; }
    if (!resp.ok) return;
    data = await resp.json();
  } catch (_) {
    return; // the next poll tries again; the SSE indicator shows the connection state
  }
  for (const [value, names] of Object.entries(data.categories || {})) {
    I18N.zh.c[value] = names.zh;
    I18N.en.c[value] = names.en;
  }
  const next = new Map();
  for (const r of [...data.recent_closed, ...data.open]) {
    const old = requests.get(r.request_id);
    next.set(r.request_id, old && old._flash ? { ...r, _flash: old._flash } : r);
  }
  // Keep rows the events opened that the read model has not recorded yet; a row of an
  // earlier snapshot missing from this one has left the capped list, so it goes.
  for (const [id, r] of requests) {
    if (!next.has(id) && r.status === "open" && r._live) next.set(id, r);
  }
  requests.clear();
  for (const [id, r] of next) requests.set(id, r);
  const d = data.today;
  $("#s-requests").textContent = d.requests ?? 0;
  // The count of all open requests, not the list's length: the list is capped.
  openCount = { shown: data.open.length, total: Math.max(d.open ?? 0, data.open.length) };
  renderOpenCount();
  helpersStale();
  $("#s-rate").textContent = fmtRate(d.answered_rate);
  $("#s-p50").textContent = fmtSeconds(d.ttfa_p50);
  $("#s-p90").textContent = fmtSeconds(d.ttfa_p90);
  $("#s-p99").textContent = fmtSeconds(d.ttfa_p99);
  const tbody = $("#communities tbody");
  tbody.replaceChildren(
    ...data.communities.map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.community = c.community_id;
      for (const [v, key] of [
        [c.community_id, "community"], [c.requests, "requests"], [c.open, "open_now"],
        [fmtRate(c.answered_rate), "answered_rate"], [fmtSeconds(c.ttfa_p50), "ttfa_p50"],
        [c.whistles, "whistles"], [c.expired, "expired"], [c.ended, "ended"],
      ]) cell(tr, String(v), key);
      return tr;
    }),
  );
  renderRequests();
}

// --- staff actions: one command each (POST, with the session's anti-CSRF token) ----------
let selected = null;
let csrf = null;
let session = null; // {staff, communities, district_wide} from /ops/v1/session

// The account this screen is signed in as, and its scope: a screen signed into another
// account shows another community's requests (or none), so it says whose they are.
function renderWho() {
  $("#who-name").textContent = session ? session.staff : "–";
  $("#who-scope").textContent = !session ? ""
    : session.district_wide ? `(${t("district_wide")})`
    : `(${session.communities.join(", ")})`;
}

async function loadSession() {
  try {
    const resp = await fetch("/ops/v1/session", { credentials: "same-origin", cache: "no-store" });
    if (!resp.ok) return;
    session = await resp.json();
    csrf = session.csrf;
    renderWho();
    if (!session.district_wide) stopHealth();
  } catch (_) { /* retried before the next action */ }
}

function select(requestId) {
  selected = requestId;
  $("#actions").hidden = !requestId;
  $("#act-request").textContent = requestId || "";
  renderRequests();
  assigned = null;
  renderHelpers();
  if (requestId) loadHelpers(requestId);
}

// --- who holds the selected request: a "not coming" button for each -----------------------
// Helper ids only (the screen may hang on a wall): staff look the person up in the roster.
const HOLDERS_CHANGE = new Set(["helper_assigned", "helper_withdrawn", "helper_set_off",
  "assignment_completed", "request_resolved", "request_cancelled", "request_referred",
  "request_expired"]);
// `releasable`: open, or referred to 120/110/119 with kept helpers still holding it.
let assigned = null; // {request_id, open, releasable, helpers: [{helper_id, on_way, remote}]}

async function loadHelpers(requestId) {
  let data = null;
  try {
    const resp = await fetch(`/ops/v1/requests/${encodeURIComponent(requestId)}/helpers`,
      { credentials: "same-origin", cache: "no-store" });
    if (resp.ok) data = await resp.json();
  } catch (_) { /* the next change or selection asks again */ }
  if (requestId !== selected) return; // another row was picked meanwhile
  const r = requests.get(requestId);
  assigned = data && { ...data, rowCount: r ? r.helpers_assigned : null };
  renderHelpers();
}

// The list reads PostgreSQL, which the stream can beat: the row may say someone holds the
// request before the list has them. Each snapshot asks again while they disagree.
function helpersStale() {
  const r = selected && requests.get(selected);
  if (!r || (r.status !== "open" && !(r.kept_holders > 0))) return;
  const seen = assigned && assigned.request_id === selected ? assigned : null;
  if (!seen || seen.rowCount !== r.helpers_assigned || (!seen.helpers.length && r.helpers_assigned > 0)) {
    loadHelpers(selected);
  }
}

function renderHelpers() {
  const ul = $("#act-helpers");
  const live = assigned && assigned.request_id === selected && assigned.releasable;
  ul.replaceChildren(...(live ? assigned.helpers : []).map((h) => {
    const li = document.createElement("li");
    li.dataset.helperId = h.helper_id;
    const id = document.createElement("code");
    id.textContent = h.helper_id;
    const state = document.createElement("span");
    state.textContent = t(h.on_way ? (h.remote ? "helper_calling" : "helper_on_way") : "helper_held");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.action = "no-show";
    b.textContent = t("no-show");
    b.addEventListener("click", () => act("no-show", h.helper_id));
    li.append(id, state, b);
    return li;
  }));
}

async function act(action, helperId) {
  if (!selected) return;
  if (!csrf) await loadSession();
  const bodies = {
    refer: () => ({ to: $("#act-refer-to").value, department: $("#act-department").value.trim() }),
    "call-team": () => ({ team_id: $("#act-team").value.trim() }),
  };
  const body = bodies[action] ? bodies[action]() : {};
  const out = $("#act-result");
  out.dataset.action = action;
  out.dataset.result = "pending";
  // A helper's action names the helper in its path (…/helpers/{id}/no-show).
  const path = helperId ? `helpers/${encodeURIComponent(helperId)}/${action}` : action;
  let resp;
  try {
    resp = await fetch(`/ops/v1/requests/${encodeURIComponent(selected)}/${path}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || "" },
      body: JSON.stringify(body),
    });
  } catch (_) {
    resp = null;
  }
  const ok = resp && resp.status === 202;
  out.dataset.result = ok ? "sent" : "error";
  out.textContent = `${t(action)}: ${ok ? t("sent") : t("failed") + (resp ? ` (${resp.status})` : "")}`;
  if (resp && resp.status === 403) csrf = null; // a new session: fetch its token again
  if (helperId) out.dataset.helperId = helperId;
  else delete out.dataset.helperId;
  // Its event redraws the list when the stream is up; this catches a stream that is not.
  const requestId = selected;
  if (ok && helperId) setTimeout(() => { if (selected === requestId) loadHelpers(requestId); }, 1500);
}

// --- stream health: plain SVG charts, no library -------------------------------------------
const SVG = "http://www.w3.org/2000/svg";
const W = 300, H = 120, PAD = 18;
let healthTimer = null;
let healthOff = false; // set once for the page: this account has no health charts

// The health charts are for district-wide staff only: another account's poll is refused
// (403) every time, and each refusal is a staff_audit row, so it stops for good.
function stopHealth() {
  healthOff = true;
  if (healthTimer !== null) clearInterval(healthTimer);
  healthTimer = null;
  $("#health").hidden = true;
}

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text != null) el.textContent = text;
  return el;
}

function emptyChart(svg) {
  svg.replaceChildren(svgEl("text", { x: PAD, y: H / 2 }, t("no_data")));
}

// Lines over time: series = [{name, color, values: [number]}], same length.
function lineChart(svg, series) {
  const n = Math.max(0, ...series.map((s) => s.values.length));
  if (n < 2) { emptyChart(svg); return; }
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i) => PAD + (i * (W - 2 * PAD)) / (n - 1);
  const y = (v) => H - PAD - (v * (H - 2 * PAD)) / max;
  const kids = [svgEl("text", { x: 2, y: PAD - 6 }, String(Math.round(max * 10) / 10)),
    svgEl("line", { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, stroke: "#263442" })];
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    kids.push(svgEl("polyline", { points: pts, fill: "none", stroke: s.color, "stroke-width": 1.5,
      "data-series": s.name }));
    kids.push(svgEl("text", { x: W - PAD - 90 + k * 48, y: PAD - 6, fill: s.color },
      `${s.name} ${s.values[s.values.length - 1]}`));
  });
  svg.replaceChildren(...kids);
}

// Bars: entries = [{label, value, color?}].
function barChart(svg, entries) {
  if (!entries.length) { emptyChart(svg); return; }
  const max = Math.max(1, ...entries.map((e) => e.value));
  const bw = (W - 2 * PAD) / entries.length;
  const kids = [svgEl("text", { x: 2, y: PAD - 6 }, String(max))];
  entries.forEach((e, i) => {
    const h = (e.value * (H - 2 * PAD)) / max;
    kids.push(svgEl("rect", { x: PAD + i * bw + 1, y: H - PAD - h, width: Math.max(1, bw - 2),
      height: h, fill: e.color || "#6cc4ff", "data-label": e.label, "data-value": e.value }));
    if (entries.length <= 16) {
      kids.push(svgEl("text", { x: PAD + i * bw + 1, y: H - 4 }, e.label));
    }
  });
  svg.replaceChildren(...kids);
}

async function refreshHealth() {
  let h;
  try {
    const resp = await fetch("/ops/v1/health", { credentials: "same-origin", cache: "no-store" });
    if (resp.status === 403) { stopHealth(); return; } // district-wide staff only
    if (!resp.ok) return;
    h = await resp.json();
  } catch (_) {
    return;
  }
  const rates = h.rates.slice(-60);
  lineChart($("#chart-rates"), [
    { name: "cmd", color: "#6cc4ff", values: rates.map((r) => r.commands_per_s) },
    { name: "evt", color: "#5fd38d", values: rates.map((r) => r.events_per_s) },
  ]);
  lineChart($("#chart-dead"), [
    { name: "dlq", color: "#ff5d5d", values: rates.map((r) => r.dead_letters) },
  ]);
  const short = { commands: "c", events: "e" };
  barChart($("#chart-lag"), h.lag.map((l) => ({
    label: `${short[l.topic.split(".").pop()] || l.topic}${l.partition}${l.group.endsWith("-record") ? "r" : ""}${l.no_commit ? "*" : ""}`,
    value: l.lag, color: l.no_commit ? "#b48cff" : l.lag > 0 ? "#ffb347" : "#6cc4ff",
  })));
  barChart($("#chart-push"), h.push.map((p) => ({ label: p.endpoint, value: p.failed,
    color: "#ff5d5d" })));
  $("#workers").replaceChildren(...h.workers.map((w) => {
    const li = document.createElement("li");
    li.dataset.alive = String(w.alive);
    li.dataset.inGroup = String(w.in_group);
    li.textContent = `${w.name}${w.partitions.length ? ` · P${w.partitions.join(",")}` : ""}`;
    return li;
  }));
}

function connect() {
  const source = new EventSource("/ops/v1/stream");
  source.addEventListener("dispatch", (msg) => onEvent(JSON.parse(msg.data)));
  source.addEventListener("status", (msg) => setLive(JSON.parse(msg.data).live ? "live" : "connecting"));
  // The server ended the stream: signed out, account changed or session expired.
  source.addEventListener("ended", () => { source.close(); location.replace("/dashboard"); });
  source.onerror = () => {
    setLive("down");
    // EventSource retries a dropped connection itself, but gives up for good on a refusal
    // (401, 429 too many streams, 503): check the session now, and try again later.
    if (source.readyState === EventSource.CLOSED) {
      refresh();
      setTimeout(connect, 30000);
    }
  };
}

function tick() {
  $("#clock").textContent = new Date().toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB");
  renderRequests(); // waiting times count up
}

document.addEventListener("DOMContentLoaded", () => {
  $("#lang").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("dispatch.lang", lang);
    applyLang();
  });
  $("#requests tbody").addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-request-id]");
    if (tr) select(tr.dataset.requestId);
  });
  document.querySelectorAll("#actions button[data-action]").forEach((b) => {
    b.addEventListener("click", () => act(b.dataset.action));
  });
  applyLang();
  loadSession();
  refresh();
  connect();
  setInterval(refresh, 5000);
  if (!healthOff) {
    refreshHealth();
    healthTimer = setInterval(refreshHealth, 2000);
  }
  setInterval(tick, 1000);
});
