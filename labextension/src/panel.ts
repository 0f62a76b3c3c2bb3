/**
 * The "MLOps" side panel: experiments, data, models (review) and audit, fed by the REST API.
 *
 * Each view shows first what belongs to the notebook currently open (runs recorded from it and
 * the data and model versions those runs read or produced), then everything else. Approve and
 * reject act as the Jupyter-authenticated user; the server decides who that is.
 */
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { ApiError, postAPI, requestAPI, seg } from './api';
import { Child, clear, facts, h, table, text } from './dom';

export type ViewName = 'experiments' | 'data' | 'models' | 'audit';
export const VIEWS: [ViewName, string][] = [
  ['experiments', 'Experiments'],
  ['data', 'Data'],
  ['models', 'Models'],
  ['audit', 'Audit']
];

interface IRun {
  run_id: string;
  name: string;
  experiment: string;
  status: string;
  started: string | null;
  actor: string | null;
  params?: Record<string, string>;
  metrics?: Record<string, number>;
  tags?: Record<string, string>;
}
interface IContext {
  runs: IRun[];
  data_versions: string[];
  model_versions: string[];
}
interface IModelVersion {
  name: string;
  version: number;
  author: string;
  created: string;
  status: string;
  aliases: string[];
}
interface IDataVersion {
  name: string;
  version: number;
  n_rows: number;
  n_cols: number;
  creator: string;
  created: string;
}

export class MlopsPanel extends Widget {
  constructor(
    private settings: ServerConnection.ISettings,
    private openCard: (spec: string) => void
  ) {
    super();
    this.id = 'jupyter-mlops-sidebar';
    this.addClass('jp-mlops-panel');
    this.title.caption = 'MLOps';
    this.statusNode = h('span', { class: 'jp-mlops-status', data: { state: 'loading' } }, 'connecting...');
    this.userNode = h('span', { class: 'jp-mlops-user' });
    const refresh = h('button', { class: 'jp-mlops-button jp-mlops-refresh', title: 'Reload from the server' }, 'Refresh');
    refresh.onclick = () => void this.refresh();
    this.tabs = h('div', { class: 'jp-mlops-tabs' });
    for (const [name, label] of VIEWS) {
      const tab = h('button', { class: 'jp-mlops-tab', data: { view: name } }, label);
      tab.onclick = () => this.showView(name);
      this.tabs.appendChild(tab);
    }
    this.contextNode = h('div', { class: 'jp-mlops-context' });
    this.messageNode = h('div', { class: 'jp-mlops-message' });
    this.messageNode.setAttribute('role', 'status');
    this.body = h('div', { class: 'jp-mlops-body' });
    this.node.append(
      h('div', { class: 'jp-mlops-header' }, h('b', {}, 'MLOps'), ' ', this.statusNode, ' ', this.userNode, ' ', refresh),
      this.tabs,
      this.contextNode,
      this.messageNode,
      this.body
    );
    this.showView('experiments');
  }

  /** The notebook the views put first (path relative to the server root), or null. */
  setNotebook(path: string | null): void {
    if (path === this.notebook) {
      return;
    }
    this.notebook = path;
    void this.refresh();
  }

  showView(view: ViewName): void {
    this.view = view;
    for (const tab of Array.from(this.tabs.children) as HTMLElement[]) {
      tab.classList.toggle('jp-mod-active', tab.dataset.view === view);
    }
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const ticket = ++this.ticket;
    this.say('');
    this.contextNode.textContent = this.notebook ? `Notebook: ${this.notebook}` : 'No notebook open';
    const view = h('div', { class: `jp-mlops-view jp-mlops-view-${this.view}`, data: { view: this.view } });
    try {
      await this.loadStatus();
      const context = await this.loadContext();
      if (this.view === 'experiments') {
        await this.renderExperiments(view, context);
      } else if (this.view === 'data') {
        await this.renderData(view, context);
      } else if (this.view === 'models') {
        await this.renderModels(view, context);
      } else {
        await this.renderAudit(view);
      }
    } catch (err) {
      this.fail(err);
    }
    if (ticket === this.ticket) {
      clear(this.body);
      this.body.appendChild(view);
      this.body.dataset.loaded = this.view;
    }
  }

  /** Verify the audit chain and show the result in the audit view; returns the server's answer. */
  async verifyAudit(): Promise<any> {
    const result = await requestAPI<any>(this.settings, 'audit/verify');
    this.badge(result);
    return result;
  }

