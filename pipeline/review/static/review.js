// The review page: plain DOM, no framework, no build step. Record text only ever enters the page
// through textContent; the only HTML set is the server's markdown rendering (raw HTML disabled).
"use strict";

const $ = (sel) => document.querySelector(sel);
const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
const TOKEN = meta("review-token");
const FACETS = ["source", "lang", "reason", "op", "model"];
const LIMIT = 50;

const state = {
  stages: [], stage: meta("review-stage") || "", kind: "kept", offset: 0, total: 0,
  records: [], current: -1, editing: false, filter: {}, scores: [], facets: {},
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function toast(text) {
  const t = $("#toast");
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("show"), 2200);
}

function reviewer() {
  return $("#reviewer").value.trim() || meta("review-reviewer");
}

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "X-Review-Token": TOKEN },
  };
  const resp = await fetch(path, opts);
  const data = await resp.json().catch(() => ({ error: resp.statusText }));
  if (!resp.ok) throw new Error(data.error || resp.statusText);
  return data;
}

function queryString() {
  const p = new URLSearchParams({ kind: state.kind, offset: state.offset, limit: LIMIT });
  for (const [k, v] of Object.entries(state.filter)) if (v !== "" && v !== undefined) p.set(k, v);
  return p.toString();
}

// -- stages ------------------------------------------------------------------------------------
async function loadStages() {
  const data = await api("/api/stages");
  state.stages = data.stages;
  if (!state.stage && data.stages.length) {
    const withData = data.stages.filter((s) => s.records_out || s.rejected);
    state.stage = (withData[0] || data.stages[0]).id;
  }
  drawStages();
}

function drawStages() {
  const nav = $("#stages");
  nav.replaceChildren();
  for (const s of state.stages) {
    const total = s.records_out + s.rejected;
    const share = total ? Math.round((100 * s.records_out) / total) : 0;
    const reasons = Object.entries(s.reasons || {}).map(([r, n]) => `${r} ${n}`).join(", ");
    const bar = el("span");
    bar.style.width = `${share}%`; // CSSOM, not a style attribute: the CSP forbids inline styles
    const btn = el("button", { class: "stage" + (s.id === state.stage ? " on" : ""), type: "button",
      "data-stage": s.id, title: reasons || "no rejections", onclick: () => chooseStage(s.id) },
      el("div", { text: s.id }), el("div", { class: "op", text: `${s.op} · ${s.state}` }),
      el("div", { class: "bar" }, bar),
      el("div", { class: "nums", text: `${s.records_in} in → ${s.records_out} kept, ${s.rejected} rejected` +
        (s.reviewed ? ` · ${s.reviewed} reviewed` : "") }));
    nav.append(btn);
  }
}

function chooseStage(id) {
  state.stage = id;
  state.offset = 0;
  state.filter = {};
  resetToolbar();
  drawStages();
  loadRecords();
}

// -- the record list -----------------------------------------------------------------------------
async function loadRecords(keep = -1) {
  if (!state.stage) return;
  let data;
  document.body.dataset.busy = "1"; // scripts and tests wait for the list to settle
  try {
    data = await api(`/api/stages/${encodeURIComponent(state.stage)}/records?${queryString()}`);
  } catch (e) { toast(e.message); return; } finally { delete document.body.dataset.busy; }
  state.records = data.records;
  state.total = data.total;
  state.scores = data.scores;
  state.facets = data.facets;
  drawToolbarChoices();
  drawList();
  const pick = keep >= 0 ? Math.min(keep, state.records.length - 1) : (state.records.length ? 0 : -1);
  showRecord(pick);
}

function preview(r) {
  const user = r.messages.find((m) => m.role === "user");
  return user ? user.content : (r.rejected && r.rejected.raw ? JSON.stringify(r.rejected.raw) : r.id);
}

function badges(r) {
  const out = el("span");
  for (const d of r.decisions || []) {
    out.append(el("span", { class: `badge ${d.action}`, title: `${d.reviewer}: ${d.reason || ""}`,
      text: `${d.action} · ${d.reviewer}` }));
  }
  return out;
}

function drawList() {
  const list = $("#list");
  list.replaceChildren();
  state.records.forEach((r, i) => {
    const sub = [r.rejected ? r.rejected.reason : "", r.meta.source || ""].filter(Boolean).join(" · ");
    list.append(el("li", { "data-id": r.id, onclick: () => showRecord(i) },
      el("div", { class: "snip", text: preview(r) }), el("div", { class: "sub" }, badges(r), sub)));
  });
  const end = Math.min(state.offset + state.records.length, state.total);
  $("#count").textContent = state.total ? `${state.offset + 1}–${end} of ${state.total}` : "no records";
}

