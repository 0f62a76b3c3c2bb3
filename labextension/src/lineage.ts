/**
 * Lineage as a story: the short left-to-right line a reviewer reads, and the full graph on demand.
 *
 * The story (``lineage.queries.story`` on the server) labels each step by name and version; ids,
 * hashes and object ids stay behind "details". The full graph is laid out in columns by kind of
 * node (cells and notebooks, data, runs, models, evaluations, cards, reviews, aliases), each node a
 * box in normal document flow, so labels never overlap; edges are listed per node as text.
 */
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from './api';
import { clear, facts, h, stamp } from './dom';

const KIND_LABEL: Record<string, string> = {
  cell: 'notebook cell',
  data: 'data',
  run: 'training run',
  model: 'model version',
  evaluation: 'evaluation',
  card: 'card',
  review: 'review',
  alias: 'alias',
  deployment: 'deployment'
};

/** Column order of the full graph, by node type. */
const COLUMNS = ['notebook', 'cell', 'object', 'data_version', 'run', 'model_version', 'evaluation', 'card', 'review', 'alias', 'deployment'];

/** A node id shown without a bare hex string: a story label if one names it, else type and a short id. */
function nodeLabel(node: string, labels: Map<string, string>): string {
  const known = labels.get(node);
  if (known) {
    return known;
  }
  const at = node.indexOf(':');
  const type = node.slice(0, at).replace(/_/g, ' ');
  const id = node.slice(at + 1);
  return /^[0-9a-f]{16,}$/.test(id) ? `${type} ${id.slice(0, 8)}\u2026` : `${type} ${id}`;
}

export function storyView(settings: ServerConnection.ISettings, story: any): HTMLElement {
  const steps: any[] = story?.steps ?? [];
  const line = h('ol', { class: 'jp-mlops-story' });
  steps.forEach(s => {
    line.append(
      h(
        'li',
        { class: `jp-mlops-step jp-mlops-step-${String(s.kind)}`, data: { kind: String(s.kind), status: String(s.status ?? '') } },
        h('span', { class: 'jp-mlops-step-kind' }, KIND_LABEL[s.kind] ?? String(s.kind)),
        h('span', { class: 'jp-mlops-step-label' }, String(s.label)),
        s.detail ? h('span', { class: 'jp-mlops-step-detail' }, String(s.detail)) : null
      )
    );
  });
  const details = h('div', { class: 'jp-mlops-story-details' });
  details.hidden = true;
  const toggle = h('button', { class: 'jp-mlops-button jp-mlops-story-toggle' }, 'Details');
  toggle.title = 'Ids, hashes and paths behind each step';
  toggle.onclick = () => {
    if (!details.childElementCount) {
      for (const s of steps) {
        const pairs = Object.entries(s.details ?? {}).map(([k, v]) => [k, v] as [string, unknown]);
        if (s.actor) {
          pairs.unshift(['by', s.actor]);
        }
        if (pairs.length || s.ts) {
          details.append(h('h4', {}, `${KIND_LABEL[s.kind] ?? s.kind}: ${s.label}`), ...(s.ts ? [stamp(s.ts)] : []), facts(pairs));
        }
      }
    }
    details.hidden = !details.hidden;
    toggle.textContent = details.hidden ? 'Details' : 'Hide details';
  };
  const graph = h('div', { class: 'jp-mlops-graph' });
  graph.hidden = true;
  const full = h('button', { class: 'jp-mlops-button jp-mlops-graph-toggle' }, 'Full graph');
  full.title = 'Every node connected to this model version';
  full.onclick = async () => {
    if (!graph.hidden) {
      graph.hidden = true;
      full.textContent = 'Full graph';
      return;
    }
    graph.hidden = false;
    full.textContent = 'Hide graph';
    if (graph.childElementCount) {
      return;
    }
    const root = steps.find(s => s.kind === 'model')?.node ?? `model_version:${story?.model}`;
    const at = String(root).indexOf(':');
    try {
      const g = await requestAPI<any>(settings, 'lineage', { type: root.slice(0, at), id: root.slice(at + 1) });
      renderGraph(graph, g, new Map(steps.filter(s => s.node).map(s => [String(s.node), String(s.label)])));
    } catch (err) {
      graph.append(h('p', { class: 'jp-mlops-error' }, String((err as Error)?.message ?? err)));
    }
  };
  return h(
    'div',
    { class: 'jp-mlops-story-view' },
    story?.summary ? h('p', { class: 'jp-mlops-story-summary' }, String(story.summary)) : null,
    steps.length ? line : h('p', { class: 'jp-mlops-empty' }, 'No lineage recorded.'),
    h('div', { class: 'jp-mlops-controls' }, toggle, full),
    details,
    graph
  );
}

function renderGraph(target: HTMLElement, g: any, labels: Map<string, string>): void {
  clear(target);
  const nodes: string[] = g.nodes ?? [];
  const edges: any[] = g.edges ?? [];
  const type = (n: string) => n.slice(0, n.indexOf(':'));
  const order = (t: string) => (COLUMNS.indexOf(t) < 0 ? COLUMNS.length : COLUMNS.indexOf(t));
  const types = Array.from(new Set(nodes.map(type))).sort((a, b) => order(a) - order(b));
  const grid = h('div', { class: 'jp-mlops-graph-columns' });
  for (const t of types) {
    const col = h('div', { class: 'jp-mlops-graph-col', data: { type: t } }, h('h4', {}, t.replace(/_/g, ' ')));
    for (const n of nodes.filter(x => type(x) === t)) {
      const out = edges.filter(e => `${e.src_type}:${e.src_id}` === n);
      col.append(
        h(
          'div',
          { class: 'jp-mlops-graph-node', title: n, data: { node: n } },
          h('span', { class: 'jp-mlops-step-label' }, nodeLabel(n, labels)),
          ...out.map(e =>
            h('span', { class: 'jp-mlops-graph-edge' }, `${String(e.relation).replace(/_/g, ' ')} \u2192 ${nodeLabel(`${e.dst_type}:${e.dst_id}`, labels)}`)
          )
        )
      );
    }
    grid.append(col);
  }
  target.append(h('p', { class: 'jp-mlops-row-meta' }, `${nodes.length} nodes, ${edges.length} edges`), grid);
}
