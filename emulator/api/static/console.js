// The browser console: fleet, device and drill views. Plain modules, no build
// step; everything from this server. Device data is shown with textContent
// only, never as markup.

import {lineDiff, hunks} from "./diff.js";
import {EMEV, IF, NC, NCEV, NetconfSession, child, el, kids, pretty} from "./netconf.js";
import {DataTree, isLeaf} from "./tree.js";

const $ = (id) => document.getElementById(id);

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const c of children) {
    if (c == null) continue;
    node.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

/** One API call; a JSON error is thrown with its message. */
async function api(path, {method = "GET", body} = {}) {
  const init = {method, headers: {Accept: "application/json"}};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(data?.error || `${method} ${path}: HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

const MAX_SHOWN = 200_000;   // characters of a reply shown (the rest is cut, and said so)

function clip(text) {
  return text.length > MAX_SHOWN ? text.slice(0, MAX_SHOWN) +
    `\n... (${text.length - MAX_SHOWN} more characters not shown)` : text;
}

/** The event of a <notification>: [element, eventTime]. */
function eventOf(doc) {
  const root = doc.documentElement;
  const time = child(root, "eventTime")?.textContent || "";
  const event = kids(root).find((c) => c.localName !== "eventTime") || null;
  return [event, time];
}

// ---------------------------------------------------------------- the fleet

const ROW_HEIGHT = 28;          // px; every row the same height, so only the visible are drawn
const OVERSCAN = 6;             // rows drawn beyond the visible ones
const POOL_MAX = 40;            // NETCONF sessions the fleet view keeps open (the rows in view)
// The summary list is read again every 10 s, or 5 ms per device if longer: the
// server builds it on the loop every device shares (~150 ms for 10,000 devices),
// so a large fleet is read every 50 s (a device's own summary is read at once
// when its session says it rebooted or was reset).
const REFRESH_MS = 10_000;
const REFRESH_MS_PER_DEVICE = 5;
// WebSocket openings under way at once. Chromium delays each new WebSocket by
// a random 1-5 s times 2^(openings pending)/65536 (its per-renderer throttle:
// ~6 ms with 7 pending, ~3 s with 16), so a screenful opened all at once took
// 5.5 s and 4 at a time 1.2 s; 8 keeps the delay under 10 ms.
const OPENING_MAX = 8;

const fleet = {
  devices: [],                  // summaries from GET /api/devices, fleet order
  byName: new Map(),
  links: new Map(),             // name -> Map(interface -> oper-status)
  live: new Set(),              // names whose link states come from a subscribed session now
  changed: new Map(),           // name -> when it last changed (to mark the row)
  shown: [],                    // the devices the filters let through
  cursor: 0,
  loaded: false,
};

function linksDown(name) {
  const links = fleet.links.get(name);
  if (!links) return 0;
  let down = 0;
  for (const state of links.values()) if (state !== "up") down++;
  return down;
}

function markChanged(name) {
  fleet.changed.set(name, Date.now());
  setTimeout(() => { fleet.changed.delete(name); renderFleetSoon(); }, 3000);
  renderFleetSoon();
}

function setLink(name, ifName, state) {
  let links = fleet.links.get(name);
  if (!links) { links = new Map(); fleet.links.set(name, links); }
  if (links.get(ifName) === state) return;
  links.set(ifName, state);
  markChanged(name);
}

function setStatus(name, status) {
  const device = fleet.byName.get(name);
  if (!device || device.status === status) return;
  device.status = status;
  markChanged(name);
}

/** A notification from any of the page's sessions to `name` (fleet or device view). */
function fleetNotification(name, doc) {
  const [event] = eventOf(doc);
  if (!event || event.namespaceURI !== EMEV) return;
  if (event.localName === "link-down" || event.localName === "link-up") {
    const ifName = child(event, "if-name")?.textContent;
    const oper = child(event, "oper-status")?.textContent ||
                 (event.localName === "link-up" ? "up" : "down");
    if (ifName) setLink(name, ifName, oper);
  }
}

function applyLinks(name, doc) {
  const links = new Map();
  for (const iface of Array.from(doc.getElementsByTagNameNS(IF, "interface"))) {
    const ifName = child(iface, "name")?.textContent;
    const oper = child(iface, "oper-status")?.textContent;
    if (ifName && oper) links.set(ifName, oper);
  }
  const before = fleet.links.get(name);
  fleet.links.set(name, links);
  if (!before || [...links].some(([k, v]) => before.get(k) !== v)) renderFleetSoon();
}

/** The link states of a device: <get> of every interface's name and oper-status. */
function linksRequest(session) {
  const doc = session.request();
  const iface = el(doc, IF, "interface", el(doc, IF, "name"), el(doc, IF, "oper-status"));
  const filter = el(doc, NC, "filter", el(doc, IF, "interfaces", iface));
  filter.setAttribute("type", "subtree");
  doc.documentElement.append(el(doc, NC, "get", filter));
  return doc;
}

/** The sessions the fleet view keeps to the devices in view: each reads the
 *  link states, subscribes to link-down and link-up, and says when the device
 *  reboots or is reset (close 1012). A closed one is opened again, with a
 *  growing pause, while its row stays in view. */
class FleetWatch {
  constructor(max) {
    this.max = max;
    this.watches = new Map();   // name -> {session, retry, timer, stopped}
    this.opening = 0;
    this.queue = [];            // connects waiting for an opening slot
  }

  async slot() {
    while (this.opening >= OPENING_MAX) await new Promise((go) => this.queue.push(go));
    this.opening++;
  }

  release() {
    this.opening--;
    this.queue.shift()?.();
  }

  want(names) {
    const wanted = new Set(names.slice(0, this.max));
    for (const [name, watch] of this.watches) if (!wanted.has(name)) this.stop(name, watch);
    for (const name of wanted) if (!this.watches.has(name)) this.start(name);
  }

  start(name) {
    const watch = {session: null, retry: 0, timer: null, stopped: false};
    this.watches.set(name, watch);
    this.connect(name, watch);
  }

  async connect(name, watch) {
    const session = new NetconfSession(name, {
      onNotification: ({doc}) => fleetNotification(name, doc),
      onClose: (event) => this.closed(name, watch, session, event),
    });
    watch.session = session;
    await this.slot();
    if (watch.stopped) { this.release(); return; }
    try {
      try {
        await session.open();
      } finally {
        this.release();
      }
      if (watch.stopped) { session.close(); return; }
      applyLinks(name, (await session.rpc(linksRequest(session))).doc);
      const reply = await session.subscribe(EMEV, ["link-down", "link-up"]);
      if (reply.errors.length) throw new Error(reply.errors[0].message || reply.errors[0].tag);
      watch.retry = 0;
      fleet.live.add(name);
      setStatus(name, "up");
      renderFleetSoon();
    } catch (exc) {
      console.info(`fleet watch ${name}: ${exc.message}`);
      session.abort();     // (onClose plans the next try)
    }
  }

  closed(name, watch, session, event) {
    if (watch.session !== session) return;
    fleet.live.delete(name);
    renderFleetSoon();
    if (event.code === 1012 && event.reason === "device reboot") setStatus(name, "rebooting");
    if (!watch.stopped) this.retry(name, watch);
  }

  /** After a pause that doubles (to 10 s), read the device's state, and open
   *  the session again once it takes connections (a rebooting device's refusal
   *  would only be a failed WebSocket in the browser's console). */
  retry(name, watch) {
    const pause = Math.min(10_000, 500 * 2 ** watch.retry++);
    watch.timer = setTimeout(async () => {
      if (watch.stopped) return;
      let status = null;
      try {
        const summary = await api(`/api/devices/${encodeURIComponent(name)}`);
        setStatus(name, summary.status);
        updateSummary(summary);
        status = summary.status;
      } catch (exc) { /* the server is away: try again later */ }
      if (watch.stopped) return;
      if (status === "up" || status === "hung") this.connect(name, watch);
      else this.retry(name, watch);
    }, pause);
  }

  stop(name, watch) {
    watch.stopped = true;
    clearTimeout(watch.timer);
    this.watches.delete(name);
    fleet.live.delete(name);
    watch.session?.close();
  }
}

const watch = new FleetWatch(POOL_MAX);

function updateSummary(summary) {
  const known = fleet.byName.get(summary.name);
  if (known) Object.assign(known, summary);
}

async function loadFleet() {
  const started = performance.now();
  const devices = await api("/api/devices");
  const previous = fleet.byName;
  fleet.devices = devices;
  fleet.byName = new Map(devices.map((d) => [d.name, d]));
  for (const device of devices) {
    const before = previous.get(device.name);
    if (before && before.status !== device.status) markChanged(device.name);
  }
  if (!fleet.loaded) {
    const profiles = [...new Set(devices.map((d) => d.profile))].sort();
    $("fleet-profile").append(...profiles.map((p) => h("option", {text: p})));
    fleet.loaded = true;
  }
  applyFilter();
  $("server-status").textContent = `${devices.length} devices`;
  document.body.dataset.fleetLoadMs = (performance.now() - started).toFixed(1);
}

function applyFilter() {
  const text = $("fleet-search").value.trim().toLowerCase();
  const profile = $("fleet-profile").value;
  const status = $("fleet-status").value;
  const down = $("fleet-down").checked;
  fleet.shown = fleet.devices.filter((d) =>
    (!text || d.name.toLowerCase().includes(text) || d.profile.toLowerCase().includes(text)) &&
    (!profile || d.profile === profile) && (!status || d.status === status) &&
    (!down || linksDown(d.name) > 0));
  fleet.cursor = Math.min(fleet.cursor, Math.max(0, fleet.shown.length - 1));
  $("fleet-count").textContent = fleet.shown.length === fleet.devices.length
    ? `${fleet.devices.length} devices` : `${fleet.shown.length} of ${fleet.devices.length} devices`;
  renderFleet();
}

let fleetFrame = 0;
function renderFleetSoon() {
  if (!fleetFrame) fleetFrame = requestAnimationFrame(() => { fleetFrame = 0; renderFleet(); });
}

let watchTimer = 0;

function renderFleet() {
  const started = performance.now();
  const scroll = $("fleet-scroll");
  const spacer = $("fleet-spacer");
  spacer.style.height = `${fleet.shown.length * ROW_HEIGHT}px`;
  const height = scroll.clientHeight || 600;
  const first = Math.max(0, Math.floor(scroll.scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(fleet.shown.length,
                        Math.ceil((scroll.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  // rows that did not change are kept as they are; only the others are made again
  const rows = new Set();
  const drawn = new Set();
  for (let i = first; i < last; i++) {
    rows.add(fleetRow(fleet.shown[i], i));
    drawn.add(fleet.shown[i].name);
  }
  for (const node of Array.from(scroll.children)) {
    if (node !== spacer && !rows.has(node)) node.remove();
  }
  let previous = spacer;          // (in list order, for the keyboard and screen readers)
  for (const row of rows) {
    if (previous.nextSibling !== row) scroll.insertBefore(row, previous.nextSibling);
    previous = row;
  }
  for (const name of rowCache.keys()) if (!drawn.has(name)) rowCache.delete(name);
  // watch the rows in view (not while scrolling fast: after a short pause)
  clearTimeout(watchTimer);
  const inView = fleet.shown.slice(Math.floor(scroll.scrollTop / ROW_HEIGHT),
                                   Math.ceil((scroll.scrollTop + height) / ROW_HEIGHT))
    .map((d) => d.name);
  watchTimer = setTimeout(() => watch.want(inView), 150);
  document.body.dataset.renderMs = (performance.now() - started).toFixed(2);   // (bench/console.py)
}

const rowCache = new Map();     // name -> {row, key}: the rows drawn, and what they show

function fleetRow(device, index) {
  const live = fleet.live.has(device.name);
  const states = fleet.links.get(device.name);
  const classes = `row status-${device.status}${index === fleet.cursor ? " cursor" : ""}` +
                  `${fleet.changed.has(device.name) ? " changed" : ""}${index % 2 ? " odd" : ""}`;
  const key = `${classes}|${live}|${device.session_count}|${index}|` +
              `${states ? Array.from(states).join(",") : ""}`;
  const cached = rowCache.get(device.name);
  if (cached && cached.key === key) return cached.row;
  const row = h("div", {
    class: classes, role: "listitem", "data-name": device.name, "data-status": device.status,
    "data-live": String(live),
  });
  row.style.top = `${index * ROW_HEIGHT}px`;
  rowCache.set(device.name, {row, key});
  const link = h("a", {href: `#/device/${encodeURIComponent(device.name)}`, tabindex: "-1",
                       text: device.name});
  const links = h("span", {class: `c-links${live ? "" : " stale"}`});
  if (states) {
    for (const [name, state] of states) {
      links.append(h("span", {class: `link ${state === "up" ? "up" : "down"}`,
                              "data-if": name, "data-state": state, title: `${name}: ${state}`,
                              text: `${name} ${state === "up" ? "\u25B2" : "\u25BC"}`}));
    }
  } else {
    links.append(h("span", {class: "muted", text: "\u2026"}));
  }
  row.append(h("span", {class: "c-name"}, link), h("span", {class: "c-profile", text: device.profile}),
             h("span", {class: "c-status", text: device.status}),
             h("span", {class: "c-sessions", text: String(device.session_count ?? "")}), links);
  row.addEventListener("click", () => {
    fleet.cursor = Math.max(0, fleet.shown.indexOf(device));
    location.hash = link.getAttribute("href");
  });
  return row;
}