  // -- views ------------------------------------------------------------------------------------
  private async renderExperiments(view: HTMLElement, context: IContext): Promise<void> {
    const detail = h('div', { class: 'jp-mlops-detail' });
    const mine = context.runs.map(r => this.runRow(r, detail, false));
    view.append(
      this.section('This notebook', 'jp-mlops-notebook-runs',
        mine.length ? table(['run', 'status', 'started', 'by'], mine, 'jp-mlops-table jp-mlops-wide-first') : h('p', { class: 'jp-mlops-empty' }, 'No runs recorded from this notebook.'))
    );
    const sortSelect = h('select', { class: 'jp-mlops-sort' });
    const page = await requestAPI<{ runs: IRun[]; next_page_token: string | null }>(this.settings, 'runs', {
      limit: 50,
      sort: this.sort,
      order: 'desc',
      page_token: this.pageTokens[this.pageTokens.length - 1]
    });
    const metricKeys = new Set<string>();
    page.runs.forEach(r => Object.keys(r.metrics ?? {}).forEach(k => metricKeys.add(k)));
    for (const key of ['start_time', ...Array.from(metricKeys).sort().map(k => `metrics.${k}`)]) {
      const option = h('option', {}, key === 'start_time' ? 'newest first' : `${key.slice(8)} (high first)`);
      option.value = key;
      option.selected = key === this.sort;
      sortSelect.appendChild(option);
    }
    sortSelect.onchange = () => {
      this.sort = sortSelect.value;
      this.pageTokens = [undefined];
      void this.refresh();
    };
    const next = h('button', { class: 'jp-mlops-button jp-mlops-next' }, 'Next 50');
    next.disabled = !page.next_page_token;
    next.onclick = () => {
      this.pageTokens.push(page.next_page_token ?? undefined);
      void this.refresh();
    };
    const prev = h('button', { class: 'jp-mlops-button jp-mlops-prev' }, 'Previous');
    prev.disabled = this.pageTokens.length < 2;
    prev.onclick = () => {
      this.pageTokens.pop();
      void this.refresh();
    };
    const rows = page.runs.map(r => this.runRow(r, detail, true));
    view.append(
      this.section('All runs', 'jp-mlops-all-runs',
        h('div', { class: 'jp-mlops-controls' }, 'Sort: ', sortSelect, ' ', prev, ' ', next),
        rows.length ? table(['run', 'experiment', 'status', 'by', 'metrics'], rows, 'jp-mlops-table jp-mlops-wide-first') : h('p', { class: 'jp-mlops-empty' }, 'No runs yet.')),
      detail
    );
  }

  private runRow(run: IRun, detail: HTMLElement, wide: boolean): Child[] {
    const label = run.name || run.run_id.slice(0, 8);
    const link = h('button', { class: 'jp-mlops-link jp-mlops-run', title: label, data: { runId: run.run_id } }, label);
    link.onclick = () => void this.showRun(run.run_id, detail);
    const started = (run.started ?? '').slice(5, 16).replace('T', ' ');
    if (!wide) {
      return [link, run.status, started, run.actor ?? ''];
    }
    const metrics = Object.entries(run.metrics ?? {})
      .filter(([k]) => !k.startsWith('mlops.'))
      .slice(0, 3)
      .map(([k, v]) => `${k}=${text(v)}`)
      .join(' ');
    return [link, run.experiment, run.status, run.actor ?? '', metrics];
  }

  private async showRun(runId: string, detail: HTMLElement): Promise<void> {
    try {
      const run = await requestAPI<any>(this.settings, `runs/${seg(runId)}`);
      clear(detail);
      const rec = run.record ?? {};
      detail.append(
        h('h3', {}, `Run ${run.name}`),
        facts([
          ['run id', run.run_id],
          ['experiment', run.experiment],
          ['status', run.status],
          ['by', run.actor],
          ['started', run.started],
          ['ended', run.ended],
          ['notebook', rec.notebook ?? run.notebook],
          ['cell', rec.cell_id],
          ['source sha256', rec.source_sha256],
          ['error', rec.error]
        ]),
        h('h4', {}, 'Parameters'),
        table(['name', 'value'], Object.entries(run.params ?? {}).map(([k, v]) => [k, text(v)])),
        h('h4', {}, 'Metrics'),
        table(['name', 'value'], Object.entries(run.metrics ?? {}).map(([k, v]) => [k, text(v)])),
        h('h4', {}, 'Tags'),
        table(['name', 'value'], Object.entries(run.tags ?? {}).map(([k, v]) => [k, text(v)])),
        h('h4', {}, 'Inputs and outputs'),
        table(['direction', 'node'], [
          ...(run.inputs ?? []).map((n: string) => ['in', n]),
          ...(run.outputs ?? []).map((n: string) => ['out', n])
        ])
      );
    } catch (err) {
      this.fail(err);
    }
  }

