// @vitest-environment jsdom
// The Hosts dialog: the URI its form describes, what it refuses before sending, and what it
// sends and shows (the engine is a FakeTransport here; e2e/libvirt.spec.ts adds and forgets a
// host against the real libvirtd).
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { setApi } from '../api/current';
import { connectStore } from '../store/events';
import { resetStore, useStore } from '../store/store';
import { FakeTransport } from '../test-support/fake-transport';
import { EMPTY_HOST_FORM, hostFormErrors, hostUri, HostsDialog } from './hosts-dialog';

const LOCAL: HostInfo = { id: 'local', name: 'local', kind: 'local', state: 'connected', reason: null, vmCount: 2 };
const LAB: HostInfo = { id: 'lab', name: 'lab', kind: 'libvirt', state: 'failed', reason: 'ssh: connect to host lab.example.org port 22: Connection refused', vmCount: 3, uri: 'qemu+ssh://ops@lab.example.org/system' };

describe('hostUri', () => {
  it('builds the URI flotilla host add takes', () => {
    expect(hostUri({ ...EMPTY_HOST_FORM, where: 'system' })).toBe('qemu:///system');
    expect(hostUri({ ...EMPTY_HOST_FORM, where: 'session' })).toBe('qemu:///session');
    expect(hostUri({ ...EMPTY_HOST_FORM, address: ' lab.example.org ' })).toBe('qemu+ssh://lab.example.org/system');
    expect(hostUri({ ...EMPTY_HOST_FORM, user: 'ops', address: 'lab', port: '2222' })).toBe('qemu+ssh://ops@lab:2222/system');
    expect(hostUri({ ...EMPTY_HOST_FORM, address: 'fd00::5' })).toBe('qemu+ssh://[fd00::5]/system');
    expect(hostUri({ ...EMPTY_HOST_FORM, address: '' })).toBeNull();
  });
});

describe('hostFormErrors', () => {
  it('names each field to fix', () => {
    expect(hostFormErrors({ ...EMPTY_HOST_FORM }, [])).toEqual({ name: 'Give the host a name', address: 'The computer’s host name or address' });
    expect(hostFormErrors({ ...EMPTY_HOST_FORM, name: 'Lab', address: 'ops@lab', port: '70000', user: 'a b', identity: '~/.ssh/id' }, [])).toEqual({
      name: expect.stringContaining('Lower-case'),
      address: 'Only the host name or address (no user, port or path)',
      port: 'A port from 1 to 65535, or empty for 22',
      user: expect.stringContaining('A user name'),
      identity: 'An absolute path, or empty for your ssh agent',
    });
    expect(hostFormErrors({ ...EMPTY_HOST_FORM, name: 'lab', address: 'x' }, ['local', 'lab'])).toEqual({ name: 'A host named lab exists already' });
    expect(hostFormErrors({ ...EMPTY_HOST_FORM, name: 'here', where: 'system' }, ['local'])).toEqual({});
  });
});