function fleetKeys(event) {
  const scroll = $("fleet-scroll");
  const page = Math.max(1, Math.floor(scroll.clientHeight / ROW_HEIGHT) - 1);
  const moves = {ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page,
                 Home: -Infinity, End: Infinity};
  if (event.key in moves) {
    event.preventDefault();
    const next = fleet.cursor + moves[event.key];
    fleet.cursor = Math.max(0, Math.min(fleet.shown.length - 1,
                                        Number.isFinite(next) ? next : (next > 0 ? Infinity : 0)));
    if (!Number.isFinite(fleet.cursor)) fleet.cursor = fleet.shown.length - 1;
    const top = fleet.cursor * ROW_HEIGHT;
    if (top < scroll.scrollTop) scroll.scrollTop = top;
    else if (top + ROW_HEIGHT > scroll.scrollTop + scroll.clientHeight) {
      scroll.scrollTop = top + ROW_HEIGHT - scroll.clientHeight;
    }
    renderFleet();
  } else if (event.key === "Enter" && fleet.shown[fleet.cursor]) {
    event.preventDefault();
    location.hash = `#/device/${encodeURIComponent(fleet.shown[fleet.cursor].name)}`;
  }
}

// ---------------------------------------------------------------- a device

const device = {
  name: null,
  session: null,
  tree: null,
  selected: null,
  notifications: 0,
  generation: 0,     // which opening the callbacks belong to
};

