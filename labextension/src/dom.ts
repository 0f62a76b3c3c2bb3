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

/** Key/value pairs as a definition list (a Node value is placed as it is, anything else as text). */
export function facts(pairs: [string, unknown][]): HTMLElement {
  const dl = h('dl', { class: 'jp-mlops-facts' });
  for (const [k, v] of pairs) {
    dl.appendChild(h('dt', {}, k));
    dl.appendChild(h('dd', {}, v instanceof Node ? v : text(v)));
  }
  return dl;
}

export function clear(node: HTMLElement): void {
  while (node.firstChild) {
    node.removeChild(node.firstChild);
  }
}

const pad = (n: number, width = 2) => String(Math.abs(Math.trunc(n))).padStart(width, '0');

/**
 * One timestamp format everywhere: ISO 8601 in the viewer's local time with its offset
 * (``2026-12-01T17:57+01:00``); the UTC instant is the element's tooltip. Unparseable or empty
 * input is shown as given (or "unknown").
 */
export function isoLocal(value: string | null | undefined): string {
  if (!value) {
    return '';
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    return String(value);
  }
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}` +
    `${sign}${pad(offset / 60)}:${pad(offset % 60)}`
  );
}

/** A <time> element: local ISO 8601 with zone, the UTC instant on hover. */
export function stamp(value: string | null | undefined): HTMLElement {
  const shown = isoLocal(value);
  const date = value ? new Date(value) : null;
  const utc = date && !Number.isNaN(date.getTime()) ? date.toISOString().replace('.000Z', 'Z') : '';
  const node = h('time', { class: 'jp-mlops-time', title: utc ? `UTC ${utc}` : '' }, shown || 'unknown');
  if (utc) {
    node.setAttribute('datetime', utc);
  }
  return node;
}

/** A small status chip (``FINISHED``, ``pending`` ...), coloured by tone. */
export function chip(label: string): HTMLElement {
  const tone =
    /^(FINISHED|approved|passed|ok|SUCCEEDED)$/.test(label) ? 'good'
    : /^(FAILED|rejected|failed|KILLED|broken)$/.test(label) ? 'bad'
    : /^(pending|RUNNING)$/.test(label) ? 'wait'
    : 'plain';
  return h('span', { class: `jp-mlops-chip jp-mlops-tone-${tone}` }, label);
}

/**
 * A two-line list row for a narrow panel: a title line (main label and an aside such as a status
 * chip or a button) and a muted line of facts that wraps instead of scrolling sideways.
 */
export function row(
  title: Child,
  aside: Child[],
  meta: Child[],
  attrs: { class?: string; data?: Record<string, string> } = {}
): HTMLElement {
  const parts: Child[] = [];
  meta.filter(m => m !== null && m !== undefined && m !== false && m !== '').forEach((m, i) => {
    if (i) {
      parts.push(h('span', { class: 'jp-mlops-sep' }, ' \u00b7 '));
    }
    parts.push(m);
  });
  return h(
    'li',
    { class: `jp-mlops-row ${attrs.class ?? ''}`.trim(), data: attrs.data },
    h('div', { class: 'jp-mlops-row-title' }, h('span', { class: 'jp-mlops-row-main' }, title), ...aside),
    parts.length ? h('div', { class: 'jp-mlops-row-meta' }, ...parts) : null
  );
}

/** A list of rows, or a muted note when there are none. */
export function rows(items: HTMLElement[], empty: string, cls = ''): HTMLElement {
  return items.length
    ? h('ul', { class: `jp-mlops-rows ${cls}`.trim() }, ...items)
    : h('p', { class: 'jp-mlops-empty' }, empty);
}

/** A number with 4 significant digits, and an interval when given. */
export function num(value: unknown, low?: unknown, high?: unknown): string {
  if (typeof value !== 'number') {
    return value === null || value === undefined ? 'unknown' : String(value);
  }
  const f = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4).replace(/\.?0+$/, ''));
  return typeof low === 'number' && typeof high === 'number' ? `${f(value)} [${f(low)}, ${f(high)}]` : f(value);
}
