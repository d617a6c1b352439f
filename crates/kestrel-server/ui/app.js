// The kestrel dashboard: one page over the server's HTTP API. Everything shown comes from agents, CI jobs
// and images, which attackers may control: text is only ever set as text (no innerHTML anywhere).
"use strict";

const SEVERITIES = ["critical", "high", "medium", "low", "unknown"];
const main = () => document.getElementById("main");
let me = null; // {name, role} once logged in
let generation = 0; // the view being drawn; an older one's late answers are dropped

// ---- elements ----------------------------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const sev = (s) => h("span", { class: `sev ${SEVERITIES.includes(s) ? s : "unknown"}` }, s || "unknown");
const mode = (m) => h("span", { class: `mode ${m}` }, m || "?");
const link = (href, text) => h("a", { href }, text);
const enc = encodeURIComponent;
const counted = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;

function when(ns) {
  if (!ns) return "—";
  const d = new Date(Number(ns) / 1e6);
  return isNaN(d) ? "—" : d.toISOString().replace("T", " ").slice(0, 19) + "Z";
}
function ago(ns) {
  const s = Math.max(0, (Date.now() - Number(ns) / 1e6) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}
function table(headers, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty || "Nothing yet.");
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows));
}

// ---- API ---------------------------------------------------------------------------------------------
class Unauthorized extends Error {}
async function api(path, options = {}) {
  const init = { credentials: "same-origin", headers: { "X-Kestrel": "dashboard" }, ...options };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
  }
  const r = await fetch(path, init);
  if (r.status === 401) throw new Unauthorized();
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!r.ok) throw new Error((body && body.error) || `${r.status} ${r.statusText}`);
  return body;
}

// ---- login -------------------------------------------------------------------------------------------
function showLogin(message) {
  me = null;
  document.getElementById("top").hidden = true;
  const err = h("p", { class: "error", id: "login-error" }, message || "");
  const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "current-password", placeholder: "kst_…", required: true });
  const form = h("form", {
    id: "login",
    onsubmit: async (ev) => {
      ev.preventDefault();
      err.textContent = "";
      try {
        me = await api("/api/v1/login", { json: { token: input.value.trim() } });
        input.value = "";
        start();
      } catch (e) {
        err.textContent = e instanceof Unauthorized ? "That token is not known to this server." : e.message;
      }
    },
  },
  h("label", { for: "token" }, "Access token"), input,
  h("button", { class: "primary", type: "submit" }, "Log in"), err);
  main().replaceChildren(h("div", { class: "login card" }, h("h1", {}, "kestrel"),
    h("p", { class: "muted" }, "Log in with a token from `kestrel server token` (viewer, ci or admin)."), form));
  main().dataset.view = "login";
  main().dataset.gen = String(++generation);
  main().dataset.ready = "1";
  input.focus();
}

async function start() {
  try {
    me = me || await api("/api/v1/session");
  } catch (e) {
    showLogin(e instanceof Unauthorized ? "" : e.message);
    return;
  }
  document.getElementById("top").hidden = false;
  document.getElementById("who").textContent = `${me.name} (${me.role})`;
  route();
}

// ---- views -------------------------------------------------------------------------------------------
const views = {
  overview, alerts, alert: alertView, approvals, images, report: reportView, compliance, workloads, workload: workloadView,
};

async function route() {
  if (!me) return;
  // #/VIEW/ARG/ARG?QUERY
  const [route, query] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = route.split("/");
  const view = views[name || "overview"] ? (name || "overview") : "overview";
  const args = rest.map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  const g = ++generation;
  for (const a of document.querySelectorAll("header nav a")) {
    const active = a.dataset.view === view || (view === "alert" && a.dataset.view === "alerts")
      || (view === "workload" && a.dataset.view === "workloads");
    a.classList.toggle("active", active);
  }
  main().dataset.ready = "";
  main().dataset.view = view;
  const t0 = performance.now();
  try {
    const content = await views[view](args, params);
    if (g !== generation) return;
    main().replaceChildren(...[content].flat(Infinity).filter((x) => x !== null && x !== undefined && x !== false));
    main().dataset.gen = String(g);
    main().dataset.ready = "1";
    window.kestrelRendered = { view, ms: performance.now() - t0, at: performance.now() };
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin("Your session ended; log in again.");
    if (g !== generation) return;
    main().replaceChildren(h("h1", {}, "Something went wrong"), h("p", { class: "error", id: "failure" }, e.message));
    main().dataset.gen = String(g);
    main().dataset.ready = "1";
  }
  refreshBadge();
}