function showReply(label, reply) {
  $("diff").hidden = true;
  $("reply-meta").textContent = `${label}: ${reply.errors.length ? "rpc-error" : "reply"} in ` +
                                `${reply.ms.toFixed(0)} ms`;
  $("reply").textContent = clip(pretty(reply.doc));
  showErrors(reply.errors);
}

function showErrors(errors) {
  const box = $("errors");
  box.replaceChildren();
  for (const error of errors) {
    const facts = h("dl", {class: "facts"});
    const add = (term, value, cls) => {
      if (value === undefined || value === "") return;
      facts.append(h("dt", {text: term}), h("dd", {class: cls || "", text: value}));
    };
    add("type", error.type);
    add("severity", error.severity);
    add("app-tag", error["app-tag"]);
    add("path", error.path, "error-path");
    add("message", error.message, "error-message");
    add("info", error.info);
    const card = h("div", {class: "error-card"},
                   h("div", {class: "error-tag", text: error.tag || "rpc-error"}), facts);
    if (error.path && device.tree) {
      const found = device.tree.highlight(error.path);
      card.append(h("p", {class: "muted small",
                          text: found ? `highlighted in the tree: ${found}`
                                      : "(the path is not in the tree shown)"}));
    }
    box.append(card);
  }
}

function showMessage(text) {
  $("reply-meta").textContent = "";
  $("errors").replaceChildren(h("div", {class: "error-card"},
                                h("div", {class: "error-tag", text: "console"}),
                                h("p", {text})));
}