describe('HostsDialog', () => {
  let api: FakeTransport;
  let answer: (method: string, req: unknown) => unknown;
  beforeEach(() => {
    resetStore();
    answer = () => ({ ok: true });
    api = new FakeTransport((m, r) => answer(m, r));
    setApi(api);
    connectStore(api);
    useStore.setState((s) => ({ vms: { ...s.vms, hosts: [LOCAL, LAB], loaded: true }, ui: { ...s.ui, dialog: { kind: 'hosts' } } }));
  });
  afterEach(() => cleanup());

  const type = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });

  it('lists each host with its state, and why one cannot be reached', () => {
    render(<HostsDialog />);
    const lab = screen.getByRole('listitem', { name: 'Host lab' });
    expect(lab.textContent).toContain('Unreachable');
    expect(lab.textContent).toContain('3 VMs');
    expect(lab.textContent).toContain('qemu+ssh://ops@lab.example.org/system');
    expect(lab.textContent).toContain('Connection refused');
    // this computer cannot be forgotten
    expect(within(screen.getByRole('listitem', { name: 'Host local' })).queryByRole('button')).toBeNull();
  });

  it('adds an ssh host with the URI it shows, and says so', async () => {
    answer = (m) => (m === 'host.add' ? { ...LAB, id: 'rack', name: 'rack', state: 'connected', reason: null } : { ok: true });
    render(<HostsDialog />);
    type('Name', 'rack');
    type('User', 'ops');
    type('Host name or address', 'rack.example.org');
    type('Port', '2222');
    type('Key file', '/home/me/.ssh/id_rack');
    expect(screen.getByLabelText('Connection URI').textContent).toContain('qemu+ssh://ops@rack.example.org:2222/system');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add host' })));
    expect(api.calls.filter((c) => c.method === 'host.add').map((c) => c.req)).toEqual([{ name: 'rack', uri: 'qemu+ssh://ops@rack.example.org:2222/system', identity: '/home/me/.ssh/id_rack' }]);
    expect(screen.getByRole('status').textContent).toContain('Added rack');
    expect((screen.getByLabelText('Name') as HTMLInputElement).value).toBe('');
  });

  it('sends nothing while a field is wrong, and shows the engine’s refusal where to fix it', async () => {
    render(<HostsDialog />);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add host' })));
    expect(api.calls.some((c) => c.method === 'host.add')).toBe(false);
    expect(screen.getByText('Give the host a name')).toBeTruthy();

    answer = (m) => (m === 'host.add' ? new FlotillaError('BAD_REQUEST', 'qemu:///system is added already, as host lab', { field: 'uri' }) : { ok: true });
    type('Name', 'here');
    fireEvent.change(screen.getByLabelText('Where'), { target: { value: 'system' } });
    expect(screen.queryByLabelText('Host name or address')).toBeNull();
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add host' })));
    expect(screen.getByRole('alert').textContent).toContain('qemu:///system is added already, as host lab');

    answer = (m) => (m === 'host.add' ? new FlotillaError('UNAUTHORIZED', 'the ssh host key of 10.0.0.9 is not in /home/me/.ssh/known_hosts: check the host\'s fingerprint, then accept it with `ssh-keyscan 10.0.0.9 >> /home/me/.ssh/known_hosts`') : { ok: true });
    fireEvent.change(screen.getByLabelText('Where'), { target: { value: 'ssh' } });
    type('Host name or address', '10.0.0.9');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add host' })));
    expect(screen.getByRole('alert').textContent).toContain('ssh-keyscan 10.0.0.9 >>');
  });

  it('asks about an unknown ssh host key, and adds the host trusting that key only when told to', async () => {
    const key = { type: 'ED25519', fingerprint: 'SHA256:K7HomkR+B6yzFRgO0b1i87AmkUwpFbPfJtF/Ho+Y59w' };
    answer = (m, r) => {
      if (m !== 'host.add') return { ok: true };
      if ((r as { trustHostKey?: string }).trustHostKey) return { ...LAB, id: 'far', name: 'far', state: 'connected', reason: null };
      return new FlotillaError('UNAUTHORIZED', '[10.0.0.9]:2222 is not in /home/me/.ssh/known_hosts yet. It offers the ED25519 key …', { host: '[10.0.0.9]:2222', reason: 'host-key-unknown', hostKey: key });
    };
    render(<HostsDialog />);
    type('Name', 'far');
    type('Host name or address', '10.0.0.9');
    type('Port', '2222');
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add host' })));
    const question = screen.getByRole('alertdialog', { name: 'Trust this host key?' });
    expect(within(question).getByLabelText('Host key fingerprint').textContent).toBe(key.fingerprint);
    expect(question.textContent).toContain('10.0.0.9’s ssh key is not known here');
    expect(question.textContent).toContain('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub');
    expect(document.activeElement).toBe(question);
    // the engine's own words are in the question, not twice
    expect(screen.queryByRole('alert')).toBeNull();

    // not trusted: the question goes, nothing more is sent
    fireEvent.click(within(question).getByRole('button', { name: 'Don’t trust' }));
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(api.calls.filter((c) => c.method === 'host.add')).toHaveLength(1);

    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add host' })));
    await act(async () => fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Trust and add' })));
    expect(api.calls.filter((c) => c.method === 'host.add').map((c) => c.req)).toEqual([
      { name: 'far', uri: 'qemu+ssh://10.0.0.9:2222/system' },
      { name: 'far', uri: 'qemu+ssh://10.0.0.9:2222/system' },
      { name: 'far', uri: 'qemu+ssh://10.0.0.9:2222/system', trustHostKey: key.fingerprint },
    ]);
    expect(screen.getByRole('status').textContent).toContain('Added far');
    expect(screen.queryByRole('alertdialog')).toBeNull();
  });

  it('asks about the key of a stored host that is not in known_hosts any more, and trusts it when told to', async () => {
    const key = { type: 'ED25519', fingerprint: 'SHA256:K7HomkR+B6yzFRgO0b1i87AmkUwpFbPfJtF/Ho+Y59w' };
    const stale: HostInfo = { ...LAB, reason: 'the ssh host key of lab.example.org is not in /home/me/.ssh/known_hosts: check the key it offers and trust it', failure: 'host-key-unknown' };
    useStore.setState((s) => ({ vms: { ...s.vms, hosts: [LOCAL, stale] } }));
    answer = (m) => (m === 'host.offeredKey' ? key : m === 'host.trustKey' ? { ...LAB, state: 'connected', reason: null } : { ok: true });
    render(<HostsDialog />);
    const row = screen.getByRole('listitem', { name: 'Host lab' });
    // an unreachable host has nothing to check
    expect(within(screen.getByRole('listitem', { name: 'Host local' })).queryByRole('button', { name: 'Check its key…' })).toBeNull();
    await act(async () => fireEvent.click(within(row).getByRole('button', { name: 'Check its key…' })));
    const question = within(row).getByRole('alertdialog', { name: 'Trust this host key?' });
    expect(within(question).getByLabelText('Host key fingerprint').textContent).toBe(key.fingerprint);
    // the host's retries (connecting, then failed again for the same reason) leave the question open
    act(() => api.emit('host.changed', { ...LAB, state: 'connecting', reason: null }));
    act(() => api.emit('host.changed', stale));
    expect(within(row).getByRole('alertdialog', { name: 'Trust this host key?' })).toBe(question);
    await act(async () => fireEvent.click(within(question).getByRole('button', { name: 'Trust and connect' })));
    expect(api.calls.filter((c) => c.method === 'host.offeredKey' || c.method === 'host.trustKey').map((c) => [c.method, c.req])).toEqual([
      ['host.offeredKey', { name: 'lab' }],
      ['host.trustKey', { name: 'lab', fingerprint: key.fingerprint }],
    ]);
    expect(within(row).queryByRole('alertdialog')).toBeNull();
    // the row follows the engine's host.changed
    act(() => api.emit('host.changed', { ...LAB, state: 'connected', reason: null }));
    expect(within(screen.getByRole('listitem', { name: 'Host lab' })).queryByRole('button', { name: 'Check its key…' })).toBeNull();
  });

  it('shows no question for a changed host key or a malformed offer, only the engine’s words', async () => {
    for (const details of [
      { reason: 'host-key-changed', hostKey: { type: 'ED25519', fingerprint: 'SHA256:K7HomkR+B6yzFRgO0b1i87AmkUwpFbPfJtF/Ho+Y59w' } },
      { reason: 'host-key-unknown', hostKey: { type: 'ED25519', fingerprint: '<img src=x>' } },
    ]) {
      cleanup();
      answer = (m) => (m === 'host.add' ? new FlotillaError('UNAUTHORIZED', `refused (${details.reason})`, details as never) : { ok: true });
      render(<HostsDialog />);
      type('Name', 'far');
      type('Host name or address', '10.0.0.9');
      await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Add host' })));
      expect(screen.queryByRole('alertdialog')).toBeNull();
      expect(screen.getByRole('alert').textContent).toContain(`refused (${details.reason})`);
    }
  });

  it('forgets a host after asking, and the list follows the engine', async () => {
    answer = (m) => (m === 'host.remove' ? { name: 'lab' } : { ok: true });
    render(<HostsDialog />);
    fireEvent.click(screen.getByRole('button', { name: 'Forget host lab' }));
    const ask = screen.getByRole('group', { name: 'Forget lab?' });
    expect(ask.textContent).toContain('Its VMs keep running there');
    await act(async () => fireEvent.click(within(ask).getByRole('button', { name: 'Forget' })));
    expect(api.calls.filter((c) => c.method === 'host.remove').map((c) => c.req)).toEqual([{ name: 'lab' }]);
    act(() => api.emit('host.removed', { id: 'lab' }));
    expect(screen.queryByRole('listitem', { name: 'Host lab' })).toBeNull();
  });
});