async function refreshBadge() {
  try {
    const s = await api("/api/v1/summary");
    const b = document.getElementById("pending-badge");
    b.hidden = !s.pending_approvals;
    b.textContent = s.pending_approvals || "";
  } catch { /* the view says what failed */ }
}

async function overview() {
  const [s, nodes, wl, latest, notes] = await Promise.all([
    api("/api/v1/summary"), api("/api/v1/nodes"), api("/api/v1/workloads"), api("/api/v1/alerts?limit=10"),
    api("/api/v1/notifications"),
  ]);
  const card = (label, n, href, id) => h("div", { class: "card", id }, h("a", { href }, h("b", {}, n), label));
  const alertCards = SEVERITIES.slice(0, 4).map((x) =>
    card(`${x} alerts`, (s.alerts[x] || 0).toLocaleString("en"), `#/alerts?min_severity=${x}`, `count-${x}`));
  const now = Date.now() * 1e6;
  return [
    h("h1", {}, "Fleet overview"),
    h("div", { class: "cards" }, alertCards,
      card("nodes", s.nodes, "#/", "count-nodes"),
      card("pending approvals", s.pending_approvals, "#/approvals", "count-pending"),
      card("scan reports", s.reports, "#/images", "count-reports"),
      databaseCard(s.vulndb)),
    h("h2", {}, "Nodes"),
    table(["Node", "Last seen", "Images", "Version", "Delivered", "Spooled", "Dropped"], nodes.items.map((n) => {
      const st = n.status || {};
      const live = now - n.last_seen_ns < 120e9;
      // The images its containers run: how many, and each (with its digest, where the node knows one) on hover.
      const refs = Array.isArray(st.image_refs) ? st.image_refs : (st.images || []).map((image) => ({ image }));
      const names = refs.map((r) => (r.digest ? `${r.image} (${String(r.digest).slice(0, 19)}…)` : String(r.image)));
      return h("tr", { class: "node" }, h("td", {}, n.name), h("td", { class: live ? "" : "error" }, ago(n.last_seen_ns)),
        h("td", { class: "num images", title: names.join("\n") || null }, new Set(refs.map((r) => r.image)).size),
        h("td", {}, n.version || "—"), h("td", { class: "num" }, st.delivered ?? "—"),
        h("td", { class: "num" }, st.spool_bytes !== undefined ? `${st.spool_bytes} B` : "—"),
        h("td", { class: "num" }, (st.dropped_spool_full ?? 0) + (st.dropped_queue_full ?? 0)));
    }), "No node or CI job has reported yet."),
    h("h2", {}, "Workloads"),
    workloadTable(wl.items),
    h("h2", {}, "Latest alerts"),
    alertTable(latest.items),
    notifications(notes),
  ];
}

// The vulnerability database the server serves to nodes and CI: how old it is, or that there is none (red when
// older than a week, missing or unreadable; its digest, or why, on hover).
function databaseCard(v) {
  if (!v) return [];
  let text = "unreadable";
  let why = v.error || "";
  let fresh = false;
  if (v.sha256 && v.built) {
    const days = Math.floor((Date.now() - Date.parse(v.built)) / 864e5);
    text = days < 1 ? "today" : `${days} days old`;
    why = `built ${v.built}, SHA-256 ${v.sha256}`;
    fresh = days <= 7;
  } else if (v.sha256) {
    text = "age unknown";
    why = `SHA-256 ${v.sha256}`;
  } else if (v.missing) {
    text = "none";
    why = `none in ${v.missing}: kestrel db push, or kestrel db update --db-dir there`;
  }
  return h("div", { class: fresh ? "card" : "card error", id: "vulndb", title: why },
    h("a", { href: "#/images" }, h("b", {}, text), "vulnerability database"));
}