async function openDevice(name) {
  if (device.name === name && device.session && !device.session.closed) return;
  await closeDevice();
  const generation = ++device.generation;
  device.name = name;
  delete document.body.dataset.subscribed;
  device.notifications = 0;
  $("notif-count").textContent = "0";
  $("notif-log").replaceChildren();
  $("tree").replaceChildren();
  $("reply").textContent = "";
  $("reply-meta").textContent = "";
  $("errors").replaceChildren();
  $("diff").hidden = true;
  $("journal").replaceChildren();
  $("dev-name").textContent = name;
  $("nav-device").textContent = name;
  $("nav-device").href = `#/device/${encodeURIComponent(name)}`;
  $("nav-device-wrap").hidden = false;
  $("sel-path").textContent = "nothing (click a node in the tree)";
  device.selected = null;
  device.tree = new DataTree($("tree"), (xml, path) => {
    device.selected = xml;
    $("sel-path").textContent = path;
    if (isLeaf(xml)) $("req-value").value = xml.textContent;
  });
  try {
    const detail = await api(`/api/devices/${encodeURIComponent(name)}`);
    if (generation !== device.generation) return;
    $("dev-profile").textContent = detail.profile;
    $("dev-status").textContent = detail.status;
    $("dev-description").textContent = detail.description || "";
    setStatus(name, detail.status);
    updateSummary(detail);
    if (detail.status === "rebooting" || detail.status === "unreachable") {
      $("dev-session").textContent = `the device is ${detail.status}: Reconnect once it is up`;
      return;
    }
  } catch (exc) {
    $("dev-session").textContent = exc.message;
    return;
  }
  await connectDevice(generation);
}

async function connectDevice(generation) {
  const name = device.name;
  $("dev-session").textContent = "connecting...";
  const session = new NetconfSession(name, {
    onNotification: ({doc}) => {
      if (generation !== device.generation) return;
      logNotification(doc);
      fleetNotification(name, doc);
    },
    onClose: (event) => {
      if (generation !== device.generation) return;
      $("dev-session").textContent = `session closed (${event.code}` +
        `${event.reason ? ": " + event.reason : ""})`;
      document.body.dataset.session = "closed";
      if (event.code === 1012 && event.reason === "device reboot") setStatus(name, "rebooting");
      journalSoon();
    },
  });
  device.session = session;
  try {
    await session.open();
  } catch (exc) {
    if (generation === device.generation) $("dev-session").textContent = exc.message;
    return;
  }
  if (generation !== device.generation) { session.close(); return; }
  $("dev-session").textContent = `session ${session.sessionId}`;
  document.body.dataset.session = "open";
  $("dev-cap-count").textContent = String(session.capabilities.length);
  $("dev-caps").replaceChildren(...session.capabilities.map((c) => h("li", {text: c})));
  $("dev-hello").textContent = pretty(new DOMParser().parseFromString(session.helloText,
                                                                      "application/xml"));
  await loadTree("get-config", "running");
  // with :interleave, one session both subscribes and takes requests (RFC 5277 6)
  if (session.capabilities.some((c) => c.startsWith("urn:ietf:params:netconf:capability:interleave:"))) {
    const reply = await send("create-subscription", () => subscription(session));
    if (reply && reply.ok && generation === device.generation) document.body.dataset.subscribed = name;
  }
  journalSoon();
}

