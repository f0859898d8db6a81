// One VM in the tiles view. The tile itself reads only the VM's info and its own op state;
// stats and thumbnails are read by child components, so a stats tick re-renders one small
// part of one tile.
import { memo, useEffect, useRef, type ReactElement } from 'react';
import { isLocalLibvirtUri, reachableAddress } from '../../../shared/ssh-command';
import { isActive } from '../../../shared/state';
import { formatBytes, formatMiB, formatPercent } from '../lib/format';
import { useConsoleScreen } from '../lib/use-console-screen';
import { useVisible } from '../lib/use-visible';
import { clearTileError, clearTileWarnings, openVm, setFocused } from '../store/actions';
import { useShallow } from 'zustand/react/shallow';
import { selectHostName, selectHostTrouble } from '../store/selectors';
import { useVmStats } from '../store/stats-store';
import { acquire } from '../store/streams';
import { useStore } from '../store/store';
import { Icon } from './icons';
import { InlineError } from './inline-error';
import { InlineWarnings } from './inline-warnings';
import { CopyButton } from './copy-button';
import { checkedSshCommand, PortChips } from './port-chips';
import { JobProgress } from './job-progress';
import { SelectTile } from './selection-bar';
import { Sparkline } from './sparkline';
import { StateBadge } from './state-badge';
import { StopCountdown } from './stop-countdown';
import { PendingStatus } from './pending-status';
import { VmActions } from './vm-actions';

const EMPTY: number[] = [];

function TileStats({ id, memoryMiB }: { id: string; memoryMiB: number }): ReactElement {
  const series = useVmStats(id);
  const cpu = series?.cpu ?? EMPTY;
  const rss = series?.rss ?? EMPTY;
  const lastCpu = cpu[cpu.length - 1];
  const lastRss = rss[rss.length - 1];
  const cpuText = lastCpu === undefined ? '—' : formatPercent(lastCpu);
  const memText = lastRss === undefined ? '—' : formatBytes(lastRss);
  return (
    <div className="metrics">
      <div className="metric">
        <div className="metric-head">
          <span className="metric-label">CPU</span>
          <span className="metric-value">{cpuText}</span>
        </div>
        <Sparkline values={cpu} max={100} tone="cpu" label={`CPU ${cpuText} over the last 60 seconds`} />
      </div>
      <div className="metric">
        <div className="metric-head">
          <span className="metric-label">Memory</span>
          <span className="metric-value">
            {memText}
            
          </span>
        </div>
        <Sparkline values={rss} max={memoryMiB * 1024 * 1024} tone="mem" label={`Memory ${memText} over the last 60 seconds`} />
      </div>
    </div>
  );
}

function ScreenThumb({ id, name }: { id: string; name: string }): ReactElement {
  const png = useStore((s) => s.consoles.thumbs[id]);
  return png ? (
    <img className="thumb-img" src={`data:image/png;base64,${png}`} alt={`Screen of ${name}`} data-testid={`vm-${name}-screen`} />
  ) : (
    <div className="thumb-empty">Waiting for the screen…</div>
  );
}

/** What the console's terminal shows now (a headless terminal's screen; see use-console-screen.ts). */
function ConsoleThumb({ id, name }: { id: string; name: string }): ReactElement {
  const screen = useConsoleScreen(id);
  return screen.trim() ? (
    <pre className="thumb-text" data-testid={`vm-${name}-console-thumb`}>
      {screen}
    </pre>
  ) : (
    <div className="thumb-empty">Waiting for console output…</div>
  );
}

function Thumbnail({ id }: { id: string }): ReactElement | null {
  const ref = useRef<HTMLElement>(null);
  const visible = useVisible(ref);
  const name = useStore((s) => s.vms.byId[id]?.name ?? '');
  const hasDisplay = useStore((s) => s.vms.byId[id]?.hasDisplay ?? false);
  const active = useStore((s) => (s.vms.byId[id] ? isActive(s.vms.byId[id]) : false));
  const reason = useStore((s) => s.vms.byId[id]?.reason ?? '');
  const state = useStore((s) => s.vms.byId[id]?.state ?? 'stopped');
  useEffect(() => {
    if (!visible || !active) return;
    return acquire(hasDisplay ? 'thumbnail' : 'console', id);
  }, [visible, active, hasDisplay, id]);
  return (
    <figure ref={ref} className={`thumb${hasDisplay ? ' thumb-screen' : ''}`} aria-label={`${hasDisplay ? 'Screen' : 'Console'} of ${name}`} onDoubleClick={() => openVm(id, hasDisplay ? 'display' : 'console')}>
      {!active ? (
        <div className="thumb-empty thumb-off">
          <Icon name={state === 'crashed' ? 'alert' : 'power'} size={20} />
          <span className="thumb-off-state">{state}</span>
          {reason && <span className="thumb-off-reason">{reason}</span>}
        </div>
      ) : hasDisplay ? (
        <ScreenThumb id={id} name={name} />
      ) : (
        <ConsoleThumb id={id} name={name} />
      )}
    </figure>
  );
}

