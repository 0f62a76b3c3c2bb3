/**
 * The "MLOps" side panel: runs, data, models (review) and audit, fed by the REST API.
 *
 * Built for JupyterLab's default side-panel width (~250 px): every view is a list of two-line
 * rows (a title line and a wrapping line of facts), never a multi-column table, so nothing is cut
 * with an ellipsis and nothing scrolls sideways. Dragged wider (a CSS container query), rows lay
 * their facts out beside the title. Each view shows first what belongs to the notebook currently
 * open, then everything else. Reviewing happens on the review page in the main area, with the
 * evidence beside Approve; the server decides who the acting user is.
 */
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { ApiError, requestAPI } from './api';
import { Child, chip, clear, facts, h, num, row, rows, stamp } from './dom';

export type ViewName = 'runs' | 'data' | 'models' | 'audit';
export const VIEWS: [ViewName, string][] = [
  ['runs', 'Runs'],
  ['data', 'Data'],
  ['models', 'Models'],
  ['audit', 'Audit']
];

/** How the identity the server acts as was found (GET /status -> identity_source). */
export const IDENTITY_SOURCES: Record<string, string> = {
  'server-owner': 'server owner',
  jupyterhub: 'JupyterHub user',
  'identity-provider': 'Jupyter login',
  local: 'local user'
};

interface IRun {
  run_id: string;
  name: string;
  experiment: string;
  status: string;
  started: string | null;
  ended?: string | null;
  duration_s?: number | null;
  actor: string | null;
  notebook?: string | null;
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
  key?: string[];
  sensitive?: string[];
}

/** A 32+ character hex id shortened to its first 8 characters (the full id is the tooltip). */
const shortId = (id: string) => (/^[0-9a-f]{24,}$/.test(id) ? `${id.slice(0, 8)}\u2026` : id);

/** Metrics jupyter-mlops records for itself (hidden unless asked for). */
const internal = (key: string) => key.startsWith('mlops.');

export class MlopsPanel extends Widget {
  constructor(
    private settings: ServerConnection.ISettings,
    private openReview: (spec: string) => void,
    private openCard: (spec: string) => void
  ) {
    super();
    this.id = 'jupyter-mlops-sidebar';
    this.addClass('jp-mlops-panel');
    this.title.caption = 'MLOps';
    this.statusNode = h('span', { class: 'jp-mlops-status', data: { state: 'loading' } }, 'connecting');
    this.userNode = h('span', { class: 'jp-mlops-user' });
    this.sourceNode = h('span', { class: 'jp-mlops-user-source' });
    const refresh = h('button', { class: 'jp-mlops-button jp-mlops-refresh', title: 'Reload from the server' }, 'Refresh');
    refresh.onclick = () => void this.refresh();
    this.tabs = h('div', { class: 'jp-mlops-tabs' });
    this.tabs.setAttribute('role', 'tablist');
    for (const [name, label] of VIEWS) {
      const tab = h('button', { class: 'jp-mlops-tab', data: { view: name } }, label);
      tab.setAttribute('role', 'tab');
      tab.onclick = () => this.showView(name);
      this.tabs.appendChild(tab);
    }
    this.contextNode = h('div', { class: 'jp-mlops-context' });
    this.messageNode = h('div', { class: 'jp-mlops-message' });
    this.messageNode.setAttribute('role', 'status');
    this.body = h('div', { class: 'jp-mlops-body' });
    this.node.append(
      h(
        'div',
        { class: 'jp-mlops-header' },
        h('div', { class: 'jp-mlops-header-line' }, h('b', {}, 'MLOps'), this.statusNode, refresh),
        h('div', { class: 'jp-mlops-header-line jp-mlops-identity' }, this.userNode, this.sourceNode)
      ),
      this.tabs,
      this.contextNode,
      this.messageNode,
      this.body
    );
    this.showView('runs');
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
      const active = tab.dataset.view === view;
      tab.classList.toggle('jp-mod-active', active);
      tab.setAttribute('aria-selected', String(active));
    }
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const ticket = ++this.ticket;
    this.say('');
    this.contextNode.textContent = this.notebook ? `Notebook: ${this.notebook}` : 'No notebook open';
    const view = h('div', { class: `jp-mlops-view jp-mlops-view-${this.view}`, data: { view: this.view } });
    try {
      const [, context] = await Promise.all([this.loadStatus(), this.loadContext()]);
      if (this.view === 'runs') {
        await this.renderRuns(view, context);
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
      this.body.dataset.notebook = this.notebook ?? '';
    }
  }