// The webhooks the server notifies (none: nothing shown), what each was sent, what waits for it to come back and
// why the last post failed.
function notifications(n) {
  if (!n.targets.length) return [];
  return [
    h("h2", {}, "Notifications"),
    table(["Webhook", "Format", "Least severity", "Sent", "Failed", "Waiting", "Quieted", "Last sent", "Last error"],
      n.targets.map((t) => h("tr", { class: "notification" }, h("td", {}, t.endpoint), h("td", {}, t.format),
        h("td", {}, t.min_severity), h("td", { class: "num" }, t.sent), h("td", { class: t.failed ? "num error" : "num" }, t.failed),
        h("td", { class: t.waiting ? "num error" : "num", title: "failed every attempt; tried again while the webhook is down" }, t.waiting),
        h("td", { class: "num" }, t.quieted), h("td", {}, t.last_sent_ns ? ago(t.last_sent_ns) : "—"),
        h("td", { class: t.last_error ? "error" : "" }, t.last_error ? `${t.last_error} (${ago(t.last_error_ns)})` : "—"))),
      ""),
    n.dropped ? h("p", { class: "error", id: "notifications-dropped" },
      `${counted(n.dropped, "notification")} dropped: the queue was full.`) : [],
  ];
}

function workloadTable(items) {
  return table(["Workload", "Node", "Mode", "Version", "Events", "Behaviours", "Learning since"], items.map((w) =>
    h("tr", { class: "link workload", onclick: () => { location.hash = `#/workload/${enc(w.workload)}`; } },
      h("td", {}, link(`#/workload/${enc(w.workload)}`, w.workload)), h("td", {}, w.node), h("td", {}, mode(w.mode)),
      h("td", { class: "num" }, w.version), h("td", { class: "num" }, Number(w.events).toLocaleString("en")),
      h("td", { class: "num" }, w.behaviours), h("td", {}, when(w.learn_started_ns)))),
  "No agent has sent a learned profile yet.");
}

function alertTable(items) {
  return table(["Time", "Severity", "Alert", "Workload", "Node", "Score"], items.map((s) => {
    const a = s.alert;
    const href = `#/alert/${enc(s.node)}/${enc(a.id)}`;
    return h("tr", { class: "link alert", onclick: () => { location.hash = href; } },
      h("td", {}, when(a.time_ns)), h("td", {}, sev(a.severity)), h("td", {}, link(href, a.title)),
      h("td", {}, a.workload || (a.container && (a.container.image || a.container.id.slice(0, 12))) || "—"),
      h("td", {}, s.node), h("td", { class: "num" }, Number(a.score).toFixed(2)));
  }), "No alerts.");
}

async function alerts(_args, params) {
  const q = new URLSearchParams({ limit: "50" });
  for (const k of ["min_severity", "node", "workload", "cursor"]) if (params.get(k)) q.set(k, params.get(k));
  const page = await api(`/api/v1/alerts?${q}`);
  const go = (changes) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) v ? p.set(k, v) : p.delete(k);
    location.hash = `#/alerts?${p}`;
  };
  const select = h("select", { id: "min-severity", onchange: (e) => go({ min_severity: e.target.value, cursor: "" }) },
    h("option", { value: "" }, "any severity"),
    SEVERITIES.slice(0, 4).map((x) => h("option", { value: x, selected: params.get("min_severity") === x }, `${x} and worse`)));
  const filter = (key, label) => h("input", {
    type: "text", placeholder: label, value: params.get(key) || "", id: `filter-${key}`,
    onchange: (e) => go({ [key]: e.target.value.trim(), cursor: "" }),
  });
  return [
    h("h1", {}, "Alerts"),
    h("div", { class: "toolbar" }, select, filter("node", "node"), filter("workload", "workload"),
      params.get("cursor") ? h("button", { class: "more", type: "button", onclick: () => go({ cursor: "" }) }, "Newest") : null),
    alertTable(page.items),
    page.next ? h("p", {}, h("button", { class: "more", id: "older", type: "button", onclick: () => go({ cursor: page.next }) }, "Older alerts →")) : null,
  ];
}

