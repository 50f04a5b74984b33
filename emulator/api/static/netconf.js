// NETCONF over WebSocket from the browser, as draft-iijima-netconf-websocket-ps
// describes: new WebSocket(url, "netconf"), one NETCONF message per WebSocket
// message, the server's <hello> first. Requests are built with the DOM and
// serialised with XMLSerializer; replies are parsed with DOMParser as XML
// (never as HTML: nothing a device sends is ever run or rendered as markup).

export const NC = "urn:ietf:params:xml:ns:netconf:base:1.0";
export const NCEV = "urn:ietf:params:xml:ns:netconf:notification:1.0";
export const EMEV = "urn:netconf-emulator:yang:events";
export const IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces";
const BASE10 = "urn:ietf:params:netconf:base:1.0";
const BASE11 = "urn:ietf:params:netconf:base:1.1";

/** The WebSocket URL of a device, on this page's own server (ws:// or wss://). */
export function deviceUrl(name) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/netconf/${encodeURIComponent(name)}`;
}

/** Parse XML text; a parse error is thrown, with the parser's message. */
export function parseXml(text) {
  const doc = new DOMParser().parseFromString(text, "application/xml");
  const error = doc.getElementsByTagName("parsererror")[0];
  if (error) throw new Error("not well-formed XML: " + error.textContent.trim().split("\n")[0]);
  return doc;
}

/** An element of namespace ns in doc, with children (elements or strings). */
export function el(doc, ns, name, ...children) {
  const node = doc.createElementNS(ns, name);
  for (const child of children) {
    if (child == null) continue;
    node.append(typeof child === "string" ? doc.createTextNode(child) : child);
  }
  return node;
}

/** Element children of node. */
export function kids(node) {
  return Array.from(node.children || []);
}

/** The first child element of node named localName (any namespace). */
export function child(node, localName) {
  return kids(node).find((c) => c.localName === localName) || null;
}

function escapeText(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function escapeAttr(s) {
  return escapeText(s).replace(/"/g, "&quot;");
}

function openTag(node) {
  let tag = "<" + node.tagName;
  for (const attr of Array.from(node.attributes)) tag += ` ${attr.name}="${escapeAttr(attr.value)}"`;
  return tag;
}

/** XML as indented text, for reading (shown with textContent, never as markup).
 *  Whitespace-only text between elements is dropped; other text is kept. */
export function pretty(node, indent = "") {
  if (node.nodeType === Node.DOCUMENT_NODE) return pretty(node.documentElement, indent);
  const elements = kids(node);
  const text = Array.from(node.childNodes)
    .filter((c) => c.nodeType === Node.TEXT_NODE || c.nodeType === Node.CDATA_SECTION_NODE)
    .map((c) => c.nodeValue).join("");
  if (elements.length === 0) {
    if (text === "") return `${indent}${openTag(node)}/>`;
    return `${indent}${openTag(node)}>${escapeText(text)}</${node.tagName}>`;
  }
  const lines = [`${indent}${openTag(node)}>`];
  for (const c of Array.from(node.childNodes)) {
    if (c.nodeType === Node.ELEMENT_NODE) lines.push(pretty(c, indent + "  "));
    else if ((c.nodeType === Node.TEXT_NODE || c.nodeType === Node.CDATA_SECTION_NODE) &&
             c.nodeValue.trim() !== "") lines.push(indent + "  " + escapeText(c.nodeValue.trim()));
    else if (c.nodeType === Node.COMMENT_NODE) lines.push(`${indent}  <!--${c.nodeValue}-->`);
  }
  lines.push(`${indent}</${node.tagName}>`);
  return lines.join("\n");
}

/** Every <rpc-error> of a reply as a plain object of its fields. */
export function rpcErrors(doc) {
  const found = [];
  for (const error of Array.from(doc.getElementsByTagNameNS(NC, "rpc-error"))) {
    const fields = {};
    for (const c of kids(error)) {
      const name = c.localName.replace(/^error-/, "");
      if (name === "info") {
        fields.info = kids(c).map((i) => `${i.localName}: ${i.textContent}`).join("; ");
      } else {
        fields[name] = c.textContent;
      }
    }
    found.push(fields);
  }
  return found;
}

/** A NETCONF session over WebSocket. Callbacks: onNotification({doc, text}),
 *  onClose({code, reason, clean}), onTraffic(direction, text). */
export class NetconfSession {
  constructor(device, callbacks = {}) {
    this.device = device;
    this.callbacks = callbacks;
    this.ws = null;
    this.sessionId = null;
    this.capabilities = [];
    this.helloText = "";
    this.pending = new Map();     // message-id -> {resolve, reject, timer, sent}
    this.nextId = 1;
    this.closed = false;
  }

  /** Open the WebSocket and exchange hellos; resolves once both are done. */
  open(timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (message) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new Error(message));
      };
      const timer = setTimeout(() => {
        fail(`${this.device}: no <hello> within ${timeoutMs / 1000} s`);
        this.abort();
      }, timeoutMs);
      let ws;
      try {
        ws = new WebSocket(deviceUrl(this.device), "netconf");
      } catch (exc) {
        fail(String(exc));
        return;
      }
      this.ws = ws;
      ws.onmessage = (event) => {
        const text = typeof event.data === "string" ? event.data : "";
        if (settled) { this._receive(text); return; }
        this._traffic("in", text);
        try {
          const doc = parseXml(text);
          if (doc.documentElement.localName !== "hello") throw new Error("expected <hello>");
          this.helloText = text;
          this.sessionId = child(doc.documentElement, "session-id")?.textContent || null;
          const caps = child(doc.documentElement, "capabilities");
          this.capabilities = caps ? kids(caps).map((c) => c.textContent.trim()) : [];
        } catch (exc) {
          fail(`${this.device}: bad hello: ${exc.message}`);
          this.abort();
          return;
        }
        this._send(this._hello());
        settled = true;
        clearTimeout(timer);
        resolve(this);
      };
      ws.onclose = (event) => {
        this.closed = true;
        fail(`${this.device}: the connection closed (${event.code}` +
             `${event.reason ? " " + event.reason : ""})`);
        for (const [, waiting] of this.pending) {
          clearTimeout(waiting.timer);
          waiting.reject(new Error(`session closed (${event.code} ${event.reason})`));
        }
        this.pending.clear();
        this.callbacks.onClose?.({code: event.code, reason: event.reason, clean: event.wasClean});
      };
      ws.onerror = () => {};   // (onclose follows, with the code)
    });
  }

  _hello() {
    const doc = document.implementation.createDocument(NC, "hello", null);
    const caps = el(doc, NC, "capabilities", el(doc, NC, "capability", BASE10),
                    el(doc, NC, "capability", BASE11));
    doc.documentElement.append(caps);
    return new XMLSerializer().serializeToString(doc);
  }

  _traffic(direction, text) {
    this.callbacks.onTraffic?.(direction, text);
  }

  _send(text) {
    this._traffic("out", text);
    this.ws.send(text);
  }

  _receive(text) {
    this._traffic("in", text);
    let doc;
    try {
      doc = parseXml(text);
    } catch (exc) {
      this.callbacks.onBadMessage?.(text, exc);
      return;
    }
    const root = doc.documentElement;
    if (root.localName === "notification") {
      this.callbacks.onNotification?.({doc, text});
      return;
    }
    const id = root.getAttribute("message-id");
    const waiting = this.pending.get(id);
    if (!waiting) {
      this.callbacks.onBadMessage?.(text, new Error(`a reply to no request (message-id ${id})`));
      return;
    }
    this.pending.delete(id);
    clearTimeout(waiting.timer);
    waiting.resolve({doc, text, ms: performance.now() - waiting.sent,
                     errors: rpcErrors(doc), ok: !!child(root, "ok")});
  }

  /** A new <rpc> document; build the operation with el(doc, ...) and pass it to send(). */
  request() {
    const doc = document.implementation.createDocument(NC, "rpc", null);
    return doc;
  }

  /** Send an <rpc> (a document from request(), or text: an operation or a whole <rpc>);
   *  resolves with the reply: {doc, text, ms, errors, ok}. */
  rpc(operation, timeoutMs = 30000) {
    let doc;
    if (typeof operation === "string") {
      // a whole <rpc> as it is; an operation inside an <rpc> of NETCONF's
      // namespace (so a plain <get> means NETCONF's, as in RFC 6241's examples)
      const text = operation.trim().replace(/^<\?xml[^>]*\?>\s*/, "");
      let whole = null;
      try { whole = parseXml(text); } catch (exc) { /* an operation, or not XML: below */ }
      const root = whole?.documentElement;
      doc = root && root.localName === "rpc" && root.namespaceURI === NC
        ? whole : parseXml(`<rpc xmlns="${NC}">${text}</rpc>`);
    } else if (operation.nodeType === Node.DOCUMENT_NODE) {
      doc = operation;
    } else {
      doc = operation.ownerDocument;
      if (operation.parentNode !== doc.documentElement) doc.documentElement.append(operation);
    }
    const rpc = doc.documentElement;
    let id = rpc.getAttribute("message-id");
    if (!id || this.pending.has(id)) {
      id = String(this.nextId++);
      rpc.setAttribute("message-id", id);
    }
    const text = new XMLSerializer().serializeToString(doc);
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error("the session is not open"));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to message-id ${id} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, {resolve, reject, timer, sent: performance.now()});
      this._send(text);
    });
  }

  /** Subscribe (RFC 5277) to the NETCONF stream; with localNames, only to those
   *  notifications of namespace ns (a subtree filter). */
  subscribe(ns = null, localNames = []) {
    const doc = this.request();
    const sub = el(doc, NCEV, "create-subscription");
    if (ns && localNames.length) {
      const filter = el(doc, NCEV, "filter", ...localNames.map((n) => el(doc, ns, n)));
      filter.setAttribute("type", "subtree");
      sub.append(filter);
    }
    doc.documentElement.append(sub);
    return this.rpc(doc);
  }

  /** <close-session>, then the WebSocket's own close; never throws. */
  async close() {
    if (!this.ws || this.closed) return;
    if (this.ws.readyState === WebSocket.OPEN) {
      try {
        const doc = this.request();
        doc.documentElement.append(el(doc, NC, "close-session"));
        await this.rpc(doc, 3000);
      } catch (exc) {
        // (closed already, or no answer: the WebSocket close below ends it)
      }
    }
    this.abort();
  }

  abort() {
    const ws = this.ws;
    if (!ws) return;
    if (ws.readyState === WebSocket.CONNECTING) {
      // (closing a socket still opening is logged by the browser as a failed
      // connection: let it open, then close it)
      ws.onopen = () => ws.close(1000, "closed by the console");
      ws.onmessage = null;
    } else if (ws.readyState === WebSocket.OPEN) {
      try { ws.close(1000, "closed by the console"); } catch (exc) { /* closing already */ }
    }
  }
}