function markCurrent() {
  [...$("#list").children].forEach((li, i) => li.classList.toggle("on", i === state.current));
  const li = $("#list").children[state.current];
  if (li) li.scrollIntoView({ block: "nearest" });
}

// -- one record ----------------------------------------------------------------------------------
function showRecord(i, record) {
  state.current = i;
  state.editing = false;
  const r = record || state.records[i];
  const box = $("#detail");
  box.replaceChildren();
  markCurrent();
  if (!r) { box.append(el("p", { class: "empty", text: "No record." })); return; }
  box.append(el("div", { class: "sub", text: `${state.stage} · ${state.kind} · row ${r.row} · id ${r.id}` }));
  box.append(actionBar(r));
  if (r.rejected) box.append(rejectedBox(r.rejected));
  const turns = el("div", { id: "turns" });
  for (const m of r.messages) {
    const body = el("div", { class: "text" });
    body.innerHTML = m.html; // server-rendered markdown, raw HTML disabled
    turns.append(el("div", { class: `turn ${m.role}` }, el("div", { class: "role", text: m.role }), body));
  }
  const edit = latestEdit(r);
  if (edit) {
    const shown = el("div", { class: "edited" }, el("strong", { text: `edit by ${edit.reviewer} (the review op applies it)` }));
    for (const m of edit.messages) shown.append(el("div", { class: `turn ${m.role}` }, el("div", { class: "role", text: m.role }), el("pre", { text: m.content })));
    box.append(shown);
  }
  box.append(turns, metaTable(r), decisionsList(r));
}

function latestEdit(r) {
  const edits = (r.decisions || []).filter((d) => d.action === "edit" && d.messages);
  return edits.length ? edits[edits.length - 1] : null;
}

function actionBar(r) {
  const restore = state.kind === "rejected";
  const reason = el("input", { id: "reason", list: "reasons", placeholder: "reason", size: "16" });
  return el("div", { class: "actions" },
    el("button", { class: "accept", type: "button", id: "do-accept", onclick: () => decide(r, "accept"),
      text: restore ? "Restore (a)" : "Accept (a)" }),
    reason,
    el("button", { class: "reject", type: "button", id: "do-reject", onclick: () => decide(r, "reject"), text: "Reject (r)" }),
    el("button", { class: "edit", type: "button", id: "do-edit", onclick: () => startEdit(r), text: "Edit (e)" }),
    el("button", { class: "flag", type: "button", id: "do-flag", onclick: () => decide(r, "flag"), text: "Flag (f)" }));
}

function rejectedBox(rej) {
  const box = el("div", { class: "why" }, el("strong", { text: `rejected: ${rej.reason || "?"}` }));
  if (rej.detail) box.append(el("div", { text: rej.detail }));
  if (rej.where) box.append(el("div", { class: "sub", text: `at ${rej.where}` }));
  if (rej.raw !== undefined && rej.raw !== null) {
    box.append(el("pre", { text: typeof rej.raw === "string" ? rej.raw : JSON.stringify(rej.raw, null, 2) }));
  }
  return box;
}

function metaTable(r) {
  const table = el("table", { class: "meta" });
  for (const [k, v] of Object.entries(r.meta || {})) {
    const cell = el("td");
    if (k === "parents" && Array.isArray(v)) {
      v.forEach((p, j) => {
        if (j) cell.append(" ");
        cell.append(el("a", { class: "parent", "data-id": String(p), onclick: () => openParent(String(p)), text: String(p) }));
      });
    } else {
      cell.textContent = typeof v === "string" ? v : JSON.stringify(v);
    }
    table.append(el("tr", {}, el("th", { text: k }), cell));
  }
  return table;
}

function decisionsList(r) {
  const box = el("div", { class: "sub" });
  for (const d of r.decisions || []) {
    box.append(el("div", { text: `${d.time} ${d.reviewer}: ${d.action}${d.reason ? " (" + d.reason + ")" : ""}` }));
  }
  return box;
}

async function openParent(id) {
  let found;
  try { found = (await api(`/api/lookup/${encodeURIComponent(id)}`)).found; } catch (e) { toast(e.message); return; }
  const here = state.stages.findIndex((s) => s.id === state.stage);
  const earlier = found.filter((f) => state.stages.findIndex((s) => s.id === f.stage) < here);
  const hit = earlier[earlier.length - 1] || found[0];
  if (!hit) { toast(`record ${id} is in no stage of this run`); return; }
  state.stage = hit.stage;
  state.kind = hit.kind;
  state.filter = {};
  state.offset = Math.floor(hit.row / LIMIT) * LIMIT;
  resetToolbar();
  drawStages();
  await loadRecords();
  const i = state.records.findIndex((r) => r.id === id);
  if (i >= 0) showRecord(i);
}