async function alertView([node, id]) {
  const s = await api(`/api/v1/alerts/${enc(node)}/${enc(id)}`);
  const a = s.alert;
  const c = a.container || {};
  const src = a.source || {};
  return [
    h("h1", {}, sev(a.severity), " ", a.title),
    h("dl", { class: "kv" },
      h("dt", {}, "When"), h("dd", {}, when(a.time_ns)),
      h("dt", {}, "Node"), h("dd", {}, node),
      h("dt", {}, "Workload"), h("dd", {}, a.workload || "—"),
      h("dt", {}, "Container"), h("dd", {}, [c.id, c.runtime, c.image, c.namespace && `${c.namespace}/${c.pod}`].filter(Boolean).join(" · ") || "—"),
      h("dt", {}, "Raised by"), h("dd", {}, `${src.type || ""} ${src.name || ""}`.trim() || "—"),
      h("dt", {}, "Score"), h("dd", {}, Number(a.score).toFixed(3)),
      a.mitre && a.mitre.length ? [h("dt", {}, "MITRE ATT&CK"), h("dd", {}, a.mitre.join(", "))] : null,
      a.tags && a.tags.length ? [h("dt", {}, "Tags"), h("dd", {}, a.tags.join(", "))] : null),
    h("h2", {}, "Why"),
    h("ul", { class: "explain", id: "explanation" }, (a.explanation || []).map((x) => h("li", {}, x))),
    a.contributions && a.contributions.length ? [h("h2", {}, "What contributed"),
      table(["Feature", "Share"], a.contributions.map((x) => h("tr", {}, h("td", {}, x.feature), h("td", { class: "num" }, `${Math.round(x.weight * 100)} %`))))] : null,
    h("h2", {}, `Evidence (${counted((a.evidence || []).length, "event")}, the triggering one last)`),
    table(["Time", "Process", "Event"], (a.evidence || []).map((e, i) =>
      h("tr", { class: "evidence" }, h("td", {}, when(e.time_ns)), h("td", {}, `${e.comm} (${e.pid})`),
        h("td", {}, (s.evidence_text || [])[i] || e.kind)))),
    h("details", {}, h("summary", {}, "The alert as JSON"), h("pre", {}, JSON.stringify(a, null, 2))),
  ];
}

async function approvals() {
  const list = await api("/api/v1/approvals");
  const admin = me && me.role === "admin";
  const rows = list.items.map((it) => {
    const d = it.decision;
    const cell = h("td", { class: "verdict" });
    const decide = async (verdict) => {
      for (const b of cell.querySelectorAll("button")) b.disabled = true;
      try {
        const v = await api(`/api/v1/approvals/${enc(it.node)}/${enc(d.id)}`, { json: { verdict } });
        cell.replaceChildren(`${v.verdict === "approve" ? "approved" : "denied"} by ${v.by}: waiting for ${it.node}`);
        refreshBadge();
      } catch (e) {
        cell.replaceChildren(h("span", { class: "error" }, e.message));
      }
    };
    if (it.verdict) {
      cell.append(`${it.verdict.verdict === "approve" ? "approved" : "denied"} by ${it.verdict.by} ${ago(it.verdict.at_ns)}: waiting for ${it.node}`);
    } else {
      cell.append(h("button", { class: "approve", type: "button", disabled: !admin, onclick: () => decide("approve") }, "Approve"), " ",
        h("button", { class: "deny", type: "button", disabled: !admin, onclick: () => decide("deny") }, "Deny"));
    }
    return h("tr", { class: "approval", dataset: { id: d.id } }, h("td", {}, when(d.written_ns)), h("td", {}, sev(d.severity)),
      h("td", {}, d.action), h("td", {}, link(`#/alert/${enc(it.node)}/${enc(d.alert_id)}`, d.alert_title || d.alert_id)),
      h("td", {}, d.workload), h("td", {}, it.node), h("td", {}, d.detail || ""), cell);
  });
  return [
    h("h1", {}, "Pending response approvals"),
    admin ? null : h("p", { class: "muted" }, "Only an admin may approve or deny."),
    table(["Asked", "Severity", "Action", "Alert", "Workload", "Node", "Detail", ""], rows, "Nothing waits for approval."),
  ];
}

function countsCells(c) {
  return [0, 1, 2, 3].map((i) => h("td", { class: "num" }, c[i] ? h("span", { class: `sev ${SEVERITIES[i]}` }, c[i]) : "0"));
}

async function images() {
  const list = await api("/api/v1/reports?kind=image&limit=200");
  return [
    h("h1", {}, "Image findings"),
    table(["Image", "Scanned", "Sent by", "Critical", "High", "Medium", "Low"], list.items.map((r) =>
      h("tr", { class: "link report", onclick: () => { location.hash = `#/report/${enc(r.id)}`; } },
        h("td", {}, link(`#/report/${enc(r.id)}`, r.subject)), h("td", {}, when(r.received_ns)), h("td", {}, r.source),
        countsCells(r.counts))), "No image was scanned with --server yet."),
  ];
}

