// Small DOM helpers. Everything shown goes through textContent: agent ids, model names and errors
// come from agents and clients, and must never be read as HTML.
export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string | null,
  className?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** A table row whose cells carry their column's label (phones show rows as labelled cards). */
export function row(table: HTMLTableElement, cells: (string | Node)[], key?: string) {
  const labels = [...table.querySelectorAll('thead th')].map((th) => th.textContent ?? '');
  const tr = el('tr');
  if (key !== undefined) tr.dataset.key = key;
  cells.forEach((cell, i) => {
    const td = el('td');
    td.dataset.label = labels[i] ?? '';
    if (typeof cell === 'string') td.textContent = cell;
    else td.append(cell);
    tr.append(td);
  });
  return tr;
}

export function replaceRows(table: HTMLTableElement, rows: HTMLTableRowElement[], empty: string) {
  const body = table.tBodies[0];
  if (!body) return;
  if (rows.length === 0) {
    const td = el('td', empty, 'note');
    td.colSpan = table.querySelectorAll('thead th').length;
    const tr = el('tr');
    tr.append(td);
    body.replaceChildren(tr);
  } else body.replaceChildren(...rows);
}

export function badge(text: string, kind: string) {
  return el('span', text, `${kind}-${text}`);
}

/** Any JSON value as nested key/value lists. */
export function keyValues(value: unknown): Node {
  if (Array.isArray(value)) {
    if (value.length === 0) return el('span', '[]');
    const list = el('ol');
    for (const item of value) {
      const li = el('li');
      li.append(keyValues(item));
      list.append(li);
    }
    return list;
  }
  if (value !== null && typeof value === 'object') {
    const dl = el('dl', null, 'kv');
    for (const [k, v] of Object.entries(value)) {
      const dd = el('dd');
      dd.append(keyValues(v));
      dl.append(el('dt', k), dd);
    }
    return dl;
  }
  return el('span', value === null ? '—' : String(value));
}

export const fmt = {
  ms: (v: number | null) =>
    v === null ? '—' : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(2)} s`,
  rate: (v: number | null) => (v === null ? '—' : v.toFixed(1)),
  bytes(v: number | null) {
    if (v === null || v <= 0) return '—';
    const gib = v / 2 ** 30;
    return gib >= 1 ? `${gib.toFixed(1)} GiB` : `${Math.round(v / 2 ** 20)} MiB`;
  },
  ago(ms: number) {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
  },
  time: (iso: string) => new Date(iso).toLocaleTimeString(),
};
