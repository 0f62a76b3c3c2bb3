/**
 * The model review page, in the main area: the evidence beside Approve / Reject.
 *
 * One GET (``models/{name}/versions/{version}/review``, the registry's review-evidence bundle)
 * paints the card summary, metrics with intervals and pass/fail per threshold, per-group fairness
 * with a bar chart, the data versions with their quality results, the lineage story and the
 * review history, all on one screen beside the decision box. Approving takes a comment (required)
 * and a confirmation that names the version. A disabled button looks disabled and the reasons it
 * is disabled are written beside it. Everything from the API is set as text, never as HTML.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { ApiError, postAPI, requestAPI, seg } from './api';
import { Child, chip, clear, facts, h, num, stamp } from './dom';
import { storyView } from './lineage';

/** Paint timings of the page (read by the browser test to report first paint). */
export interface IPaintTimes {
  requested: number;
  painted: number;
}

export class ReviewView extends Widget {
  constructor(
    private settings: ServerConnection.ISettings,
    readonly spec: string,
    private onDecided: () => void = () => undefined
  ) {
    super();
    this.addClass('jp-mlops-reviewview');
    this.id = `jupyter-mlops-review-${spec.replace(/[^A-Za-z0-9_-]/g, '-')}`;
    this.title.label = `Review ${spec}`;
    this.title.closable = true;
    this.node.appendChild(h('p', { class: 'jp-mlops-empty' }, `Loading the evidence for ${spec}...`));
    void this.load();
  }

  private path(): string {
    const at = this.spec.lastIndexOf('@');
    return `models/${seg(this.spec.slice(0, at))}/versions/${seg(this.spec.slice(at + 1))}/review`;
  }

  async load(): Promise<void> {
    const requested = performance.now();
    try {
      const ev = await requestAPI<any>(this.settings, this.path());
      this.render(ev);
      this.node.dataset.loaded = 'true';
    } catch (err) {
      clear(this.node);
      this.node.append(h('p', { class: 'jp-mlops-error' }, err instanceof ApiError ? err.describe() : String(err)));
      this.node.dataset.loaded = 'error';
    }
    requestAnimationFrame(() => {
      this.node.dataset.paintMs = String(Math.round(performance.now() - requested));
    });
  }

  private render(ev: any): void {
    clear(this.node);
    const v = ev.version ?? {};
    const status = v.status === 'none' ? 'not submitted' : String(v.status ?? 'unknown');
    this.node.append(
      h(
        'header',
        { class: 'jp-mlops-review-head' },
        h('h1', {}, `Review ${ev.ref}`),
        chip(status),
        h(
          'span',
          { class: 'jp-mlops-row-meta' },
          `by ${v.author} \u00b7 registered `,
          stamp(v.created),
          (v.aliases ?? []).length ? ` \u00b7 aliases: ${v.aliases.join(', ')}` : ''
        )
      ),
      this.box('Lineage', 'jp-mlops-ev-lineage', storyView(this.settings, ev.story)),
      h(
        'div',
        { class: 'jp-mlops-review-grid' },
        h('div', { class: 'jp-mlops-review-col' }, this.cardSection(ev), this.dataSection(ev)),
        h('div', { class: 'jp-mlops-review-col' }, this.metricsSection(ev), this.fairnessSection(ev)),
        h('div', { class: 'jp-mlops-review-col' }, this.decisionSection(ev), this.historySection(ev))
      )
    );
  }

  private box(title: string, cls: string, ...children: Child[]): HTMLElement {
    return h('section', { class: `jp-mlops-ev ${cls}` }, h('h2', {}, title), ...children);
  }

  private cardSection(ev: any): HTMLElement {
    const lines: any[] = ev.card ?? [];
    if (!lines.length) {
      return this.box('Model card', 'jp-mlops-ev-card', h('p', { class: 'jp-mlops-empty' }, 'No card yet: build it with mlops.build_card.'));
    }
    const dl = h('dl', { class: 'jp-mlops-card-lines' });
    for (const line of lines.filter(l => l.known)) {
      dl.append(h('dt', {}, String(line.title)), h('dd', { class: 'jp-mlops-clamp', title: String(line.text) }, String(line.text)));
    }
    const unknown = lines.filter(l => !l.known).map(l => String(l.title));
    return this.box(
      `Model card${ev.card_version ? ` v${ev.card_version}` : ''}`,
      'jp-mlops-ev-card',
      dl,
      unknown.length ? h('p', { class: 'jp-mlops-unknown' }, `Not stated yet: ${unknown.join(', ')}`) : null
    );
  }