async function closeDevice() {
  device.generation++;
  const session = device.session;
  device.session = null;
  device.name = null;
  if (session) await session.close();
}

function logNotification(doc) {
  device.notifications++;
  $("notif-count").textContent = String(device.notifications);
  const [event, time] = eventOf(doc);
  const item = h("li", {class: "notification"},
                 h("span", {class: "time", text: time}), " ",
                 h("strong", {text: event ? event.localName : "(empty)"}), " ",
                 h("span", {class: "muted",
                            text: event ? kids(event).filter(isLeaf)
                              .map((c) => `${c.localName}=${c.textContent}`).join(" ") : ""}));
  const details = h("details", {}, h("summary", {text: "XML"}),
                    h("pre", {class: "xml", text: clip(pretty(doc))}));
  item.append(details);
  const log = $("notif-log");
  log.prepend(item);
  while (log.children.length > 500) log.lastElementChild.remove();
}

/** Send a request built by build() (a document) and show its reply. */
async function send(label, build) {
  const session = device.session;
  if (!session || session.closed) {
    showMessage("no session: press Reconnect");
    return null;
  }
  let reply;
  try {
    reply = await session.rpc(build());
  } catch (exc) {
    showMessage(`${label}: ${exc.message}`);
    return null;
  }
  showReply(label, reply);
  journalSoon();
  return reply;
}

function store() {
  return $("req-store").value;
}

function filterFromSelection(doc) {
  if (!$("req-use-filter").checked || !device.selected || !device.tree) return null;
  const [top] = device.tree.skeleton(doc, device.selected);
  const filter = el(doc, NC, "filter", top);
  filter.setAttribute("type", "subtree");
  return filter;
}

function subscription(session) {
  const doc = session.request();
  doc.documentElement.append(el(doc, NCEV, "create-subscription"));
  return doc;
}

async function loadTree(operation, source, filtered = false) {
  const session = device.session;
  if (!session) return;
  const reply = await send(operation === "get" ? "get" : `get-config ${source}`, () => {
    const doc = session.request();
    const op = operation === "get" ? el(doc, NC, "get")
                                   : el(doc, NC, "get-config", el(doc, NC, "source", el(doc, NC, source)));
    const filter = filtered ? filterFromSelection(doc) : null;
    if (filter) op.append(filter);
    doc.documentElement.append(op);
    return doc;
  });
  if (!reply || reply.errors.length) return;
  const data = child(reply.doc.documentElement, "data");
  if (!data) return;
  device.tree.render(data);
  $("sel-path").textContent = "nothing (click a node in the tree)";
  device.selected = null;
  $("tree-source").textContent = `${operation === "get" ? "get" : "get-config " + source}` +
    `${filtered ? " (filtered)" : ""}`;
}

const REQUESTS = {
  "get": () => loadTree("get", null, true),
  "get-config": () => loadTree("get-config", store(), true),
  "lock": () => simple("lock", (doc) => el(doc, NC, "lock", el(doc, NC, "target", el(doc, NC, store())))),
  "unlock": () => simple("unlock", (doc) => el(doc, NC, "unlock", el(doc, NC, "target", el(doc, NC, store())))),
  "validate": () => simple("validate", (doc) => el(doc, NC, "validate", el(doc, NC, "source", el(doc, NC, store())))),
  "discard-changes": () => simple("discard-changes", (doc) => el(doc, NC, "discard-changes")),
  "commit": () => simple("commit", (doc) => el(doc, NC, "commit")),
  "confirmed-commit": () => simple("confirmed commit", (doc) => el(doc, NC, "commit",
    el(doc, NC, "confirmed"), el(doc, NC, "confirm-timeout", String(Number($("req-timeout").value) || 600)))),
  "cancel-commit": () => simple("cancel-commit", (doc) => el(doc, NC, "cancel-commit")),
  "create-subscription": () => send("create-subscription", () => subscription(device.session)),
  "edit-config": editLeaf,
};

function simple(label, build) {
  const session = device.session;
  if (!session) return showMessage("no session: press Reconnect");
  return send(label, () => {
    const doc = session.request();
    doc.documentElement.append(build(doc));
    return doc;
  });
}

