// One VM, opened: header with state and actions, then tabs (a proper ARIA tablist with arrow
// keys) for console, display, exec, files, snapshots, logs and settings.
import { useRef, type KeyboardEvent, type ReactElement } from 'react';
import { offersTab } from '../../../shared/offers';
import { Icon } from '../components/icons';
import { InlineError } from '../components/inline-error';
import { PortChips } from '../components/port-chips';
import { JobProgress } from '../components/job-progress';
import { MediaControls } from '../components/media-controls';
import { StateBadge } from '../components/state-badge';
import { StopCountdown } from '../components/stop-countdown';
import { VmActions } from '../components/vm-actions';
import { clearTileError, closeVm, setTab } from '../store/actions';
import { useStore, type VmTab } from '../store/store';
import { ConsoleTab } from './tabs/console-tab';
import { DisplayTab } from './tabs/display-tab';
import { ExecTab } from './tabs/exec-tab';
import { FilesTab } from './tabs/files-tab';
import { LogsTab } from './tabs/logs-tab';
import { SettingsTab } from './tabs/settings-tab';
import { SnapshotsTab } from './tabs/snapshots-tab';
import { PendingStatus } from '../components/pending-status';

const TABS: { id: VmTab; label: string }[] = [
  { id: 'console', label: 'Console' },
  { id: 'display', label: 'Display' },
  { id: 'exec', label: 'Exec' },
  { id: 'files', label: 'Files' },
  { id: 'snapshots', label: 'Snapshots' },
  { id: 'logs', label: 'Logs' },
  { id: 'settings', label: 'Settings' },
];

export function VmView({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const chosenTab = useStore((s) => s.ui.tab);
  const pending = useStore((s) => s.vms.ops[id]?.pending ?? null);
  const error = useStore((s) => s.vms.ops[id]?.error ?? null);
  const tabRefs = useRef<(HTMLButtonElement | null)[]>([]);
  if (!vm) return null;
  // only the tabs this VM's host can serve (a libvirt VM has no Settings; a broken VM only Logs)
  const tabs = TABS.filter((t) => offersTab(vm, t.id));
  const tab = tabs.some((t) => t.id === chosenTab) ? chosenTab : (tabs[0]?.id ?? 'logs');

  const onTabKey = (e: KeyboardEvent, i: number): void => {
    const n = tabs.length;
    const to = e.key === 'ArrowRight' ? (i + 1) % n : e.key === 'ArrowLeft' ? (i - 1 + n) % n : e.key === 'Home' ? 0 : e.key === 'End' ? n - 1 : -1;
    if (to < 0) return;
    e.preventDefault();
    const t = tabs[to];
    if (!t) return;
    setTab(t.id);
    tabRefs.current[to]?.focus();
  };

  return (
    <section className="vm-view" aria-label={`VM ${vm.name}`}>
      <div className="vm-view-head">
        <button type="button" className="btn btn-ghost btn-sm" onClick={closeVm}>
          <Icon name="back" size={14} /> All VMs
        </button>
        <div className="vm-title">
          <h1>{vm.name}</h1>
          <StateBadge name={vm.name} state={vm.state} />
          {pending && <PendingStatus pending={pending} state={vm.state} />}
        </div>
        <div className="vm-view-meta">
          {/* a VM that is not up has no address to wait for */}
          {(vm.ips[0] !== undefined || vm.state === 'starting' || vm.state === 'running') && <span data-testid="vm-ip">{vm.ips[0] ?? 'No IP yet'}</span>}
          {vm.guestOs && (
            <span className="vm-os" title={vm.guestOs} data-testid="guest-os">
              {vm.guestOs}
            </span>
          )}
          <PortChips ports={vm.ports} vmName={vm.name} builtinOf={vm.spec.source.kind === 'default' ? { host: vm.host, id: vm.id } : undefined} />
          <MediaControls id={id} />
        </div>
        <VmActions id={id} showOpen={false} />
      </div>
      <StopCountdown id={id} />
      {vm.progress && <JobProgress id={id} progress={vm.progress} />}
      {error && <InlineError error={error} onDismiss={() => clearTileError(id)} />}
      <div className="tabs" role="tablist" aria-label={`${vm.name} views`}>
        {tabs.map((t, i) => (
          <button
            key={t.id}
            ref={(el) => {
              tabRefs.current[i] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={tab === t.id ? 0 : -1}
            className="tab"
            onClick={() => setTab(t.id)}
            onKeyDown={(e) => onTabKey(e, i)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div className="tab-panel" role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} tabIndex={tab === 'console' || tab === 'display' ? -1 : 0}>
        {tab === 'console' && <ConsoleTab id={id} />}
        {tab === 'display' && <DisplayTab id={id} />}
        {tab === 'exec' && <ExecTab id={id} />}
        {tab === 'files' && <FilesTab id={id} />}
        {tab === 'snapshots' && <SnapshotsTab id={id} />}
        {tab === 'logs' && <LogsTab id={id} />}
        {tab === 'settings' && <SettingsTab key={id} id={id} />}
      </div>
    </section>
  );
}
