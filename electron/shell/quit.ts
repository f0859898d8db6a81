// The quit flow: nothing running → quit at once; VMs running → ask to stop them (graceful,
// with a deadline, via engine.stopAll which honours keepRunningOnQuit) or keep them running
// in the background for the next start to adopt. Closing the engine never stops VMs.
import { app, dialog, type BrowserWindow } from 'electron';
import { STOP_DEADLINE_MS, type CallContext, type ContractHandler, type VmInfo } from '../../shared/contract';
import { planQuit, quitQuestion } from './quit-plan';

export { STOP_DEADLINE_MS };

const quitCtx: CallContext = { clientId: 'main-quit', emit: () => {}, onClose: () => {} };

export function installQuitFlow(opts: {
  handler: ContractHandler;
  /** asked at quit time: a window that took over a dead engine owns the VMs from then on */
  role: () => 'engine' | 'client';
  closeEngine: () => Promise<void>;
  window: () => BrowserWindow | null;
  log: (line: string) => void;
}): void {
  let phase: 'open' | 'deciding' | 'done' = 'open';

  const decide = async (): Promise<boolean> => {
    let vms: VmInfo[] = [];
    try {
      vms = await opts.handler.handle('vm.list', {}, quitCtx);
    } catch (err) {
      // Leaving VMs running is the safe failure: the next start adopts them.
      opts.log(`quit: could not list VMs (${String(err)}); leaving any running VMs alone`);
    }
    const plan = planQuit(vms, opts.role());
    if (plan.kind === 'ask') {
      const q = quitQuestion(plan);
      const win = opts.window();
      const box = { type: 'question' as const, buttons: ['Stop VMs and quit', 'Keep running in background', 'Cancel'], defaultId: 0, cancelId: 2, noLink: true, ...q };
      const { response } = win ? await dialog.showMessageBox(win, box) : await dialog.showMessageBox(box);
      if (response === 2) return false;
      if (response === 0) {
        const r = await opts.handler.handle('engine.stopAll', { deadlineMs: STOP_DEADLINE_MS, includeKeepRunning: false }, quitCtx);
        opts.log(`quit: stopped ${r.stopped.length} VM(s), kept ${r.keptRunning.length} running`);
      }
    }
    await opts.closeEngine();
    return true;
  };

  app.on('before-quit', (e) => {
    if (phase === 'done') return;
    e.preventDefault();
    if (phase === 'deciding') return;
    phase = 'deciding';
    decide().then(
      (go) => {
        phase = go ? 'done' : 'open';
        if (go) app.quit();
      },
      (err: unknown) => {
        opts.log(`quit: ${String(err)}`);
        phase = 'open';
        dialog.showErrorBox('Could not stop the VMs', String(err));
      },
    );
  });
  app.on('window-all-closed', () => app.quit());
}