  private metricsSection(ev: any): HTMLElement {
    const metrics: any[] = ev.metrics ?? [];
    const e = ev.evaluation;
    if (!metrics.length) {
      return this.box('Metrics', 'jp-mlops-ev-metrics', h('p', { class: 'jp-mlops-empty' }, 'No evaluation recorded.'));
    }
    const body = metrics.map(m =>
      h(
        'tr',
        { data: { metric: String(m.name) } },
        h(
          'td',
          { title: m.lower_is_better ? 'lower is better' : 'higher is better' },
          String(m.name).replace(/_/g, '_\u200b'),
          h('span', { class: 'jp-mlops-dir' }, m.lower_is_better ? ' \u2193' : ' \u2191')
        ),
        h(
          'td',
          { class: 'jp-mlops-num' },
          num(m.value),
          typeof m.ci_low === 'number' ? h('span', { class: 'jp-mlops-ci' }, ` [${num(m.ci_low)}, ${num(m.ci_high)}]`) : null
        ),
        h('td', {}, m.threshold ?? ''),
        h('td', {}, m.passed === null || m.passed === undefined ? '' : chip(m.passed ? 'passed' : 'failed'))
      )
    );
    const conf = e?.confidence ? `${Math.round(e.confidence * 100)}% intervals` : 'intervals';
    return this.box(
      'Metrics',
      'jp-mlops-ev-metrics',
      h(
        'p',
        { class: 'jp-mlops-row-meta' },
        e ? `${e.n_rows} rows \u00b7 ${conf} from ${e.n_bootstrap} bootstrap samples \u00b7 ` : '',
        e ? stamp(e.created) : ''
      ),
      h(
        'table',
        { class: 'jp-mlops-evtable' },
        h('thead', {}, h('tr', {}, h('th', {}, 'metric'), h('th', {}, 'value [interval]'), h('th', {}, 'threshold'), h('th', {}, 'result'))),
        h('tbody', {}, ...body)
      )
    );
  }

  private fairnessSection(ev: any): HTMLElement {
    const features: any[] = ev.fairness ?? [];
    if (!features.length) {
      return this.box('Fairness', 'jp-mlops-ev-fairness', h('p', { class: 'jp-mlops-empty' }, 'No per-group results recorded.'));
    }
    const out = this.box('Fairness by group', 'jp-mlops-ev-fairness');
    const more = h('details', { class: 'jp-mlops-more' }, h('summary', {}, 'Intersections of groups'));
    for (const f of features) {
      const target = String(f.feature).includes(' x ') ? more : out;
      const metric = String((f.metrics ?? [])[0] ?? '');
      const groups: any[] = f.groups ?? [];
      const values = groups.map(g => (typeof g[metric] === 'number' ? g[metric] : 0));
      const max = Math.max(1e-9, ...values.map(Math.abs));
      const chart = h('div', { class: 'jp-mlops-bars', data: { feature: String(f.feature), metric } });
      groups.forEach((g, i) => {
        const bar = h('span', { class: 'jp-mlops-bar-fill' });
        bar.style.width = `${Math.round((Math.abs(values[i]) / max) * 100)}%`;
        chart.append(
          h(
            'div',
            { class: `jp-mlops-bar${g.small ? ' jp-mlops-bar-small' : ''}` },
            h('span', { class: 'jp-mlops-bar-label' }, `${g.group} (n=${g.n ?? '?'})`),
            h('span', { class: 'jp-mlops-bar-track' }, bar),
            h('span', { class: 'jp-mlops-bar-value' }, num(g[metric]))
          )
        );
      });
      const disparities = Object.entries(f.disparities ?? {}).slice(0, 4);
      target.append(
        h('h3', {}, `${f.feature}: ${metric.replace(/_/g, ' ')}`),
        chart,
        ...(disparities.length ? [facts(disparities.map(([k, d]) => [k.replace(/_/g, ' '), typeof d === 'number' ? num(d) : d]))] : []),
        ...(f.warnings ?? []).map((w: string) => h('p', { class: 'jp-mlops-note' }, w))
      );
    }
    if (more.childElementCount > 1) {
      out.append(more);
    }
    return out;
  }