// -- decisions -----------------------------------------------------------------------------------
async function decide(r, action, messages) {
  const body = { stage: state.stage, record_id: r.id, action, reviewer: reviewer() };
  const reason = ($("#reason") || {}).value;
  if (reason) body.reason = reason;
  if (messages) body.messages = messages;
  try {
    const res = await api("/api/decisions", body);
    r.decisions = (r.decisions || []).filter((d) => d.reviewer !== res.decision.reviewer).concat([res.decision]);
    toast(`${action}: ${r.id}`);
  } catch (e) { toast(e.message); return; }
  drawList();
  const next = Math.min(state.current + 1, state.records.length - 1);
  showRecord(action === "edit" ? state.current : next);
}

function startEdit(r) {
  state.editing = true;
  const turns = $("#turns");
  turns.replaceChildren();
  const edit = latestEdit(r); // go on from the newest edit, if any
  const msgs = (edit ? edit.messages : r.messages).map((m) => ({ role: m.role, content: m.content }));
  if (!msgs.length || msgs[0].role !== "system") {
    turns.append(el("button", { type: "button", id: "add-system", text: "add a system message",
      onclick: () => { msgs.unshift({ role: "system", content: "" }); drawEditors(turns, msgs, r); } }));
  }
  drawEditors(turns, msgs, r);
}

function drawEditors(turns, msgs, r) {
  turns.querySelectorAll(".turn, .save").forEach((n) => n.remove());
  msgs.forEach((m, j) => {
    const area = el("textarea", { "data-turn": String(j), "aria-label": `${m.role} turn ${j}` });
    area.value = m.content;
    area.addEventListener("input", () => { m.content = area.value; });
    turns.append(el("div", { class: `turn ${m.role}` }, el("div", { class: "role", text: m.role }), area));
  });
  turns.append(el("div", { class: "actions save" },
    el("button", { class: "edit", type: "button", id: "save-edit", text: "Save edit",
      onclick: () => decide(r, "edit", msgs.filter((m) => m.role !== "system" || m.content.trim())) }),
    el("button", { type: "button", text: "Cancel (Esc)", onclick: () => showRecord(state.current) })));
}

async function bulk() {
  const action = $("#bulk-action").value;
  const body = { action, reviewer: reviewer() };
  if ($("#bulk-reason").value) body.reason = $("#bulk-reason").value;
  if (!window.confirm(`${action} all ${state.total} matching records?`)) return;
  try {
    const p = new URLSearchParams(queryString());
    const res = await api(`/api/stages/${encodeURIComponent(state.stage)}/bulk?${p}`, body);
    toast(`${action}: ${res.decided} records`);
  } catch (e) { toast(e.message); return; }
  loadRecords(state.current);
}

// -- toolbar -------------------------------------------------------------------------------------
function drawToolbarChoices() {
  const box = $("#facets");
  box.replaceChildren();
  for (const name of FACETS) {
    const counts = state.facets[name];
    if (!counts || !Object.keys(counts).length) continue;
    const sel = el("select", { id: `facet-${name}`, "aria-label": name }, el("option", { value: "", text: `${name}…` }));
    for (const [v, n] of Object.entries(counts)) sel.append(el("option", { value: v, text: `${v} (${n})` }));
    sel.value = state.filter[name] || "";
    box.append(sel);
  }
  for (const id of ["#score-key", "#sort"]) {
    const sel = $(id);
    const keep = sel.value;
    sel.replaceChildren(el("option", { value: "", text: id === "#sort" ? "file order" : "score…" }));
    for (const k of state.scores) sel.append(el("option", { value: k, text: id === "#sort" ? `by ${k}` : k }));
    sel.value = state.scores.includes(keep) ? keep : "";
  }
}

function readToolbar() {
  const f = { q: $("#q").value.trim(), decision: $("#decision").value, sort: $("#sort").value };
  if (f.sort) f.order = $("#order").value;
  for (const name of FACETS) {
    const sel = $(`#facet-${name}`);
    if (sel && sel.value) f[name] = sel.value;
  }
  const key = $("#score-key").value;
  if (key && $("#score-min").value !== "") f[`min.${key}`] = $("#score-min").value;
  if (key && $("#score-max").value !== "") f[`max.${key}`] = $("#score-max").value;
  state.filter = f;
  state.offset = 0;
  loadRecords();
}