  /** Verify the audit chain and show the result in the audit view; returns the server's answer. */
  async verifyAudit(): Promise<any> {
    const result = await requestAPI<any>(this.settings, 'audit/verify');
    this.badge(result);
    return result;
  }

  /** The identity the server acts as (after the first refresh). */
  get user(): string {
    return this.userName;
  }

  // -- runs -------------------------------------------------------------------------------------
  private async renderRuns(view: HTMLElement, context: IContext): Promise<void> {
    view.append(
      this.section(
        'This notebook',
        'jp-mlops-notebook-runs',
        rows(context.runs.map(r => this.runRow(r)), 'No runs recorded from this notebook.')
      )
    );
    const filter = h('input', { class: 'jp-mlops-filter', title: 'e.g. metrics.accuracy > 0.8 and params.C = 1' });
    filter.placeholder = 'e.g. metrics.accuracy > 0.8';
    filter.value = this.filterDraft ?? this.runFilter;
    filter.oninput = () => (this.filterDraft = filter.value); // kept if the view repaints while typing
    filter.onkeydown = (ev: KeyboardEvent) => {
      if (ev.key === 'Enter') {
        this.runFilter = filter.value.trim();
        this.filterDraft = null;
        this.pageTokens = [undefined];
        void this.refresh();
      }
    };
    const sortSelect = h('select', { class: 'jp-mlops-sort', title: 'Sort the runs' });
    const showInternal = h('input', { class: 'jp-mlops-show-internal' });
    showInternal.type = 'checkbox';
    showInternal.checked = this.showInternal;
    showInternal.onchange = () => {
      this.showInternal = showInternal.checked;
      void this.refresh();
    };
    const controls = h(
      'div',
      { class: 'jp-mlops-controls jp-mlops-run-controls' },
      filter,
      sortSelect,
      h('label', { class: 'jp-mlops-check' }, showInternal, ' bookkeeping metrics')
    );
    const all = this.section('All runs', 'jp-mlops-all-runs', controls);
    view.append(all);
    let page: { runs: IRun[]; next_page_token: string | null; lower_is_better?: Record<string, boolean> };
    try {
      page = await requestAPI(this.settings, 'runs', {
        limit: 50,
        sort: this.sort,
        order: this.sortOrder(),
        filter: this.runFilter,
        page_token: this.pageTokens[this.pageTokens.length - 1]
      });
    } catch (err) {
      // A bad filter: one line naming the bad token; the old rows are gone, not left standing.
      all.append(h('p', { class: 'jp-mlops-error jp-mlops-filter-error' }, this.describe(err)));
      this.fillSort(sortSelect, {});
      return;
    }
    this.directions = { ...this.directions, ...(page.lower_is_better ?? {}) };
    this.fillSort(sortSelect, page.lower_is_better ?? {}, page.runs);
    const next = h('button', { class: 'jp-mlops-button jp-mlops-next' }, 'Next 50');
    next.disabled = !page.next_page_token;
    next.title = next.disabled ? 'This is the last page' : 'The next 50 runs';
    next.onclick = () => {
      this.pageTokens.push(page.next_page_token ?? undefined);
      void this.refresh();
    };
    const prev = h('button', { class: 'jp-mlops-button jp-mlops-prev' }, 'Previous');
    prev.disabled = this.pageTokens.length < 2;
    prev.title = prev.disabled ? 'This is the first page' : 'The previous 50 runs';
    prev.onclick = () => {
      this.pageTokens.pop();
      void this.refresh();
    };
    const label = page.runs.length === 1 ? '1 run' : `${page.runs.length} runs`;
    all.append(
      h('p', { class: 'jp-mlops-caption' }, `${label}, ${this.sortCaption()}`),
      rows(page.runs.map(r => this.runRow(r)), this.runFilter ? 'No run matches this filter.' : 'No runs yet.'),
      h('div', { class: 'jp-mlops-controls' }, prev, next)
    );
  }