function editLeaf() {
  const session = device.session;
  const leaf = device.selected;
  if (!session) return showMessage("no session: press Reconnect");
  if (!leaf || !isLeaf(leaf)) return showMessage("select a leaf in the tree first");
  const value = $("req-value").value;
  return send(`edit-config ${store()}`, () => {
    const doc = session.request();
    const [top, copy] = device.tree.skeleton(doc, leaf);
    copy.textContent = value;
    // an identity's prefix keeps the meaning it has on the device's leaf
    const prefix = /^([A-Za-z_][\w.-]*):/.exec(value)?.[1];
    const ns = prefix ? leaf.lookupNamespaceURI(prefix) : null;
    if (ns) copy.setAttributeNS("http://www.w3.org/2000/xmlns/", `xmlns:${prefix}`, ns);
    doc.documentElement.append(el(doc, NC, "edit-config",
                                  el(doc, NC, "target", el(doc, NC, store())),
                                  el(doc, NC, "config", top)));
    return doc;
  });
}

async function showDiff() {
  const session = device.session;
  if (!session) return showMessage("no session: press Reconnect");
  const read = async (source) => {
    const doc = session.request();
    doc.documentElement.append(el(doc, NC, "get-config", el(doc, NC, "source", el(doc, NC, source))));
    const reply = await session.rpc(doc);
    if (reply.errors.length) throw new Error(`get-config ${source}: ${reply.errors[0].message}`);
    const data = child(reply.doc.documentElement, "data");
    return kids(data).map((c) => pretty(c)).join("\n").split("\n");
  };
  let running;
  let candidate;
  try {
    [running, candidate] = await Promise.all([read("running"), read("candidate")]);
  } catch (exc) {
    return showMessage(`diff: ${exc.message}`);
  }
  const box = $("diff");
  box.replaceChildren();
  const changes = hunks(lineDiff(running, candidate));
  const changed = changes.filter((d) => d && d.op !== " ").length;
  box.append(h("p", {class: "diff-title",
                     text: changed ? `running -> candidate: ${changed} line(s) differ`
                                   : "running and candidate are the same"}));
  const pre = h("pre", {class: "xml"});
  for (const d of changes) {
    pre.append(d === null ? h("span", {class: "gap", text: "  ...\n"})
                          : h("span", {class: d.op === "+" ? "add" : d.op === "-" ? "del" : "ctx",
                                       text: `${d.op} ${d.line}\n`}));
  }
  box.append(pre);
  box.hidden = false;
  $("errors").replaceChildren();
  $("reply").textContent = "";
  $("reply-meta").textContent = "diff";
}

async function sendRaw() {
  const session = device.session;
  if (!session) return showMessage("no session: press Reconnect");
  const text = $("raw-xml").value;
  let reply;
  try {
    reply = await session.rpc(text);
  } catch (exc) {
    return showMessage(`raw: ${exc.message}`);
  }
  showReply("raw", reply);
  const data = child(reply.doc.documentElement, "data");
  if (data && !reply.errors.length) {
    device.tree.render(data);
    $("tree-source").textContent = "raw request";
  }
  journalSoon();
}

let journalTimer = 0;
function journalSoon() {
  clearTimeout(journalTimer);
  journalTimer = setTimeout(loadJournal, 300);
}

async function loadJournal() {
  const name = device.name;
  if (!name) return;
  let journal;
  try {
    journal = await api(`/api/devices/${encodeURIComponent(name)}/journal?limit=100`);
  } catch (exc) {
    $("journal").replaceChildren(h("p", {class: "muted", text: exc.message}));
    return;
  }
  if (name !== device.name) return;
  const rows = journal.entries.slice().reverse().map((e) => {
    const message = e.text.length > 300
      ? h("details", {}, h("summary", {}, h("code", {class: "journal-text", text: e.text.slice(0, 300) + " ..."})),
          h("pre", {class: "xml", text: clip(e.text)}))
      : h("code", {class: "journal-text", text: e.text});
    return h("tr", {class: `dir-${e.direction}`},
             h("td", {text: String(e.seq)}), h("td", {class: "time", text: e.time}),
             h("td", {text: e.direction === "in" ? "\u2192 device" : "\u2190 device"}),
             h("td", {text: String(e.session ?? "")}), h("td", {}, message));
  });
  $("journal").replaceChildren(h("table", {class: "list"},
    h("thead", {}, h("tr", {}, ...["seq", "time", "", "session", "message"].map((t) => h("th", {text: t})))),
    h("tbody", {}, ...rows)));
}

// ---------------------------------------------------------------- drills

const drill = {scenarios: [], run: null, source: null, poll: 0, entries: 0};

async function loadScenarios() {
  try {
    const answer = await api("/api/scenarios");
    drill.scenarios = answer.scenarios || [];
  } catch (exc) {
    $("drill-message").textContent = exc.status === 404
      ? "This server has no scenario engine (GET /api/scenarios: 404)."
      : `scenarios: ${exc.message}`;
    $("drill-start").disabled = true;
    return;
  }
  const select = $("drill-scenario");
  select.replaceChildren(...drill.scenarios.map((s) => h("option", {value: s.name, text: s.name})));
  describeScenario();
}

