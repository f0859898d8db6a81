// @vitest-environment jsdom
// A tile offers exactly the actions the shared guards allow, and an engine error lands on
// the tile it belongs to, with its detail, while other tiles stay clean.
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { capsOf } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { setApi } from '../api/current';
import { applyVm } from '../store/events';
import { resetStreams } from '../store/streams';
import { resetStore, useStore } from '../store/store';
import { FakeTransport, makeVm } from '../test-support/fake-transport';
import { TileGrid } from './tile-grid';

function buttons(tile: HTMLElement): string[] {
  return within(within(tile).getByRole('group', { name: 'Actions' }))
    .getAllByRole('button')
    .map((b) => b.getAttribute('aria-label') ?? b.textContent?.trim() ?? '');
}

describe('VM tile', () => {
  let api: FakeTransport;
  let release: (() => void) | null;
  let sshFailsFor = '';
  beforeEach(() => {
    resetStore();
    resetStreams();
    release = null;
    api = new FakeTransport((method, req) => {
      if (method === 'vm.start') {
        return new Promise((_, reject) => {
          release = () =>
            reject(new FlotillaError('QEMU_FAILED', 'QEMU failed to start a: could not open disk', { logTail: ['qemu: disk.qcow2: Permission denied'] }));
        });
      }
      if (method === 'console.subscribe') return { scrollback: 'Welcome\r\nlinux-1:~# ' };
      if (method === 'vm.sshInfo') {
        const { id } = req as { id: string };
        if (id === sshFailsFor) return new FlotillaError('AGENT_ERROR', 'cannot read the SSH host key of linux-2');
        return { host: '127.0.0.1', port: 40022, user: 'root', hostKeyAlias: `flotilla-${id}`, knownHostsFile: `/h/vms/${id}/known_hosts`, hostKey: 'ssh-ed25519 AAAA', identityFile: '/h/ssh/id_ed25519' };
      }
      return { ok: true };
    });
    setApi(api);
  });
  afterEach(() => cleanup());

  it('offers actions by state, as the guards say', () => {
    applyVm(makeVm('run', { state: 'running' }));
    applyVm(makeVm('off', { state: 'stopped' }));
    applyVm(makeVm('zzz', { state: 'paused' }));
    applyVm(makeVm('bye', { state: 'stopping' }));
    render(<TileGrid />);
    expect(buttons(screen.getByRole('region', { name: 'VM run' }))).toEqual(['Stop', 'Pause', 'Restart', 'Force stop', 'Open']);
    expect(buttons(screen.getByRole('region', { name: 'VM off' }))).toEqual(['Start', 'Delete', 'Open']);
    expect(buttons(screen.getByRole('region', { name: 'VM zzz' }))).toEqual(['Stop', 'Resume', 'Restart', 'Force stop', 'Open']);
    expect(buttons(screen.getByRole('region', { name: 'VM bye' }))).toEqual(['Force stop', 'Open']);
    expect(screen.getByTestId('vm-run-state').textContent).toBe('running');
  });

  it('offers only what the VM\'s host can do, and a broken VM only start, force stop and delete', () => {
    applyVm(makeVm('lv', { state: 'running', host: 'lab', caps: capsOf(['lifecycle', 'console', 'display', 'exec', 'stats', 'logs', 'snapshots']) }));
    applyVm(makeVm('ro', { state: 'stopped', caps: capsOf([]) }));
    const broken = { reason: 'vm.json is not valid JSON', file: '/h/vms/x/vm.json' };
    applyVm(makeVm('bad', { state: 'running', broken, caps: capsOf([]) }));
    applyVm(makeVm('bad2', { state: 'stopped', broken, caps: capsOf([]) }));
    render(<TileGrid />);
    // no pause on a host without it
    expect(buttons(screen.getByRole('region', { name: 'VM lv' }))).toEqual(['Stop', 'Restart', 'Force stop', 'Open']);
    expect(buttons(screen.getByRole('region', { name: 'VM ro' }))).toEqual(['Open']);
    expect(buttons(screen.getByRole('region', { name: 'VM bad' }))).toEqual(['Force stop', 'Open']);
    expect(buttons(screen.getByRole('region', { name: 'VM bad2' }))).toEqual(['Start', 'Delete', 'Open']);
  });

  it('says when a VM\'s host is unreachable, keeping the state it last saw', () => {
    applyVm(makeVm('far', { state: 'running', host: 'lab' }));
    applyVm(makeVm('near', { state: 'running' }));
    useStore.setState((s) => ({
      vms: {
        ...s.vms,
        hosts: [
          { id: 'local', name: 'local', kind: 'local', state: 'connected', reason: null, vmCount: 1 },
          { id: 'lab', name: 'lab', kind: 'libvirt', state: 'failed', reason: 'ssh: connect to host 127.0.0.1 port 2222: Connection refused', vmCount: 1 },
        ],
      },
    }));
    render(<TileGrid />);
    const far = screen.getByRole('region', { name: 'VM far' });
    expect(within(far).getByText(/Host lab is unreachable: ssh: connect to host/).textContent).toContain('Shown as last seen');
    expect(screen.getByTestId('vm-far-state').textContent).toBe('running');
    expect(within(screen.getByRole('region', { name: 'VM near' })).queryByText(/unreachable/)).toBeNull();
  });

  it('asks whether to delete a libvirt VM\'s disks too, and passes the answer', async () => {
    applyVm(makeVm('lv2', { state: 'stopped', host: 'lab' }));
    const { App } = await import('../app');
    useStore.setState((s) => ({ vms: { ...s.vms, loaded: true } }));
    render(<App />);
    fireEvent.click(within(screen.getByRole('region', { name: 'VM lv2' })).getByRole('button', { name: 'Delete' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Delete lv2?' });
    expect(dialog.textContent).toContain('lab');
    expect(within(dialog).getByRole('button', { name: 'Delete VM, keep disks' })).toBeTruthy();
    fireEvent.click(within(dialog).getByRole('checkbox'));
    await act(async () => fireEvent.click(within(dialog).getByRole('button', { name: 'Delete VM and disks' })));
    expect(api.calls.find((c) => c.method === 'vm.delete')?.req).toMatchObject({ host: 'lab', storage: true });
  });

  it('shows pending on the tile, then the engine error with its detail on that tile only', async () => {
    applyVm(makeVm('a', { state: 'stopped' }));
    applyVm(makeVm('b', { state: 'stopped' }));
    render(<TileGrid />);
    const a = screen.getByRole('region', { name: 'VM a' });
    const b = screen.getByRole('region', { name: 'VM b' });
    fireEvent.click(within(a).getByRole('button', { name: 'Start' }));
    expect(within(a).getByRole('status').textContent).toContain('Starting…');
    expect(within(a).getByRole('button', { name: 'Start' })).toHaveProperty('disabled', true);
    expect(within(b).getByRole('button', { name: 'Start' })).toHaveProperty('disabled', false);
    await act(async () => release?.());
    const alert = within(a).getByRole('alert');
    expect(alert.textContent).toContain('Start failed');
    expect(alert.textContent).toContain('could not open disk');
    expect(alert.textContent).toContain('Permission denied');
    expect(within(b).queryByRole('alert')).toBeNull();
    fireEvent.click(within(alert).getByRole('button', { name: 'Dismiss error' }));
    expect(within(a).queryByRole('alert')).toBeNull();
  });

  it('shows the console tail of a headless VM and its forwarded ports', async () => {
    const vm = makeVm('linux-1', { state: 'running' });
    applyVm(vm);
    render(<TileGrid />);
    const tile = screen.getByRole('region', { name: 'VM linux-1' });
    expect(await within(tile).findByText(/linux-1:~#/)).toBeTruthy();
    expect(api.calls.some((c) => c.method === 'console.subscribe')).toBe(true);
    const ports = within(tile).getByRole('list', { name: 'Forwarded ports of linux-1' });
    expect(ports.textContent).toMatch(/127\.0\.0\.1:\d+ → 22/);
    expect(within(tile).getByRole('button', { name: /^Copy 127\.0\.0\.1:\d+$/ })).toBeTruthy();
  });

  it('says once why a VM crashed, and adds the exit\'s reason when it is another', () => {
    const exit = { at: '2026-12-07T00:00:00.000Z', code: null, signal: 'SIGKILL', reason: 'QEMU was killed by SIGKILL', logTail: [] };
    applyVm(makeVm('a', { state: 'crashed', reason: 'QEMU was killed by SIGKILL', lastExit: exit }));
    applyVm(makeVm('b', { state: 'crashed', reason: 'crashed 3 times in a row; not restarting', lastExit: exit }));
    render(<TileGrid />);
    const a = screen.getByRole('region', { name: 'VM a' });
    expect(within(a).getAllByText('QEMU was killed by SIGKILL')).toHaveLength(1);
    const b = screen.getByRole('region', { name: 'VM b' });
    expect(within(b).getByText('crashed 3 times in a row; not restarting')).toBeTruthy();
    expect(within(b).getByText('QEMU was killed by SIGKILL')).toBeTruthy();
  });

  it('copies an ssh command that pins the built-in guest host key, and says why when it cannot', async () => {
    const writes: string[] = [];
    Object.defineProperty(navigator, 'clipboard', { value: { writeText: async (t: string) => void writes.push(t) }, configurable: true });
    const vm = makeVm('linux-1', { state: 'running' });
    const other = makeVm('linux-2', { state: 'running' });
    sshFailsFor = other.id;
    applyVm(vm);
    applyVm(other);
    render(<TileGrid />);
    const tile = screen.getByRole('region', { name: 'VM linux-1' });
    await act(async () => fireEvent.click(within(tile).getByRole('button', { name: 'Copy ssh command for linux-1' })));
    expect(api.calls.find((c) => c.method === 'vm.sshInfo')?.req).toEqual({ host: 'local', id: vm.id });
    const cmd = `ssh -p 40022 -i /h/ssh/id_ed25519 -o HostKeyAlias=flotilla-${vm.id} -o UserKnownHostsFile=/h/vms/${vm.id}/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes root@127.0.0.1`;
    expect(writes).toEqual([cmd]);
    expect(within(tile).getByRole('button', { name: `Copied ${cmd}` })).toBeTruthy();

    const tile2 = screen.getByRole('region', { name: 'VM linux-2' });
    await act(async () => fireEvent.click(within(tile2).getByRole('button', { name: 'Copy ssh command for linux-2' })));
    expect(writes).toHaveLength(1);
    expect(within(tile2).getByRole('button', { name: 'Could not copy: cannot read the SSH host key of linux-2' })).toBeTruthy();
  });

  it('offers ssh on its address for a built-in VM of a libvirt host, through that host when it is remote', async () => {
    const writes: string[] = [];
    Object.defineProperty(navigator, 'clipboard', { value: { writeText: async (t: string) => void writes.push(t) }, configurable: true });
    useStore.setState((s) => ({
      vms: {
        ...s.vms,
        hosts: [
          { id: 'local', name: 'This computer', kind: 'local', state: 'connected', reason: null, vmCount: 0 },
          { id: 'here', name: 'here', kind: 'libvirt', state: 'connected', reason: null, vmCount: 2, uri: 'qemu:///system' },
          { id: 'lab', name: 'lab', kind: 'libvirt', state: 'connected', reason: null, vmCount: 1, uri: 'qemu+ssh://ops@lab/system' },
        ],
      },
    }));
    const near = makeVm('near', { state: 'running', host: 'here', ports: [], ips: ['192.168.122.48'] });
    const usernet = makeVm('usernet', { state: 'running', host: 'here', ports: [], ips: ['10.0.2.15'] });
    const far = makeVm('far', { state: 'running', host: 'lab', ports: [], ips: ['192.168.122.9'] });
    for (const v of [near, usernet, far]) applyVm(v);
    render(<TileGrid />);
    const chips = screen.getByRole('list', { name: 'SSH to near' });
    expect(chips.textContent).toContain('ssh root@192.168.122.48');
    await act(async () => fireEvent.click(within(chips).getByRole('button', { name: 'Copy ssh command for near' })));
    expect(api.calls.find((c) => c.method === 'vm.sshInfo')?.req).toEqual({ host: 'here', id: near.id });
    expect(writes).toHaveLength(1);
    expect(chips.textContent).not.toContain(' via ');
    expect(screen.queryByRole('list', { name: 'SSH to usernet' })).toBeNull();
    // a remote host's guest: its address is the host's network's, reached through the host
    const far2 = screen.getByRole('list', { name: 'SSH to far' });
    expect(far2.textContent).toContain('ssh root@192.168.122.9 via lab');
    await act(async () => fireEvent.click(within(far2).getByRole('button', { name: 'Copy ssh command for far' })));
    expect(api.calls.filter((c) => c.method === 'vm.sshInfo').at(-1)?.req).toEqual({ host: 'lab', id: far.id });
  });

  it('copies plain ssh for a guest that is not the built-in Linux', async () => {
    const writes: string[] = [];
    Object.defineProperty(navigator, 'clipboard', { value: { writeText: async (t: string) => void writes.push(t) }, configurable: true });
    const vm = makeVm('iso-vm', { state: 'running' });
    applyVm({ ...vm, spec: { ...vm.spec, source: { kind: 'iso', path: '/isos/x.iso', diskSizeGiB: 16 } } });
    render(<TileGrid />);
    const tile = screen.getByRole('region', { name: 'VM iso-vm' });
    await act(async () => fireEvent.click(within(tile).getByRole('button', { name: 'Copy ssh command for iso-vm' })));
    expect(writes).toEqual([`ssh -p ${vm.ports[0]!.hostPort} 127.0.0.1`]);
    expect(api.calls.some((c) => c.method === 'vm.sshInfo')).toBe(false);
  });

  it('asks before deleting and says the disks go too', async () => {
    applyVm(makeVm('old', { state: 'stopped', spec: { ...makeVm('x').spec, name: 'old', disks: ['disk.qcow2'] } }));
    const { App } = await import('../app');
    useStore.setState((s) => ({ vms: { ...s.vms, loaded: true } }));
    render(<App />);
    fireEvent.click(within(screen.getByRole('region', { name: 'VM old' })).getByRole('button', { name: 'Delete' }));
    const dlg = screen.getByRole('alertdialog', { name: 'Delete old?' });
    expect(dlg.textContent).toMatch(/disks/);
    expect(api.calls.some((c) => c.method === 'vm.delete')).toBe(false);
    await act(async () => fireEvent.click(within(dlg).getByRole('button', { name: 'Delete VM and disks' })));
    expect(api.calls.find((c) => c.method === 'vm.delete')?.req).toMatchObject({ id: expect.any(String) });
    expect(screen.queryByRole('region', { name: 'VM old' })).toBeNull();
  });
});

describe('start warnings', () => {
  beforeEach(() => {
    resetStore();
    resetStreams();
  });
  afterEach(() => cleanup());

  it('shows what the engine warned about on the started tile, until dismissed', async () => {
    const warning = 'starting w needs 2048 MiB; running VMs may use 20000 MiB of the 21000 MiB this machine has available';
    const api = new FakeTransport((method, req) => {
      if (method === 'vm.start') return { ...makeVm('w', { id: (req as { id: string }).id, state: 'running' }), warnings: [warning] };
      return { ok: true };
    });
    setApi(api);
    applyVm(makeVm('w', { state: 'stopped' }));
    render(<TileGrid />);
    const tile = screen.getByRole('region', { name: 'VM w' });
    await act(async () => fireEvent.click(within(tile).getByRole('button', { name: 'Start' })));
    const status = await within(tile).findByText(warning);
    expect(status).toBeTruthy();
    fireEvent.click(within(tile).getByRole('button', { name: 'Dismiss warning' }));
    expect(within(tile).queryByText(warning)).toBeNull();
  });
});