  private sortOrder(): 'asc' | 'desc' {
    if (this.sort === 'start_time') {
      return 'desc';
    }
    return this.directions[this.sort.slice('metrics.'.length)] ? 'asc' : 'desc';
  }

  private sortCaption(): string {
    if (this.sort === 'start_time') {
      return 'newest first';
    }
    const key = this.sort.slice('metrics.'.length);
    return `best ${key} first (${this.directions[key] ? 'lowest' : 'highest'})`;
  }

  private fillSort(select: HTMLSelectElement, lower: Record<string, boolean>, runs: IRun[] = []): void {
    const keys = new Set<string>();
    runs.forEach(r => Object.keys(r.metrics ?? {}).forEach(k => (this.showInternal || !internal(k)) && keys.add(k)));
    if (this.sort !== 'start_time') {
      keys.add(this.sort.slice('metrics.'.length));
    }
    for (const key of ['start_time', ...Array.from(keys).sort().map(k => `metrics.${k}`)]) {
      const metric = key.slice('metrics.'.length);
      const low = lower[metric] ?? this.directions[metric];
      const option = h('option', {}, key === 'start_time' ? 'newest first' : `${metric} (${low ? 'low' : 'high'} first)`);
      option.value = key;
      option.selected = key === this.sort;
      select.appendChild(option);
    }
    select.onchange = () => {
      this.sort = select.value;
      this.pageTokens = [undefined];
      void this.refresh();
    };
  }

  private runRow(run: IRun): HTMLElement {
    const label = run.name || `run ${run.run_id.slice(0, 8)}`;
    const link = h('button', { class: 'jp-mlops-link jp-mlops-run', data: { runId: run.run_id } }, label);
    const metrics = Object.entries(run.metrics ?? {})
      .filter(([k]) => this.showInternal || !internal(k))
      .slice(0, 2)
      .map(([k, v]) => `${k} ${num(v)}`);
    const item = row(link, [chip(run.status)], [run.experiment, run.actor ? `by ${run.actor}` : '', stamp(run.started), ...metrics], {
      data: { runId: run.run_id }
    });
    link.onclick = () => void this.toggleRun(run.run_id, item);
    return item;
  }

  private async toggleRun(runId: string, item: HTMLElement): Promise<void> {
    const open = item.querySelector('.jp-mlops-detail');
    if (open) {
      open.remove();
      return;
    }
    try {
      const run = await requestAPI<any>(this.settings, `runs/${encodeURIComponent(runId)}`);
      const rec = run.record ?? {};
      const metrics = Object.entries(run.metrics ?? {}).filter(([k]) => this.showInternal || !internal(k));
      const detail = h(
        'div',
        { class: 'jp-mlops-detail' },
        h('h4', {}, `Run ${run.name}`),
        facts([
          ['status', run.status],
          ['by', run.actor],
          ['started', run.started ? stamp(run.started) : null],
          ['ended', run.ended ? stamp(run.ended) : null],
          ['duration', typeof run.duration_s === 'number' ? `${num(run.duration_s)} s` : 'unknown'],
          ['notebook', rec.notebook ?? run.notebook],
          ['cell', rec.cell_id],
          ['error', rec.error ?? run.error],
          ['run id', run.run_id]
        ].filter(([, v]) => v !== null && v !== undefined && v !== '') as [string, unknown][]),
        h('h4', {}, 'Parameters'),
        facts(Object.entries(run.params ?? {})),
        h('h4', {}, 'Metrics'),
        facts(metrics.map(([k, v]) => [k, num(v)])),
        h('h4', {}, 'Inputs and outputs'),
        h(
          'ul',
          { class: 'jp-mlops-list' },
          ...(run.inputs ?? []).map((n: string) => h('li', {}, `in: ${n}`)),
          ...(run.outputs ?? []).map((n: string) => h('li', {}, `out: ${n}`))
        )
      );
      item.appendChild(detail);
    } catch (err) {
      this.fail(err);
    }
  }