  private dataSection(ev: any): HTMLElement {
    const data: any[] = ev.data ?? [];
    if (!data.length) {
      return this.box('Data', 'jp-mlops-ev-data', h('p', { class: 'jp-mlops-empty' }, 'No data version was recorded for the training run.'));
    }
    const list = h('ul', { class: 'jp-mlops-rows' });
    for (const d of data) {
      const checks = typeof d.quality_checks === 'number' ? ` (${d.quality_failed ?? 0} of ${d.quality_checks} checks failed)` : '';
      list.append(
        h(
          'li',
          { class: 'jp-mlops-row', data: { spec: String(d.spec) } },
          h('div', { class: 'jp-mlops-row-title' }, h('span', { class: 'jp-mlops-row-main' }, String(d.spec)), chip(String(d.quality))),
          h(
            'div',
            { class: 'jp-mlops-row-meta' },
            `${d.n_rows} \u00d7 ${d.n_cols}${checks}`,
            (d.sensitive ?? []).length ? ` \u00b7 sensitive: ${d.sensitive.join(', ')}` : ''
          )
        )
      );
    }
    return this.box('Data and quality', 'jp-mlops-ev-data', list);
  }

  private historySection(ev: any): HTMLElement {
    const reviews: any[] = ev.reviews ?? [];
    const list = h('ul', { class: 'jp-mlops-rows' });
    for (const r of reviews) {
      list.append(
        h(
          'li',
          { class: 'jp-mlops-row', data: { action: String(r.action) } },
          h('div', { class: 'jp-mlops-row-title' }, h('span', { class: 'jp-mlops-row-main' }, `${r.action} by ${r.actor}`), stamp(r.ts)),
          r.text ? h('div', { class: 'jp-mlops-row-meta jp-mlops-comment-text' }, String(r.text)) : null
        )
      );
    }
    return this.box('Review history', 'jp-mlops-ev-history', reviews.length ? list : h('p', { class: 'jp-mlops-empty' }, 'No review yet.'));
  }

  private decisionSection(ev: any): HTMLElement {
    const blockers: string[] = ev.blockers ?? [];
    const comment = h('textarea', { class: 'jp-mlops-comment' });
    comment.placeholder = 'Your comment (required): what you checked and why';
    comment.rows = 3;
    const approve = h('button', { class: 'jp-mlops-button jp-mlops-approve', data: { spec: ev.ref } }, 'Approve');
    const reject = h('button', { class: 'jp-mlops-button jp-mlops-reject', data: { spec: ev.ref } }, 'Reject');
    const why = h('ul', { class: 'jp-mlops-why' });
    const update = () => {
      const reasons = [...blockers];
      if (!blockers.length && !comment.value.trim()) {
        reasons.push('write a comment to approve or reject');
      }
      clear(why);
      reasons.forEach(r => why.append(h('li', {}, r)));
      approve.disabled = reject.disabled = reasons.length > 0;
      const title = reasons.length ? `Disabled: ${reasons.join('; ')}` : '';
      approve.title = title || `Approve ${ev.ref} as ${ev.actor}`;
      reject.title = title || `Reject ${ev.ref} as ${ev.actor}`;
    };
    comment.oninput = update;
    comment.disabled = blockers.length > 0;
    const result = h('p', { class: 'jp-mlops-decision-result', data: { state: '' } });
    for (const [button, verb] of [[approve, 'approve'], [reject, 'reject']] as [HTMLButtonElement, string][]) {
      button.onclick = async () => {
        const text = comment.value.trim();
        const label = verb === 'approve' ? 'Approve' : 'Reject';
        const answer = await showDialog({
          title: `${label} ${ev.ref}?`,
          body: `${label} model version ${ev.ref} as ${ev.actor}, with the comment: \u201c${text}\u201d`,
          buttons: [Dialog.cancelButton(), Dialog.okButton({ label: `${label} ${ev.ref}`, displayType: verb === 'approve' ? 'default' : 'warn' })]
        });
        if (!answer.button.accept) {
          return;
        }
        approve.disabled = reject.disabled = true;
        try {
          const at = ev.ref.lastIndexOf('@');
          const review = await postAPI<any>(
            this.settings,
            `reviews/${seg(ev.ref.slice(0, at))}/${seg(ev.ref.slice(at + 1))}/${verb}`,
            { comment: text }
          );
          await this.load();
          this.onDecided();
          const done = this.node.querySelector('.jp-mlops-decision-result') as HTMLElement | null;
          if (done) {
            done.textContent = `${ev.ref}: ${review.status_after} by ${review.actor}`;
            done.dataset.state = 'ok';
          }
        } catch (err) {
          result.textContent = err instanceof ApiError ? err.describe() : String(err);
          result.dataset.state = 'error';
          update();
        }
      };
    }
    update();
    const box = this.box(
      'Decision',
      'jp-mlops-ev-decision',
      h('p', { class: 'jp-mlops-row-meta' }, `as ${ev.actor}`),
      comment,
      h('div', { class: 'jp-mlops-controls' }, approve, reject),
      why,
      result
    );
    if (!blockers.length) {
      requestAnimationFrame(() => comment.focus());
    }
    return box;
  }
}
