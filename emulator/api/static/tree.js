// The data tree: a device's configuration and state as nested containers, its
// lists as tables, every node selectable (for a filter or an edit) and findable
// by an error-path. Built with createElement and textContent only: device data
// never becomes markup.

import {el, kids} from "./netconf.js";

/** Does an element hold only text (a leaf or a leaf-list entry)? */
export function isLeaf(node) {
  return node.children.length === 0;
}

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const c of children) {
    if (c == null) continue;
    node.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

/** Group an element's children into runs of the same name (order kept). */
function groups(node) {
  const out = [];
  const byName = new Map();
  for (const c of kids(node)) {
    const id = `{${c.namespaceURI}}${c.localName}`;
    let group = byName.get(id);
    if (!group) {
      group = [];
      byName.set(id, group);
      out.push(group);
    }
    group.push(c);
  }
  return out;
}

/** A list, without the schema: entries with children, several of them, or one
 *  whose first child is a leaf named like a key. */
function isList(group) {
  if (group.some(isLeaf)) return false;
  if (group.length > 1) return true;
  const first = group[0].children[0];
  return !!first && isLeaf(first) && /^(name|id|index|key|ip|address)$/.test(first.localName);
}

function quote(value) {
  return value.includes("'") ? `"${value}"` : `'${value}'`;
}

/** The tree: render(container, dataElement, onSelect) draws it and indexes every
 *  node by its path (local names, list entries with their first key). */
export class DataTree {
  constructor(container, onSelect) {
    this.container = container;
    this.onSelect = onSelect;
    this.byPath = new Map();        // path -> DOM node
    this.element = new WeakMap();   // DOM button -> XML element
    this.keyOf = new WeakMap();     // list entry (XML) -> its key leaf (XML)
    this.domOf = new WeakMap();     // XML element -> DOM node
    this.selected = null;
  }

  render(data) {
    this.byPath.clear();
    this.container.replaceChildren();
    this.selected = null;
    const top = h("div", {class: "tree-root"});
    for (const group of groups(data)) top.append(this._group(group, ""));
    if (!data.children.length) top.append(h("p", {class: "muted"}, "(no data)"));
    this.container.append(top);
  }

  _select(button, xml) {
    return (event) => {
      event.preventDefault();
      this.container.querySelectorAll(".selected-node").forEach((n) => n.classList.remove("selected-node"));
      button.classList.add("selected-node");
      this.selected = xml;
      this.onSelect(xml, this.pathOf(xml));
    };
  }

  _button(xml, label, cls = "sel") {
    const button = h("button", {type: "button", class: cls}, label);
    button.addEventListener("click", this._select(button, xml));
    this.element.set(button, xml);
    return button;
  }

  _index(path, dom, xml) {
    if (!this.byPath.has(path)) this.byPath.set(path, dom);
    if (xml) this.domOf.set(xml, dom);
  }

  _group(group, parentPath) {
    const name = group[0].localName;
    if (group.every(isLeaf)) {
      const wrap = h("div", {class: "leafs"});
      for (const leaf of group) wrap.append(this._leaf(leaf, parentPath));
      return wrap;
    }
    if (isList(group)) return this._list(group, parentPath);
    const wrap = h("div");
    for (const node of group) {
      const path = `${parentPath}/${name}`;
      const details = h("details", {class: "node", open: ""});
      const summary = h("summary", {}, this._button(node, name),
                        h("span", {class: "ns"}, node.namespaceURI || ""));
      details.append(summary);
      for (const g of groups(node)) details.append(this._group(g, path));
      this._index(path, details, node);
      wrap.append(details);
    }
    return wrap;
  }

  _leaf(leaf, parentPath) {
    const path = `${parentPath}/${leaf.localName}`;
    const row = h("div", {class: "leaf"}, this._button(leaf, leaf.localName), " ",
                  h("span", {class: "value"}, leaf.textContent));
    this._index(path, row, leaf);
    return row;
  }

  _list(entries, parentPath) {
    const name = entries[0].localName;
    const listPath = `${parentPath}/${name}`;
    // columns: every leaf child's name, in order of first appearance
    const columns = [];
    for (const entry of entries) {
      for (const c of kids(entry)) {
        if (isLeaf(c) && !columns.includes(c.localName)) columns.push(c.localName);
      }
    }
    const anyNested = entries.some((e) => kids(e).some((c) => !isLeaf(c)));
    const head = h("tr", {}, ...columns.map((c) => h("th", {scope: "col"}, c)),
                   anyNested ? h("th", {scope: "col"}, "more") : null);
    const body = h("tbody");
    for (const entry of entries) {
      const key = kids(entry).find(isLeaf) || null;
      if (key) this.keyOf.set(entry, key);
      const entryPath = key ? `${listPath}[${key.localName}=${quote(key.textContent)}]` : listPath;
      const row = h("tr");
      for (const column of columns) {
        const leaves = kids(entry).filter((c) => c.localName === column && isLeaf(c));
        const cell = h("td");
        for (const leaf of leaves) {
          const isKey = leaf === key;
          // the key's cell selects the entry; other cells their leaf
          const button = this._button(isKey ? entry : leaf, leaf.textContent || "\u00a0",
                                      isKey ? "sel key" : "sel cell");
          cell.append(button);
          if (!isKey) this._index(`${entryPath}/${leaf.localName}`, cell, leaf);
        }
        row.append(cell);
      }
      if (anyNested) {
        const nested = kids(entry).filter((c) => !isLeaf(c));
        const cell = h("td");
        if (nested.length) {
          const details = h("details", {class: "nested"});
          details.append(h("summary", {}, nested.map((n) => n.localName)
            .filter((n, i, all) => all.indexOf(n) === i).join(", ")));
          for (const g of groups(entry)) {
            if (g.every(isLeaf)) continue;
            details.append(this._group(g, entryPath));
          }
          cell.append(details);
        }
        row.append(cell);
      }
      this._index(entryPath, row, entry);
      body.append(row);
    }
    const table = h("table", {class: "list"}, h("thead", {}, head), body);
    const wrap = h("div", {class: "list-wrap"},
                   h("div", {class: "list-title"}, h("strong", {}, name),
                     ` (${entries.length} ${entries.length === 1 ? "entry" : "entries"}) `,
                     h("span", {class: "ns"}, entries[0].namespaceURI || "")),
                   table);
    this._index(listPath, wrap, null);
    return wrap;
  }

  /** A readable path of an XML element in the tree: /interfaces/interface[name='eth0']/mtu */
  pathOf(xml) {
    const steps = [];
    for (let node = xml; node && node.parentNode && node.parentNode.nodeType === 1 &&
         node.localName !== "data"; node = node.parentNode) {
      const key = this.keyOf.get(node);
      steps.unshift(key ? `${node.localName}[${key.localName}=${quote(key.textContent)}]`
                        : node.localName);
      if (node.parentNode.localName === "data" || node.parentNode.localName === "config") break;
    }
    return "/" + steps.join("/");
  }

  /** The chain of XML elements from the top of the data down to xml. */
  chain(xml) {
    const out = [];
    for (let node = xml; node && node.nodeType === 1 && node.localName !== "data" &&
         !(node.localName === "rpc-reply"); node = node.parentNode) out.unshift(node);
    return out;
  }

  /** A copy of the path down to xml, in doc, with each list entry's key: the
   *  skeleton of a subtree filter or of an edit. Returns [top, copyOfXml]. */
  skeleton(doc, xml) {
    let top = null;
    let parent = null;
    let copy = null;
    for (const node of this.chain(xml)) {
      copy = el(doc, node.namespaceURI, node.localName);
      const key = this.keyOf.get(node);
      if (key) copy.append(el(doc, key.namespaceURI, key.localName, key.textContent));
      if (parent) parent.append(copy);
      else top = copy;
      parent = copy;
    }
    return [top, copy];
  }

  /** Highlight the node an error-path names (or its nearest ancestor in the
   *  tree); returns the path found, or null. */
  highlight(errorPath) {
    this.container.querySelectorAll(".error-target").forEach((n) => n.classList.remove("error-target"));
    let steps = normalisePath(errorPath);
    while (steps.length) {
      const path = "/" + steps.join("/");
      const dom = this.byPath.get(path);
      if (dom) {
        dom.classList.add("error-target");
        for (let d = dom.parentElement; d; d = d.parentElement) {
          if (d.tagName === "DETAILS") d.open = true;
        }
        dom.scrollIntoView({block: "nearest"});
        return path;
      }
      steps = steps.slice(0, -1);
    }
    return null;
  }
}

/** An instance-identifier's steps without prefixes, each list step with its
 *  first key only: /if:interfaces/if:interface[if:name='eth0']/if:mtu ->
 *  ["interfaces", "interface[name='eth0']", "mtu"]. */
export function normalisePath(path) {
  const steps = [];
  let current = "";
  let depth = 0;
  let quoteChar = null;
  for (const ch of (path || "").trim()) {
    if (quoteChar) {
      current += ch;
      if (ch === quoteChar) quoteChar = null;
    } else if (ch === "'" || ch === '"') {
      quoteChar = ch;
      current += ch;
    } else if (ch === "[") {
      depth++;
      current += ch;
    } else if (ch === "]") {
      depth--;
      current += ch;
    } else if (ch === "/" && depth === 0) {
      if (current) steps.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  if (current) steps.push(current);
  return steps.map((step) => {
    const match = /^([^[]+)(\[(.*?)\])?/.exec(step);
    const name = match[1].replace(/^[^:]*:/, "").trim();
    const predicate = match[3];
    if (!predicate) return name;
    const keyMatch = /^\s*([^=\s]+)\s*=\s*(['"])(.*)\2\s*$/.exec(predicate);
    if (!keyMatch) return name;
    return `${name}[${keyMatch[1].replace(/^[^:]*:/, "")}=${quote(keyMatch[3])}]`;
  });
}