  // -- data -------------------------------------------------------------------------------------
  private async renderData(view: HTMLElement, context: IContext): Promise<void> {
    view.append(this.section('This notebook', 'jp-mlops-notebook-data', this.list(context.data_versions, 'No data versions used by this notebook.')));
    const data = await requestAPI<{ versions: IDataVersion[] }>(this.settings, 'data', { limit: 200 });
    const items = data.versions.map(v =>
      row(`${v.name}@${v.version}`, [h('span', { class: 'jp-mlops-aside' }, `${v.n_rows} \u00d7 ${v.n_cols}`)], [
        `by ${v.creator}`,
        stamp(v.created),
        (v.sensitive ?? []).length ? `sensitive: ${(v.sensitive ?? []).join(', ')}` : ''
      ], { data: { spec: `${v.name}@${v.version}` } })
    );
    view.append(this.section('All data versions', 'jp-mlops-all-data', rows(items, 'No data versions yet.')));
    view.append(this.diffSection(data.versions));
  }

  /** Diff two versions; by default the two newest versions of the same data set. */
  private diffSection(versions: IDataVersion[]): HTMLElement {
    const section = this.section('Compare versions', 'jp-mlops-diff-section');
    const byName = new Map<string, IDataVersion[]>();
    versions.forEach(v => byName.set(v.name, [...(byName.get(v.name) ?? []), v]));
    const pair = versions.map(v => byName.get(v.name)!).find(vs => vs.length > 1);
    if (!pair) {
      section.append(h('p', { class: 'jp-mlops-empty' }, 'No data set has two versions yet.'));
      return section;
    }
    const sorted = [...pair].sort((x, y) => y.version - x.version);
    const spec = (v: IDataVersion) => `${v.name}@${v.version}`;
    const pickA = h('select', { class: 'jp-mlops-diff-a', title: 'from' });
    const pickB = h('select', { class: 'jp-mlops-diff-b', title: 'to' });
    for (const v of versions) {
      for (const [pick, chosen] of [[pickA, sorted[1]], [pickB, sorted[0]]] as [HTMLSelectElement, IDataVersion][]) {
        const o = h('option', {}, spec(v));
        o.value = spec(v);
        o.selected = v === chosen;
        pick.appendChild(o);
      }
    }
    const out = h('div', { class: 'jp-mlops-diff' });
    const go = h('button', { class: 'jp-mlops-button jp-mlops-diff-go' }, 'Compare');
    const sensitiveOf = (s: string) => versions.find(v => spec(v) === s)?.sensitive ?? [];
    go.onclick = async () => {
      clear(out);
      try {
        const d = await requestAPI<any>(this.settings, 'data/diff', { a: pickA.value, b: pickB.value });
        const count = (v: unknown) => (typeof v === 'number' ? String(v) : 'unknown');
        const keyed = (d.key ?? []).length > 0;
        const sensitive = Array.from(new Set([...sensitiveOf(d.a), ...sensitiveOf(d.b)]));
        out.append(
          h('p', { class: 'jp-mlops-diff-title' }, d.same_content ? `${d.a} and ${d.b} hold the same content` : `${d.a} \u2192 ${d.b}`),
          h(
            'div',
            { class: 'jp-mlops-counts' },
            ...[['added', d.rows_added], ['removed', d.rows_removed], ['changed', d.rows_changed]].map(([k, v]) =>
              h('span', { class: 'jp-mlops-count', data: { count: String(k) } }, h('b', {}, count(v)), ` rows ${k}`)
            )
          ),
          ...(keyed ? [] : [h('p', { class: 'jp-mlops-note' }, 'Row counts need a key column: version the data with key=... to count added, removed and changed rows.')]),
          facts([
            ['rows', `${d.rows?.[0]} \u2192 ${d.rows?.[1]}`],
            ['key', keyed ? d.key.join(', ') : 'none'],
            ['columns added', (d.columns_added ?? []).join(', ') || 'none'],
            ['columns removed', (d.columns_removed ?? []).join(', ') || 'none']
          ]),
          h(
            'p',
            { class: 'jp-mlops-masked' },
            sensitive.length
              ? `Sensitive columns, values masked in examples: ${sensitive.join(', ')}`
              : 'No column is marked sensitive.'
          )
        );
      } catch (err) {
        out.append(h('p', { class: 'jp-mlops-error' }, this.describe(err)));
      }
    };
    section.append(
      h('div', { class: 'jp-mlops-controls jp-mlops-diff-controls' }, h('label', {}, 'from ', pickA), h('label', {}, 'to ', pickB), go),
      out
    );
    return section;
  }