function describeScenario() {
  const scenario = drill.scenarios.find((s) => s.name === $("drill-scenario").value);
  $("drill-description").textContent = scenario
    ? `${scenario.description || ""} (${scenario.steps} steps, ${scenario.duration} s)` : "";
}

async function startDrill() {
  const body = {scenario: $("drill-scenario").value};
  const speed = Number($("drill-speed").value);
  if (speed && speed !== 1) body.speed = speed;
  const seed = $("drill-seed").value.trim();
  if (seed !== "") body.seed = Number(seed);
  let run;
  try {
    run = await api("/api/scenarios/runs", {method: "POST", body});
  } catch (exc) {
    $("drill-message").textContent = `could not start: ${exc.message}`;
    return;
  }
  drill.source?.close();
  clearInterval(drill.poll);
  drill.run = run;
  drill.entries = 0;
  $("drill-message").textContent = `started run ${run.id}`;
  $("drill-id").textContent = String(run.id);
  $("drill-timeline").replaceChildren();
  $("drill-stop").disabled = false;
  showRun(run);
  const source = new EventSource(`/api/scenarios/runs/${encodeURIComponent(run.id)}/stream`);
  drill.source = source;
  source.onmessage = (event) => {
    try { timelineEntry(JSON.parse(event.data)); } catch (exc) { /* not JSON: skipped */ }
  };
  source.addEventListener("end", () => { source.close(); pollRun(); });
  source.onerror = () => { source.close(); };
  drill.poll = setInterval(pollRun, 1000);
}

async function pollRun() {
  if (!drill.run) return;
  try {
    const run = await api(`/api/scenarios/runs/${encodeURIComponent(drill.run.id)}`);
    drill.run = run;
    showRun(run);
    if (run.state === "finished" || run.state === "stopped") {
      clearInterval(drill.poll);
      $("drill-stop").disabled = true;
      loadFleet().catch(() => {});
    }
  } catch (exc) {
    $("drill-message").textContent = exc.message;
  }
}

function showRun(run) {
  const scenario = drill.scenarios.find((s) => s.name === run.scenario);
  const facts = $("drill-status");
  const expectations = run.expectations || {};
  const rows = [
    ["scenario", run.scenario], ["state", run.state], ["seed", run.seed],
    ["drill time", run.drill_time != null ? `${Number(run.drill_time).toFixed(1)} s` +
      ((run.length || scenario?.duration) ? ` of ${run.length || scenario.duration} s` : "") : ""],
    ["events raised", run.events_raised], ["devices affected", run.devices_affected],
    ["expectations", `${expectations.met ?? 0} met, ${expectations.missed ?? 0} missed, ` +
                     `${expectations.open ?? 0} open`],
    ["verdict", run.verdict ?? "(not yet)"],
  ];
  facts.replaceChildren(...rows.flatMap(([term, value]) => [
    h("dt", {text: term}), h("dd", {"data-fact": term, text: value == null ? "" : String(value)})]));
  document.body.dataset.drillState = run.state || "";
  const length = run.length || scenario?.duration || 0;
  const fraction = length ? Math.min(1, (run.drill_time || 0) / length) : 0;
  $("drill-bar").style.width = `${(run.state === "finished" ? 1 : fraction) * 100}%`;
  if (run.verdict) $("drill-bar").className = run.verdict;
}

// What an event (or its undoing) does to a device's status on the fleet view,
// until the next summary read says otherwise.
const STATUS_AFTER = {
  "device-reboot": "rebooting", "device-unreachable": "unreachable", "device-hang": "hung",
};

/** One timeline entry: listed, and what an event did marked on the fleet. */
function timelineEntry(entry) {
  drill.entries++;
  const what = [entry.kind, entry.event || entry.state || ""].filter(Boolean).join(" ");
  const rest = Object.entries(entry)
    .filter(([k]) => !["t", "kind", "step", "event", "state"].includes(k))
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
  const verdict = entry.kind === "expect" && ["met", "missed", "open"].includes(entry.state)
    ? entry.state : "";
  const item = h("li", {class: `entry kind-${entry.kind} ${verdict}`,
                        "data-kind": entry.kind || "", "data-state": entry.state || ""},
                 h("span", {class: "time", text: `t=${Number(entry.t ?? 0).toFixed(1)}s`}), " ",
                 h("span", {class: "step", text: entry.step != null ? `#${entry.step}` : ""}), " ",
                 h("strong", {text: what}), " ", h("span", {class: "muted", text: rest}));
  const list = $("drill-timeline");
  list.append(item);
  while (list.children.length > 2000) list.firstElementChild.remove();
  item.scrollIntoView({block: "nearest"});
  const name = typeof entry.device === "string" ? entry.device : null;
  if (!name || !fleet.byName.has(name)) return;
  const undo = entry.kind === "undo";
  if (entry.kind !== "event" && !undo) return;
  if ((entry.event === "link-down" || entry.event === "link-up") &&
      typeof entry.interface === "string") {
    const up = (entry.event === "link-up") !== undo;
    setLink(name, entry.interface, up ? "up" : "down");
  } else if (entry.event in STATUS_AFTER) {
    setStatus(name, undo ? "up" : STATUS_AFTER[entry.event]);
  } else {
    markChanged(name);
  }
}