  private async renderData(view: HTMLElement, context: IContext): Promise<void> {
    view.append(this.section('This notebook', 'jp-mlops-notebook-data', this.list(context.data_versions, 'No data versions used by this notebook.')));
    const data = await requestAPI<{ versions: IDataVersion[] }>(this.settings, 'data', { limit: 200 });
    const specs = data.versions.map(v => `${v.name}@${v.version}`);
    const pickA = h('select', { class: 'jp-mlops-diff-a' });
    const pickB = h('select', { class: 'jp-mlops-diff-b' });
    specs.forEach((s, i) => {
      const a = h('option', {}, s);
      a.value = s;
      a.selected = i === 1;
      pickA.appendChild(a);
      const b = h('option', {}, s);
      b.value = s;
      b.selected = i === 0;
      pickB.appendChild(b);
    });
    const out = h('div', { class: 'jp-mlops-diff' });
    const go = h('button', { class: 'jp-mlops-button' }, 'Diff');
    go.onclick = async () => {
      try {
        const d = await requestAPI<any>(this.settings, 'data/diff', { a: pickA.value, b: pickB.value });
        clear(out);
        out.append(facts([
          ['from', d.a], ['to', d.b], ['same content', d.same_content], ['rows', `${d.rows?.[0]} -> ${d.rows?.[1]}`],
          ['columns added', (d.columns_added ?? []).join(', ')], ['columns removed', (d.columns_removed ?? []).join(', ')],
          ['rows added / removed / changed', `${text(d.rows_added)} / ${text(d.rows_removed)} / ${text(d.rows_changed)}`]
        ]));
      } catch (err) {
        this.fail(err);
      }
    };
    const rows = data.versions.map(v => [`${v.name}@${v.version}`, `${v.n_rows} x ${v.n_cols}`, v.creator, (v.created ?? '').slice(0, 19)]);
    view.append(
      this.section('All data versions', 'jp-mlops-all-data',
        rows.length ? table(['version', 'shape', 'by', 'created'], rows) : h('p', { class: 'jp-mlops-empty' }, 'No data versions yet.'),
        specs.length > 1 ? h('div', { class: 'jp-mlops-controls' }, pickA, ' vs ', pickB, ' ', go) : null,
        out)
    );
  }

  private async renderModels(view: HTMLElement, context: IContext): Promise<void> {
    view.append(this.section('This notebook', 'jp-mlops-notebook-models', this.list(context.model_versions, 'No model versions from this notebook.')));
    const reviews = await requestAPI<{ pending: IModelVersion[]; reviewer: boolean }>(this.settings, 'reviews');
    const pending = reviews.pending.map(v => this.reviewItem(v, reviews.reviewer));
    view.append(
      this.section('Waiting for review', 'jp-mlops-pending',
        reviews.reviewer ? null : h('p', { class: 'jp-mlops-note' }, `${this.user} is not a reviewer in this workspace ([review] reviewers in .mlops/config.toml), so approve and reject are disabled.`),
        pending.length ? h('div', {}, ...pending) : h('p', { class: 'jp-mlops-empty' }, 'Nothing is waiting for review.'))
    );
    const models = await requestAPI<{ versions: IModelVersion[] }>(this.settings, 'models');
    const rows = models.versions.map(v => {
      const spec = `${v.name}@${v.version}`;
      const card = h('button', { class: 'jp-mlops-link jp-mlops-card', data: { spec } }, 'card');
      card.onclick = () => this.openCard(spec);
      return [spec, v.status, v.author, (v.aliases ?? []).join(', '), card] as Child[];
    });
    view.append(this.section('All model versions', 'jp-mlops-all-models',
      rows.length ? table(['version', 'review', 'by', 'aliases', ''], rows) : h('p', { class: 'jp-mlops-empty' }, 'No models yet.')));
  }

  private reviewItem(v: IModelVersion, reviewer: boolean): HTMLElement {
    const spec = `${v.name}@${v.version}`;
    const comment = h('input', { class: 'jp-mlops-comment' });
    comment.placeholder = 'comment';
    const approve = h('button', { class: 'jp-mlops-button jp-mlops-approve', data: { spec } }, 'Approve');
    const reject = h('button', { class: 'jp-mlops-button jp-mlops-reject', data: { spec } }, 'Reject');
    const card = h('button', { class: 'jp-mlops-link', data: { spec } }, 'card');
    card.onclick = () => this.openCard(spec);
    for (const [button, verb] of [[approve, 'approve'], [reject, 'reject']] as [HTMLButtonElement, string][]) {
      button.disabled = !reviewer;
      if (!reviewer) {
        button.title = `${this.user} is not a reviewer`;
      }
      button.onclick = async () => {
        approve.disabled = reject.disabled = true;
        try {
          const review = await postAPI<any>(this.settings, `reviews/${seg(v.name)}/${seg(v.version)}/${verb}`, { comment: comment.value });
          this.say(`${spec}: ${review.status_after} by ${review.actor}`, 'ok');
          await this.refresh();
          this.say(`${spec}: ${review.status_after} by ${review.actor}`, 'ok');
        } catch (err) {
          approve.disabled = reject.disabled = false;
          this.fail(err);
        }
      };
    }
    return h('div', { class: 'jp-mlops-review', data: { spec } },
      h('div', {}, h('b', {}, spec), ` by ${v.author}, ${(v.created ?? '').slice(0, 10)} `, card),
      h('div', { class: 'jp-mlops-controls' }, comment, ' ', approve, ' ', reject));
  }

