/**
 * A model card in the main area, built from the card JSON with text nodes only.
 */
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { ApiError, requestAPI, seg } from './api';
import { facts, h, stamp, table, text } from './dom';

export class CardView extends Widget {
  constructor(settings: ServerConnection.ISettings, readonly spec: string) {
    super();
    this.addClass('jp-mlops-cardview');
    this.id = `jupyter-mlops-card-${spec.replace(/[^A-Za-z0-9_-]/g, '-')}`;
    this.title.label = `Card ${spec}`;
    this.title.closable = true;
    this.node.appendChild(h('p', {}, `Loading the card of ${spec}...`));
    void this.load(settings);
  }

  private async load(settings: ServerConnection.ISettings): Promise<void> {
    try {
      const card = await requestAPI<any>(settings, `cards/${seg(this.spec)}`);
      this.node.textContent = '';
      this.node.append(
        h('h1', {}, `Model card: ${card.model_name}@${card.model_version}`),
        facts([
          ['card version', card.card_version],
          ['author', card.author],
          ['written', stamp(card.ts)],
          ['sha256', card.sha256]
        ])
      );
      for (const section of card.sections ?? []) {
        const node = h('section', { class: 'jp-mlops-card-section', data: { key: String(section.key) } }, h('h2', {}, String(section.title)));
        if (section.text) {
          node.appendChild(h('p', { class: 'jp-mlops-card-text' }, String(section.text)));
        }
        if ((section.facts ?? []).length) {
          node.appendChild(facts(section.facts.map((f: [string, unknown]) => [String(f[0]), f[1]])));
        }
        for (const t of section.tables ?? []) {
          node.appendChild(h('h4', {}, String(t.title)));
          node.appendChild(table((t.columns ?? []).map(String), (t.rows ?? []).map((r: unknown[]) => r.map(text))));
        }
        this.node.appendChild(node);
      }
      this.node.dataset.loaded = 'true';
    } catch (err) {
      this.node.textContent = err instanceof ApiError ? `${err.error}: ${err.describe()}` : String(err);
      this.node.dataset.loaded = 'error';
    }
  }
}