async function reportView([id], params) {
  const r = await api(`/api/v1/reports/${enc(id)}`);
  if (r.schema && String(r.schema).startsWith("kestrel.compliance")) return complianceReport(r);
  const target = r.target || {};
  const all = (r.findings || []).filter((f) => f.kind === "vulnerability" || f.kind === "malicious-package");
  const fixable = params.get("fixable") === "1";
  const shown = fixable ? all.filter((f) => f.fixed_version) : all;
  const toggle = h("label", {}, h("input", {
    type: "checkbox", id: "fixable", checked: fixable,
    onchange: (e) => { location.hash = `#/report/${enc(id)}${e.target.checked ? "?fixable=1" : ""}`; },
  }), " only those with a fix");
  const other = (r.findings || []).filter((f) => f.kind === "end-of-life");
  // The nodes whose agents say a container of this image runs there.
  const running = (await api(`/api/v1/reports/${enc(id)}/nodes`)).items;
  return [
    h("h1", {}, target.tags && target.tags[0] || target.name || "Image"),
    h("dl", { class: "kv" },
      h("dt", {}, "Digest"), h("dd", {}, target.manifest_digest || target.image_id || "—"),
      h("dt", {}, "Running on"), h("dd", { id: "running" }, running.length ? running.join(", ") : "no node reports running it"),
      h("dt", {}, "Operating system"), h("dd", {}, r.distro ? `${r.distro.id} ${r.distro.version_id || ""} ${r.distro.codename ? `(${r.distro.codename})` : ""}` : "—"),
      h("dt", {}, "Layers"), h("dd", {}, (target.layers || []).length),
      h("dt", {}, "Packages"), h("dd", {}, (r.packages || []).length),
      h("dt", {}, "Findings"), h("dd", {}, `${all.length} ${all.length === 1 ? "vulnerability" : "vulnerabilities"}, ${all.filter((f) => f.fixed_version).length} with a fix` +
        ((r.secrets || []).length ? `; ${counted(r.secrets.length, "hardcoded secret")}` : ""))),
    other.map((e) => h("p", { class: "error" }, `${e.name} reached its ${e.support} on ${e.eol_date}: nothing in it gets security fixes any more.`)),
    h("div", { class: "toolbar" }, toggle),
    table(["Vulnerability", "Severity", "Package", "Installed", "Fixed in", "Summary"], shown.map((f) =>
      h("tr", { class: "finding" }, h("td", {}, f.id, f.known_exploited ? " (exploited)" : ""), h("td", {}, sev(f.severity)),
        h("td", {}, f.package), h("td", {}, f.version),
        h("td", { class: f.fixed_version ? "fix" : "muted" }, f.fixed_version || (f.state || "no fix").replace(/-/g, " ")),
        h("td", {}, f.summary || ""))), "No known vulnerability."),
    (r.secrets || []).length ? [
      h("h2", {}, "Secrets"),
      table(["Secret", "Severity", "File", "Layer", "Value (redacted)"], r.secrets.map((f) =>
        h("tr", { class: "secret" }, h("td", {}, f.title || f.rule), h("td", {}, sev(f.severity)),
          h("td", {}, `${f.file}:${f.line}`), h("td", { class: "muted" }, f.layer || ""), h("td", {}, f.redacted))), ""),
    ] : [],
  ];
}

function posture(s) {
  const total = (s.pass || 0) + (s.fail || 0) + (s.manual || 0) || 1;
  return h("div", { class: "bar", title: `${s.pass} pass, ${s.fail} fail, ${s.manual} manual` },
    ["pass", "fail", "manual"].map((k) => h("span", { class: k, style: `width:${(100 * (s[k] || 0)) / total}%` })));
}