  private async renderAudit(view: HTMLElement): Promise<void> {
    this.badgeNode = h('div', { class: 'jp-mlops-badge', data: { state: 'unknown' } }, 'chain not verified yet');
    const verify = h('button', { class: 'jp-mlops-button jp-mlops-verify' }, 'Verify chain');
    verify.onclick = () => void this.verifyAudit().catch(err => this.fail(err));
    const actor = h('input', { class: 'jp-mlops-filter-actor' });
    actor.placeholder = 'actor';
    actor.value = this.auditFilter.actor;
    const action = h('input', { class: 'jp-mlops-filter-action' });
    action.placeholder = 'action, e.g. model.*';
    action.value = this.auditFilter.action;
    const apply = h('button', { class: 'jp-mlops-button' }, 'Filter');
    apply.onclick = () => {
      this.auditFilter = { actor: actor.value, action: action.value };
      void this.refresh();
    };
    const events = await requestAPI<{ events: any[] }>(this.settings, 'audit/events', { limit: 100, ...this.auditFilter });
    const rows = events.events.map(e => [String(e.seq), (e.ts ?? '').slice(5, 16).replace('T', ' '), e.actor, e.action, `${e.object_type}:${e.object_id}`]);
    view.append(
      h('div', { class: 'jp-mlops-controls' }, this.badgeNode, ' ', verify),
      h('div', { class: 'jp-mlops-controls' }, actor, ' ', action, ' ', apply),
      this.section('Events (newest first)', 'jp-mlops-events', table(['#', 'time', 'actor', 'action', 'object'], rows, 'jp-mlops-table jp-mlops-audit-table'))
    );
    await this.verifyAudit();
  }

  // -- helpers -----------------------------------------------------------------------------------
  private badge(result: any): void {
    if (!this.badgeNode) {
      return;
    }
    this.badgeNode.dataset.state = result.ok ? 'ok' : 'broken';
    this.badgeNode.textContent = result.ok
      ? `\u2713 audit chain intact (${result.checked} events)`
      : `\u2717 audit chain broken at event #${result.first_bad_seq}: ${result.reason}`;
  }

  private async loadStatus(): Promise<void> {
    const status = await requestAPI<any>(this.settings, 'status');
    this.user = String(status.user);
    this.statusNode.textContent = `server: ok (v${status.version})`;
    this.statusNode.dataset.state = 'ok';
    this.userNode.textContent = `acting as ${this.user}`;
  }

  private async loadContext(): Promise<IContext> {
    if (!this.notebook) {
      return { runs: [], data_versions: [], model_versions: [] };
    }
    return requestAPI<IContext>(this.settings, 'notebook-context', { path: this.notebook });
  }

  private section(title: string, cls: string, ...children: Child[]): HTMLElement {
    return h('section', { class: `jp-mlops-section ${cls}` }, h('h3', {}, title), ...children);
  }

  private list(items: string[], empty: string): HTMLElement {
    return items.length ? h('ul', { class: 'jp-mlops-list' }, ...items.map(i => h('li', {}, i))) : h('p', { class: 'jp-mlops-empty' }, empty);
  }

  private say(message: string, state = 'info'): void {
    this.messageNode.textContent = message;
    this.messageNode.dataset.state = state;
  }

  private fail(err: unknown): void {
    if (err instanceof ApiError) {
      this.say(`${err.error}: ${err.describe()}`, 'error');
      if (err.status === 403 || err.status === 401) {
        this.statusNode.dataset.state = 'denied';
      }
    } else {
      this.say(`Error: ${String((err as Error)?.message ?? err)}`, 'error');
    }
  }

  private notebook: string | null = null;
  private view: ViewName = 'experiments';
  private user = '';
  private sort = 'start_time';
  private pageTokens: (string | undefined)[] = [undefined];
  private auditFilter = { actor: '', action: '' };
  private ticket = 0;
  private badgeNode: HTMLElement | null = null;
  private statusNode: HTMLElement;
  private userNode: HTMLElement;
  private tabs: HTMLElement;
  private contextNode: HTMLElement;
  private messageNode: HTMLElement;
  private body: HTMLElement;
}
