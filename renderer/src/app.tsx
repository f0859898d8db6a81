// The window: header with the tiles toolbar, connection banner, then either the tiles (or
// the first-run empty state) or one opened VM; dialogs on top.
import { lazy, Suspense, type ProfilerOnRenderCallback, type ReactElement } from 'react';
import { ConfirmDelete } from './components/confirm-delete';
import { ConfirmForceStop, ConfirmStopAll } from './components/confirm-force-stop';
import { ConnectionBanner } from './components/connection-banner';
import { EmptyState } from './components/empty-state';
import { HelpOverlay } from './components/help-overlay';
import { HostBar } from './components/host-bar';
import { Icon } from './components/icons';
import { InlineError } from './components/inline-error';
import { AddDiskDialog, CloneDialog, ExportDialog, ImportDialog, InsertCdDialog } from './components/lifecycle-dialogs';
import { SelectionBar } from './components/selection-bar';
import { ThemeSwitch } from './components/theme-switch';
import { TileGrid } from './components/tile-grid';
import { Toolbar } from './components/toolbar';
import { useShortcuts } from './lib/use-shortcuts';
import { dismissNotice, openDialog } from './store/actions';
import { selectVmCount } from './store/selectors';
import { useStore } from './store/store';

// The VM view carries xterm.js and noVNC; load them when a VM is first opened, so the
// tiles view comes up fast.
const VmView = lazy(() => import('./views/vm-view').then((m) => ({ default: m.VmView })));
// The create dialog validates with the VM spec's schemas (zod, ~100 KB): loaded when first opened,
// not before the first tile (issue 15, firstTileMs).
const CreateVmDialog = lazy(() => import('./components/create-vm-dialog').then((m) => ({ default: m.CreateVmDialog })));
// Hosts validates host names with the contract's schema (zod) too
const HostsDialog = lazy(() => import('./components/hosts-dialog').then((m) => ({ default: m.HostsDialog })));

function Dialogs(): ReactElement | null {
  const dialog = useStore((s) => s.ui.dialog);
  if (!dialog) return null;
  if (dialog.kind === 'create')
    return (
      <Suspense fallback={null}>
        <CreateVmDialog />
      </Suspense>
    );
  if (dialog.kind === 'delete') return <ConfirmDelete id={dialog.id} />;
  if (dialog.kind === 'forceStop') return <ConfirmForceStop id={dialog.id} />;
  if (dialog.kind === 'stopAll') return <ConfirmStopAll />;
  if (dialog.kind === 'clone') return <CloneDialog id={dialog.id} />;
  if (dialog.kind === 'export') return <ExportDialog id={dialog.id} />;
  if (dialog.kind === 'addDisk') return <AddDiskDialog id={dialog.id} />;
  if (dialog.kind === 'insertCd') return <InsertCdDialog id={dialog.id} />;
  if (dialog.kind === 'import') return <ImportDialog />;
  if (dialog.kind === 'hosts')
    return (
      <Suspense fallback={null}>
        <HostsDialog />
      </Suspense>
    );
  return <HelpOverlay />;
}

function Main({ onTileRender }: { onTileRender?: ProfilerOnRenderCallback | undefined }): ReactElement {
  const openId = useStore((s) => s.ui.openVmId);
  const loaded = useStore((s) => s.vms.loaded);
  const count = useStore((s) => selectVmCount(s) + Object.values(s.vms.creating).filter((c) => c.vmId !== null).length);
  if (openId)
    return (
      <Suspense
        fallback={
          <div className="loading" role="status">
            <span className="spinner" aria-hidden="true" /> Opening…
          </div>
        }
      >
        <VmView id={openId} />
      </Suspense>
    );
  if (!loaded)
    return (
      <div className="loading" role="status">
        <span className="spinner" aria-hidden="true" /> Connecting to the engine…
      </div>
    );
  return (
    <>
      <h1 className="visually-hidden">Virtual machines</h1>
      {count === 0 ? (
        <EmptyState />
      ) : (
        <>
          <div className="grid-head">
            <HostBar />
            <SelectionBar />
          </div>
          <TileGrid {...(onTileRender ? { onTileRender } : {})} />
        </>
      )}
    </>
  );
}

export function App({ onTileRender }: { onTileRender?: ProfilerOnRenderCallback }): ReactElement {
  useShortcuts();
  const notice = useStore((s) => s.ui.notice);
  const openId = useStore((s) => s.ui.openVmId);
  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            <Icon name="logo" size={18} />
          </span>
          <span className="brand-name">Flotilla</span>
        </div>
        {!openId && <Toolbar />}
        <ThemeSwitch />
        <button type="button" className="icon-btn" aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)" onClick={() => openDialog({ kind: 'help' })}>
          <Icon name="keyboard" />
        </button>
      </header>
      <ConnectionBanner />
      <main className="content">
        {notice && <InlineError error={notice} onDismiss={dismissNotice} />}
        <Main onTileRender={onTileRender} />
      </main>
      <Dialogs />
    </div>
  );
}