function resetToolbar() {
  for (const id of ["#q", "#score-min", "#score-max"]) $(id).value = "";
  for (const id of ["#decision", "#sort", "#score-key"]) $(id).value = "";
  document.querySelectorAll(".kind").forEach((b) => b.classList.toggle("on", b.dataset.kind === state.kind));
}

async function showAgreement() {
  const box = $("#agreement");
  if (!box.hidden) { box.hidden = true; return; }
  let a;
  try { a = await api(`/api/stages/${encodeURIComponent(state.stage)}/agreement`); } catch (e) { toast(e.message); return; }
  const pct = (x) => (x === null ? "n/a" : `${Math.round(100 * x)}%`);
  const k = (x) => (x === null ? "n/a" : x.toFixed(2));
  box.replaceChildren(el("h3", { text: `Agreement on ${a.stage}: ${a.reviewed} records, reviewers ${a.reviewers.join(", ") || "none"}` }));
  const pairs = el("table", {}, el("tr", {}, ...["reviewers", "both decided", "agree", "kappa"].map((h) => el("th", { text: h }))));
  for (const p of a.pairs) pairs.append(el("tr", {}, ...[`${p.a} / ${p.b}`, p.n, pct(p.agree), k(p.kappa)].map((v) => el("td", { text: String(v) }))));
  const heads = ["reviewers vs", "n", "agree", "kappa", "both accept", "people accept, it rejects", "people reject, it accepts", "both reject"];
  const raters = el("table", {}, el("tr", {}, ...heads.map((h) => el("th", { text: h }))));
  for (const r of a.raters) {
    const t = r.table;
    raters.append(el("tr", {}, ...[r.name, r.n, pct(r.agree), k(r.kappa), t.accept.accept, t.accept.reject,
      t.reject.accept, t.reject.reject].map((v) => el("td", { text: String(v) }))));
  }
  box.append(pairs, raters);
  box.hidden = false;
}

// -- keys and wiring -----------------------------------------------------------------------------
function onKey(ev) {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (ev.key === "Escape") { if (state.editing) showRecord(state.current); document.activeElement.blur(); return; }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const r = state.records[state.current];
  const keys = {
    j: () => (state.current < state.records.length - 1 ? showRecord(state.current + 1) : page(1)),
    k: () => (state.current > 0 ? showRecord(state.current - 1) : page(-1)),
    a: () => r && decide(r, "accept"), f: () => r && decide(r, "flag"), e: () => r && startEdit(r),
    r: () => { if (!r) return; const reason = $("#reason"); if (reason.value) decide(r, "reject"); else reason.focus(); },
    "/": () => $("#q").focus(),
  };
  keys.ArrowDown = keys.j;
  keys.ArrowUp = keys.k;
  if (keys[ev.key]) { ev.preventDefault(); keys[ev.key](); }
}

function page(step) {
  const next = state.offset + step * LIMIT;
  if (next < 0 || next >= state.total) return;
  state.offset = next;
  loadRecords();
}

function wire() {
  $("#reviewer").value = localStorage.getItem("instructpipe-reviewer") || meta("review-reviewer");
  $("#reviewer").addEventListener("change", () => localStorage.setItem("instructpipe-reviewer", reviewer()));
  document.querySelectorAll(".kind").forEach((b) => b.addEventListener("click", () => {
    state.kind = b.dataset.kind;
    state.offset = 0;
    state.filter = {};
    resetToolbar();
    loadRecords();
  }));
  $("#apply").addEventListener("click", readToolbar);
  $("#clear").addEventListener("click", () => { resetToolbar(); readToolbar(); });
  // after a search or a filter choice the keys drive the list again
  $("#q").addEventListener("keydown", (ev) => { if (ev.key === "Enter") { readToolbar(); $("#q").blur(); } });
  $("#facets").addEventListener("change", () => { readToolbar(); document.activeElement.blur(); });
  $("#prev").addEventListener("click", () => page(-1));
  $("#next").addEventListener("click", () => page(1));
  $("#bulk-apply").addEventListener("click", bulk);
  $("#show-agreement").addEventListener("click", showAgreement);
  document.addEventListener("keydown", onKey);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && document.activeElement.id === "reason") {
      const r = state.records[state.current];
      if (r) decide(r, "reject");
    }
  });
}

wire();
loadStages().then(() => loadRecords()).catch((e) => toast(e.message));