async function stopDrill() {
  if (!drill.run) return;
  try {
    await api(`/api/scenarios/runs/${encodeURIComponent(drill.run.id)}/stop`,
              {method: "POST", body: {restore: $("drill-restore").checked}});
  } catch (exc) {
    $("drill-message").textContent = `stop: ${exc.message}`;
  }
  pollRun();
}

// ---------------------------------------------------------------- routing

function show(view) {
  for (const id of ["view-fleet", "view-device", "view-drill"]) $(id).hidden = id !== `view-${view}`;
  const slot = view === "drill" ? $("drill-fleet-slot") : $("view-fleet");
  if ($("fleet").parentElement !== slot) slot.append($("fleet"));
  document.body.dataset.view = view;
  for (const [id, name] of [["nav-fleet", "fleet"], ["nav-drill", "drill"]]) {
    if (name === view) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
}

async function route() {
  const hash = location.hash || "#/fleet";
  const match = /^#\/device\/(.+)$/.exec(hash);
  if (match) {
    show("device");
    let name;
    try {
      name = decodeURIComponent(match[1]);
    } catch (e) {        // (a hand-typed "#/device/%": not a name)
      location.hash = "#/fleet";
      return;
    }
    await openDevice(name);
    return;
  }
  if (hash === "#/drill") {
    show("drill");
    renderFleet();
    if (!drill.scenarios.length) await loadScenarios();
  } else {
    show("fleet");
    renderFleet();
    $("fleet-scroll").focus({preventScroll: true});
  }
}

function wire() {
  $("fleet-pool-max").textContent = String(POOL_MAX);
  let searchTimer = 0;
  $("fleet-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { $("fleet-scroll").scrollTop = 0; applyFilter(); }, 80);
  });
  for (const id of ["fleet-profile", "fleet-status", "fleet-down"]) {
    $(id).addEventListener("change", () => { $("fleet-scroll").scrollTop = 0; applyFilter(); });
  }
  $("fleet-scroll").addEventListener("scroll", renderFleetSoon, {passive: true});
  $("fleet-scroll").addEventListener("keydown", fleetKeys);
  window.addEventListener("resize", renderFleetSoon);
  document.addEventListener("keydown", (event) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || "");
    if (event.key === "/" && !typing && document.body.dataset.view !== "device") {
      event.preventDefault();
      $("fleet-search").focus();
    }
  });
  for (const button of document.querySelectorAll("[data-rpc]")) {
    button.addEventListener("click", () => REQUESTS[button.dataset.rpc]());
  }
  $("tree-config").addEventListener("click", () => loadTree("get-config", "running"));
  $("tree-candidate").addEventListener("click", () => loadTree("get-config", "candidate"));
  $("tree-all").addEventListener("click", () => loadTree("get", null));
  $("req-diff").addEventListener("click", showDiff);
  $("raw-send").addEventListener("click", sendRaw);
  $("raw-xml").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); sendRaw(); }
  });
  $("req-value").addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); editLeaf(); }
  });
  $("notif-clear").addEventListener("click", () => {
    device.notifications = 0;
    $("notif-count").textContent = "0";
    $("notif-log").replaceChildren();
  });
  $("journal-refresh").addEventListener("click", loadJournal);
  $("dev-reconnect").addEventListener("click", () => {
    let name = device.name;
    try {
      name = name || decodeURIComponent((/^#\/device\/(.+)$/.exec(location.hash) || [])[1] || "");
    } catch (e) {
      name = "";
    }
    if (!name) return;
    closeDevice().then(() => openDevice(name));
  });
  $("drill-scenario").addEventListener("change", describeScenario);
  $("drill-start").addEventListener("click", startDrill);
  $("drill-stop").addEventListener("click", stopDrill);
  window.addEventListener("hashchange", () => {
    if (!/^#\/device\//.test(location.hash)) closeDevice();
    route();
  });
  window.addEventListener("pagehide", () => closeDevice());
}

async function main() {
  wire();
  try {
    await loadFleet();
  } catch (exc) {
    $("server-status").textContent = `cannot read the fleet: ${exc.message}`;
  }
  const refresh = () => {
    const pause = Math.max(REFRESH_MS, REFRESH_MS_PER_DEVICE * fleet.devices.length);
    setTimeout(async () => {
      if (document.visibilityState === "visible") await loadFleet().catch(() => {});
      refresh();
    }, pause);
  };
  refresh();
  await route();
  document.body.dataset.readyMs = performance.now().toFixed(1);   // since navigation began
  document.body.dataset.ready = "true";
}

main();