  // -- models -----------------------------------------------------------------------------------
  private async renderModels(view: HTMLElement, context: IContext): Promise<void> {
    view.append(this.section('This notebook', 'jp-mlops-notebook-models', this.list(context.model_versions, 'No model versions from this notebook.')));
    const reviews = await requestAPI<{ pending: IModelVersion[]; reviewer: boolean }>(this.settings, 'reviews');
    const pending = reviews.pending.map(v => {
      const spec = `${v.name}@${v.version}`;
      const open = h('button', { class: 'jp-mlops-button jp-mlops-open-review', data: { spec } }, 'Review');
      open.title = `Open the review page of ${spec}: evidence, then approve or reject`;
      open.onclick = () => this.openReview(spec);
      return row(spec, [open], [`by ${v.author}`, stamp(v.created)], { class: 'jp-mlops-review', data: { spec } });
    });
    view.append(
      this.section(
        'Waiting for review',
        'jp-mlops-pending',
        reviews.reviewer
          ? null
          : h('p', { class: 'jp-mlops-note' }, `${this.userName} is not a reviewer here ([review] reviewers in .mlops/config.toml): the review page shows the evidence, but cannot approve.`),
        rows(pending, 'Nothing is waiting for review.')
      )
    );
    const models = await requestAPI<{ versions: IModelVersion[] }>(this.settings, 'models');
    const items = models.versions.map(v => {
      const spec = `${v.name}@${v.version}`;
      const open = h('button', { class: 'jp-mlops-link jp-mlops-model', data: { spec } }, spec);
      open.title = `Review page of ${spec}`;
      open.onclick = () => this.openReview(spec);
      const card = h('button', { class: 'jp-mlops-link jp-mlops-card', data: { spec } }, 'card');
      card.title = `Model card of ${spec}`;
      card.onclick = () => this.openCard(spec);
      const status = v.status === 'none' ? 'not submitted' : v.status;
      return row(open, [chip(status)], [`by ${v.author}`, (v.aliases ?? []).length ? `aliases: ${v.aliases.join(', ')}` : '', card], {
        data: { spec }
      });
    });
    view.append(this.section('All model versions', 'jp-mlops-all-models', rows(items, 'No models yet.')));
  }

