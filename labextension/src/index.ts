/**
 * jupyter-mlops for JupyterLab: the MLOps side panel and three palette commands.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { listIcon } from '@jupyterlab/ui-components';

import { ApiError, postAPI } from './api';
import { CardView } from './card';
import { MlopsPanel } from './panel';
import { ReviewView } from './review';

export const COMMANDS = {
  runNotebook: 'jupyter-mlops:run-notebook',
  openCard: 'jupyter-mlops:open-card',
  openReview: 'jupyter-mlops:open-review',
  verifyAudit: 'jupyter-mlops:verify-audit'
};

function describe(err: unknown): string {
  return err instanceof ApiError ? `${err.error}: ${err.describe()}` : String((err as Error)?.message ?? err);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:sidebar',
  description: 'MLOps side panel: runs, data versions, models, reviews and the audit chain.',
  autoStart: true,
  optional: [INotebookTracker, ICommandPalette, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker | null,
    palette: ICommandPalette | null
  ) => {
    const settings = app.serviceManager.serverSettings;
    const openCard = (spec: string) => {
      const widget = new MainAreaWidget({ content: new CardView(settings, spec) });
      widget.id = `jupyter-mlops-card-${Date.now()}`;
      widget.title.label = `Card ${spec}`;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
    };
    const openReview = (spec: string) => {
      const content = new ReviewView(settings, spec, () => void panel.refresh());
      const existing = Array.from(app.shell.widgets('main')).find(w => w.id === content.id);
      if (existing) {
        content.dispose();
        app.shell.activateById(existing.id);
        return;
      }
      const widget = new MainAreaWidget({ content });
      widget.id = content.id;
      widget.title.label = `Review ${spec}`;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
    };
    const panel = new MlopsPanel(settings, openReview, openCard);
    panel.title.icon = listIcon;
    app.shell.add(panel, 'left', { rank: 900 });

    if (tracker) {
      const follow = () => panel.setNotebook(tracker.currentWidget?.context.path ?? null);
      tracker.currentChanged.connect(follow);
      tracker.widgetAdded.connect((_, nb) => {
        void nb.context.ready.then(follow);
      });
      follow();
    }

    app.commands.addCommand(COMMANDS.runNotebook, {
      label: 'MLOps: Run current notebook as a tracked pipeline stage',
      isEnabled: () => !!tracker?.currentWidget,
      execute: async () => {
        const nb = tracker?.currentWidget;
        if (!nb) {
          return;
        }
        await nb.context.save();
        const path = nb.context.path;
        const id = Notification.emit(`Running ${path} as a tracked stage...`, 'in-progress', { autoClose: false });
        try {
          const result = await postAPI<any>(settings, 'pipelines/run-notebook', { path });
          const outcome = String(result?.outcome ?? 'done');
          const output = typeof result?.output_notebook === 'string' ? result.output_notebook : null;
          const open = output
            ? [{ label: 'Open output notebook', caption: output, callback: () => void app.commands.execute('docmanager:open', { path: output }) }]
            : [];
          if (outcome === 'SUCCEEDED' || outcome === 'CACHED') {
            Notification.update({ id, message: `${path}: ${outcome} (run ${String(result?.run_id ?? '')})`, type: 'success', autoClose: 8000, actions: open });
          } else {
            // Which cell failed, with which error, and the executed notebook to look at.
            const cell = typeof result?.cell_index === 'number' ? `cell ${result.cell_index + 1}` : 'a cell';
            const error = result?.ename ? `${result.ename}: ${result.evalue ?? ''}` : String(result?.message ?? outcome);
            Notification.update({ id, message: `${path}: ${outcome} in ${cell}: ${error}`.slice(0, 500), type: 'error', autoClose: false, actions: open });
          }
          await panel.refresh();
          return result;
        } catch (err) {
          Notification.update({ id, message: describe(err), type: 'error', autoClose: 10000 });
        }
      }
    });

    // Open a page of one model version: the spec from the command's args, else asked for.
    const specCommand = (id: string, label: string, title: string, open: (spec: string) => void) =>
      app.commands.addCommand(id, {
        label,
        execute: async args => {
          let spec = typeof args?.spec === 'string' ? args.spec : '';
          if (!spec) {
            const answer = await InputDialog.getText({ title, placeholder: 'credit-model@1' });
            spec = answer.button.accept ? (answer.value ?? '').trim() : '';
          }
          if (spec) {
            open(spec);
          }
        }
      });
    specCommand(COMMANDS.openCard, "MLOps: Open a model's card", 'Model version (NAME@VERSION)', openCard);
    specCommand(COMMANDS.openReview, 'MLOps: Review a model version', 'Model version to review (NAME@VERSION)', openReview);

    app.commands.addCommand(COMMANDS.verifyAudit, {
      label: 'MLOps: Verify the audit chain',
      execute: async () => {
        try {
          const result = await panel.verifyAudit();
          if (result.ok) {
            Notification.success(`Audit chain intact (${result.checked} events)`, { autoClose: 5000 });
          } else {
            Notification.error(`Audit chain broken at event #${result.first_bad_seq}: ${result.reason}`, { autoClose: false });
          }
          return result;
        } catch (err) {
          Notification.error(describe(err), { autoClose: 8000 });
        }
      }
    });

    if (palette) {
      for (const command of Object.values(COMMANDS)) {
        palette.addItem({ command, category: 'MLOps' });
      }
    }
  }
};

export default plugin;
