/**
 * DOM helpers that only ever write text.
 *
 * Every string that comes from the API (names, parameters, tags, card text, comments) is user
 * controlled, so it is set with textContent, never innerHTML, and never becomes a URL.
 */

export type Child = Node | string | null | undefined | false;

/** Create an element with a class name and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: { class?: string; title?: string; data?: Record<string, string> } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (attrs.class) {
    node.className = attrs.class;
  }
  if (attrs.title) {
    node.title = attrs.title;
  }
  for (const [key, value] of Object.entries(attrs.data ?? {})) {
    node.dataset[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.appendChild(
      typeof child === 'string' ? document.createTextNode(child) : child
    );
  }
  return node;
}

/** Any value as display text (objects as compact JSON). */
export function text(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  }
  if (typeof value === 'object') {
    return JSON.stringify(value);
  }
  return String(value);
}

/** A table with a header row; cells are text. */
export function table(
  columns: string[],
  rows: Child[][],
  cls = 'jp-mlops-table'
): HTMLTableElement {
  const head = h('tr', {}, ...columns.map(c => h('th', {}, c)));
  const body = rows.map(r =>
    h('tr', {}, ...r.map(c => h('td', typeof c === 'string' ? { title: c } : {}, c)))
  );
  return h('table', { class: cls }, h('thead', {}, head), h('tbody', {}, ...body));
}

/** Key/value pairs as a definition list. */
export function facts(pairs: [string, unknown][]): HTMLElement {
  const dl = h('dl', { class: 'jp-mlops-facts' });
  for (const [k, v] of pairs) {
    dl.appendChild(h('dt', {}, k));
    dl.appendChild(h('dd', {}, text(v)));
  }
  return dl;
}

export function clear(node: HTMLElement): void {
  while (node.firstChild) {
    node.removeChild(node.firstChild);
  }
}