function complianceReport(r) {
  const s = r.summary || {};
  return [
    h("h1", {}, r.title || r.spec),
    h("dl", { class: "kv" }, h("dt", {}, "Generated"), h("dd", {}, r.generated || "—"), h("dt", {}, "Scope"), h("dd", {}, r.scope || "—"),
      h("dt", {}, "Controls"), h("dd", {}, `${s.pass} pass · ${s.fail} fail · ${s.manual} manual · ${s.not_evaluated || 0} not evaluated`)),
    h("h2", {}, "Controls"),
    (r.controls || []).map((c) => h("details", { class: `control ${c.status}`, open: c.status === "fail" && (c.findings || []).length <= 3 },
      h("summary", {}, h("b", {}, c.id), " ", c.title, " — ", h("span", { class: `status ${c.status}` }, c.status.replace(/-/g, " "))),
      h("p", {}, c.evidence || ""),
      (c.findings || []).length ? table(["Check", "Severity", "Object", "Where", "Message"], c.findings.map((f) =>
        h("tr", { class: "control-finding" }, h("td", {}, f.check || f.id || ""), h("td", {}, sev(f.severity)),
          h("td", {}, f.object || f.resource || ""), h("td", {}, `${f.file || ""}${f.line ? `:${f.line}` : ""}`),
          h("td", {}, f.message || f.title || "")))) : null)),
  ];
}

async function compliance() {
  const list = await api("/api/v1/reports?kind=compliance&limit=500");
  // The latest report of each spec and scope.
  const latest = new Map();
  for (const r of list.items) if (!latest.has(r.subject)) latest.set(r.subject, r);
  const bodies = await Promise.all([...latest.values()].map((r) => api(`/api/v1/reports/${enc(r.id)}`).then((b) => [r, b])));
  return [
    h("h1", {}, "Compliance posture"),
    table(["Spec", "Scope", "Posture", "Pass", "Fail", "Manual", "Checked"], bodies.map(([r, b]) => {
      const s = b.summary || {};
      return h("tr", { class: "link spec", onclick: () => { location.hash = `#/report/${enc(r.id)}`; } },
        h("td", {}, link(`#/report/${enc(r.id)}`, b.title || b.spec)), h("td", {}, b.scope || r.subject), h("td", {}, posture(s)),
        h("td", { class: "num status pass" }, s.pass), h("td", { class: "num status fail" }, s.fail),
        h("td", { class: "num status manual" }, s.manual), h("td", {}, when(r.received_ns)));
    }), "No compliance report was sent yet (`kestrel compliance … --server URL`)."),
  ];
}

async function workloads() {
  const wl = await api("/api/v1/workloads");
  return [h("h1", {}, "Workloads"), workloadTable(wl.items)];
}

async function workloadView([name]) {
  const list = await api(`/api/v1/profiles/${enc(name)}`);
  const views = ["process", "file", "network", "privilege"];
  return [
    h("h1", {}, `What ${name} normally does`),
    list.items.length ? null : h("p", { class: "muted" }, "No node has sent this workload's profile."),
    list.items.map((p) => {
      const b = p.body || {};
      const behaviours = b.behaviours || [];
      return [
        h("h2", {}, `On ${p.node}: version ${b.version}, `, mode(b.mode)),
        h("dl", { class: "kv" },
          h("dt", {}, "Learning since"), h("dd", {}, when(b.learn_started_ns)),
          h("dt", {}, "Mode since"), h("dd", {}, when(b.mode_since_ns)),
          h("dt", {}, "Events learned"), h("dd", {}, Number(b.events || 0).toLocaleString("en")),
          h("dt", {}, "Containers"), h("dd", {}, (b.containers || []).length),
          h("dt", {}, "System-call n-grams"), h("dd", {}, (b.grams || []).length),
          b.drift_pending ? [h("dt", {}, "Drift"), h("dd", { class: "error" }, "behaviour drifted: waiting for a person")] : null),
        views.map((v) => {
          const items = behaviours.filter((x) => x.view === v).sort((x, y) => y.count - x.count);
          if (!items.length) return null;
          return h("details", { class: "behaviours", open: true }, h("summary", {}, `${v}: ${counted(items.length, "behaviour")}`),
            table(["Behaviour", "Seen (n)", "Containers", "First seen", "Last seen"], items.slice(0, 200).map((x) =>
              h("tr", { class: "behaviour" }, h("td", {}, x.key), h("td", { class: "num" }, x.count),
                h("td", { class: "num" }, (x.contributors || []).length), h("td", {}, when(x.first_ns)), h("td", {}, when(x.last_ns))))),
            items.length > 200 ? h("p", { class: "muted" }, `${items.length - 200} more not shown`) : null);
        }),
      ];
    }),
  ];
}

// ---- start -------------------------------------------------------------------------------------------
window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", async () => {
    try { await api("/api/v1/logout", { method: "POST" }); } catch { /* logged out either way */ }
    showLogin("Logged out.");
  });
  start();
});