const AGENT_TEXT = { unknown: 'Agent —', connecting: 'Agent connecting', ready: 'Agent ready', unavailable: 'No agent' } as const;

export const VmTile = memo(function VmTile({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  // a built-in VM of a libvirt host is reached on its address (no forwards there): from here when
  // the host is this computer, else through that host (the copied command says how)
  const hostUri = useStore((s) => (vm && vm.host !== 'local' ? s.vms.hosts.find((h) => h.id === vm.host)?.uri : undefined));
  const sshAt = !!vm && vm.host !== 'local' && vm.state === 'running' && vm.spec.source.kind === 'default' && reachableAddress(vm.ips) !== null;
  const pending = useStore((s) => s.vms.ops[id]?.pending ?? null);
  const error = useStore((s) => s.vms.ops[id]?.error ?? null);
  const warnings = useStore(useShallow((s) => s.vms.ops[id]?.warnings ?? []));
  const hostName = useStore((s) => (vm ? selectHostName(s, vm.host) : null));
  const hostTrouble = useStore((s) => (vm ? selectHostTrouble(s, vm.host) : null));
  if (!vm) return null;
  const active = isActive(vm);
  return (
    <section
      className={`tile tile-${vm.state}`}
      aria-label={`VM ${vm.name}`}
      data-vm-id={id}
      tabIndex={-1}
      onFocus={() => setFocused(id)}
    >
      <header className="tile-head">
        <SelectTile id={id} name={vm.name} />
        <h2 className="tile-name" title={vm.name}>
          <button type="button" className="linklike" onClick={() => openVm(id)}>
            {vm.name}
          </button>
        </h2>
        {pending && <PendingStatus pending={pending} state={vm.state} />}
        <StateBadge name={vm.name} state={vm.state} />
      </header>
      {hostName && (
        <p className="tile-host" aria-label={`${vm.name} is on host ${hostName}`}>
          {hostName}
        </p>
      )}
      {hostTrouble && (
        <p className="tile-unreachable" role="status">
          Host {hostTrouble}. Shown as last seen.
        </p>
      )}
      {vm.broken && (
        <p className="tile-broken" role="alert">
          Broken: {vm.broken.reason}
        </p>
      )}
      <Thumbnail id={id} />
      {vm.progress && <JobProgress id={id} progress={vm.progress} />}
      {active && <TileStats id={id} memoryMiB={vm.spec.memoryMiB} />}
      <dl className="facts">
        <div>
          <dt>IP</dt>
          <dd>{vm.ips[0] ?? '—'}</dd>
        </div>
        <div>
          <dt>Agent</dt>
          <dd className={`agent agent-${vm.agent}`}>
            <span className="agent-dot" aria-hidden="true" />
            {AGENT_TEXT[vm.agent].replace(/^Agent /, '')}
          </dd>
        </div>
        <div>
          <dt>Size</dt>
          <dd className="fact-wrap">
            <span>{vm.spec.cpus} vCPU ·</span> <span>{formatMiB(vm.spec.memoryMiB)}</span>
          </dd>
        </div>
      </dl>
      {vm.spec.note && (
        <p className="tile-note" title={vm.spec.note} data-testid={`vm-${vm.name}-note`}>
          {vm.spec.note}
        </p>
      )}
      <PortChips ports={vm.ports} vmName={vm.name} builtinOf={vm.spec.source.kind === 'default' ? { host: vm.host, id: vm.id } : undefined} />
      {sshAt && (
        <ul className="chips" aria-label={`SSH to ${vm.name}`}>
          <li className="chip">
            <span className="chip-text">
              ssh root@{reachableAddress(vm.ips)}
              {!isLocalLibvirtUri(hostUri) && <span className="chip-via"> via {hostName}</span>}
            </span>
            <CopyButton text={() => checkedSshCommand({ host: vm.host, id: vm.id })} label={`Copy ssh command for ${vm.name}`} className="chip-copy chip-copy-ssh" />
          </li>
        </ul>
      )}
      <StopCountdown id={id} />
      {/* the preview above already says the state's reason; the exit's own is added when it differs */}
      {vm.state === 'crashed' && vm.lastExit && vm.lastExit.reason !== vm.reason && <p className="tile-reason">{vm.lastExit.reason}</p>}
      {error && <InlineError error={error} onDismiss={() => clearTileError(id)} />}
      <InlineWarnings warnings={warnings} onDismiss={() => clearTileWarnings(id)} />
      <footer className="tile-foot">
        <VmActions id={id} />
      </footer>
    </section>
  );
});