  // -- audit ------------------------------------------------------------------------------------
  private async renderAudit(view: HTMLElement): Promise<void> {
    this.badgeNode = h('div', { class: 'jp-mlops-badge', data: { state: 'unknown' } }, 'chain not verified yet');
    const verify = h('button', { class: 'jp-mlops-button jp-mlops-verify' }, 'Verify chain');
    verify.onclick = () => void this.verifyAudit().catch(err => this.fail(err));
    const field = (cls: string, placeholder: string, value: string) => {
      const input = h('input', { class: cls, title: placeholder });
      input.placeholder = placeholder;
      input.value = value;
      input.onkeydown = (ev: KeyboardEvent) => ev.key === 'Enter' && apply.click();
      return input;
    };
    const actor = field('jp-mlops-filter-actor', 'actor', this.auditFilter.actor);
    const action = field('jp-mlops-filter-action', 'action, e.g. model.*', this.auditFilter.action);
    const since = field('jp-mlops-filter-since', 'since: 2026-12-01, yesterday, 7d', this.auditFilter.since);
    const apply = h('button', { class: 'jp-mlops-button jp-mlops-filter-apply' }, 'Filter');
    apply.onclick = () => {
      this.auditFilter = { actor: actor.value.trim(), action: action.value.trim(), since: since.value.trim() };
      void this.refresh();
    };
    view.append(
      h('div', { class: 'jp-mlops-controls' }, this.badgeNode, verify),
      h('div', { class: 'jp-mlops-controls jp-mlops-audit-controls' }, actor, action, since, apply)
    );
    const section = this.section('Events, newest first', 'jp-mlops-events');
    view.append(section);
    try {
      const events = await requestAPI<{ events: any[] }>(this.settings, 'audit/events', { limit: 100, ...this.auditFilter });
      const items = events.events.map(e => {
        const source = e.payload?.identity_source;
        return row(`#${e.seq} ${e.action}`, [], [
          source ? `${e.actor} (${IDENTITY_SOURCES[source] ?? source})` : e.actor,
          stamp(e.ts),
          h('span', { title: `${e.object_type} ${e.object_id}` }, `${String(e.object_type).replace(/_/g, ' ')} ${shortId(String(e.object_id))}`)
        ], { class: 'jp-mlops-event', data: { seq: String(e.seq) } });
      });
      section.append(rows(items, 'No event matches these filters.'));
    } catch (err) {
      section.append(h('p', { class: 'jp-mlops-error jp-mlops-filter-error' }, this.describe(err)));
    }
    await this.verifyAudit();
  }

  // -- helpers -----------------------------------------------------------------------------------
  private badge(result: any): void {
    if (!this.badgeNode) {
      return;
    }
    this.badgeNode.dataset.state = result.ok ? 'ok' : 'broken';
    this.badgeNode.textContent = result.ok
      ? `\u2713 chain intact (${result.checked} events)`
      : `\u2717 chain broken at event #${result.first_bad_seq}: ${result.reason}`;
  }

  private async loadStatus(): Promise<void> {
    const status = await requestAPI<any>(this.settings, 'status');
    this.userName = String(status.user);
    this.statusNode.textContent = `server ok \u00b7 v${status.version}`;
    this.statusNode.dataset.state = 'ok';
    this.userNode.textContent = `acting as ${this.userName}`;
    this.userNode.dataset.user = this.userName;
    const source = String(status.identity_source ?? '');
    this.sourceNode.textContent = source ? `(${IDENTITY_SOURCES[source] ?? source})` : '';
    this.sourceNode.dataset.source = source;
    this.sourceNode.title =
      source === 'server-owner'
        ? 'Token or password login names no user, so this server acts as its owner (JUPYTER_MLOPS_USER, else the OS user), like its notebooks.'
        : '';
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

  private describe(err: unknown): string {
    return err instanceof ApiError ? err.describe() : `Error: ${String((err as Error)?.message ?? err)}`;
  }

  private fail(err: unknown): void {
    this.say(this.describe(err), 'error');
    if (err instanceof ApiError && (err.status === 403 || err.status === 401)) {
      this.statusNode.dataset.state = 'denied';
    }
  }

  private notebook: string | null = null;
  private view: ViewName = 'runs';
  private userName = '';
  private sort = 'start_time';
  private directions: Record<string, boolean> = {};
  private runFilter = '';
  private filterDraft: string | null = null;
  private showInternal = false;
  private pageTokens: (string | undefined)[] = [undefined];
  private auditFilter = { actor: '', action: '', since: '' };
  private ticket = 0;
  private badgeNode: HTMLElement | null = null;
  private statusNode: HTMLElement;
  private userNode: HTMLElement;
  private sourceNode: HTMLElement;
  private tabs: HTMLElement;
  private contextNode: HTMLElement;
  private messageNode: HTMLElement;
  private body: HTMLElement;
}
