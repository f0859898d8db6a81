// @vitest-environment jsdom
// The create dialog puts the engine's verdict on the field it is about (clashing name,
// missing ISO, taken port), checks the shared schema before asking, and creates nothing on
// error. The first-run button creates and starts a default VM in one click.
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostInfo, Method } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { setApi } from '../api/current';
import { resetStreams } from '../store/streams';
import { resetStore, useStore } from '../store/store';
import { FakeTransport, makeVm } from '../test-support/fake-transport';
import { CreateVmDialog } from './create-vm-dialog';
import { EmptyState } from './empty-state';

function describedText(el: HTMLElement): string {
  return (el.getAttribute('aria-describedby') ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent ?? '')
    .join(' ');
}

describe('create VM dialog', () => {
  let api: FakeTransport;
  let createAnswer: unknown;
  beforeEach(() => {
    resetStore();
    resetStreams();
    createAnswer = null;
    api = new FakeTransport((method: Method) => {
      if (method === 'vm.create') return createAnswer;
      if (method === 'path.inspect') return { path: '/x', exists: false, readable: false, isFile: false, size: null, format: null };
      if (method === 'host.volumes') return { volumes: [{ pool: 'default', name: 'debian-12.iso', path: '/var/lib/libvirt/images/debian-12.iso', bytes: 658505728 }] };
      return { ok: true };
    });
    setApi(api);
    useStore.setState((s) => ({ ui: { ...s.ui, dialog: { kind: 'create' } } }));
  });
  afterEach(() => cleanup());

  /** This computer and the libvirt host "lab", and any more given. */
  const withHosts = (...more: HostInfo[]): void =>
    useStore.setState((s) => ({
      vms: {
        ...s.vms,
        hosts: [
          { id: 'local', name: 'This computer', kind: 'local', state: 'connected', reason: null, vmCount: 0 },
          { id: 'lab', name: 'lab', kind: 'libvirt', state: 'connected', reason: null, vmCount: 0, uri: 'qemu+ssh://root@lab/system' },
          ...more,
        ],
      },
    }));

  const submit = async (): Promise<void> => {
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Create VM' })));
  };

  it('shows a clashing name on the Name field and creates nothing', async () => {
    createAnswer = new FlotillaError('NAME_TAKEN', 'a VM named web already exists', { name: 'web' });
    render(<CreateVmDialog />);
    const name = screen.getByLabelText('Name');
    fireEvent.change(name, { target: { value: 'web' } });
    await submit();
    expect(name.getAttribute('aria-invalid')).toBe('true');
    expect(describedText(name)).toContain('a VM named web already exists');
    expect(Object.keys(useStore.getState().vms.byId)).toHaveLength(0);
    expect(screen.getByRole('dialog', { name: 'New virtual machine' })).toBeTruthy();
  });

  it('shows a missing ISO on the ISO field', async () => {
    createAnswer = new FlotillaError('FILE_NOT_FOUND', 'ISO not found: /srv/nope.iso', { path: '/srv/nope.iso' });
    render(<CreateVmDialog />);
    fireEvent.click(screen.getByRole('radio', { name: /Install from ISO/ }));
    const iso = screen.getByLabelText('ISO image');
    fireEvent.change(iso, { target: { value: '/srv/nope.iso' } });
    await submit();
    expect(describedText(iso)).toContain('ISO not found: /srv/nope.iso');
  });

  it('shows a taken host port on its forward row', async () => {
    createAnswer = new FlotillaError('PORT_TAKEN', 'host port 45022 is in use', { hostPort: 45022, proto: 'tcp' });
    render(<CreateVmDialog />);
    fireEvent.change(screen.getByLabelText('Host port of forward 1'), { target: { value: '45022' } });
    await submit();
    expect(screen.getByLabelText('Host port of forward 1').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByRole('alert').textContent).toContain('host port 45022 is in use');
  });

  it('maps schema errors from the engine (config.* paths) to fields', async () => {
    createAnswer = new FlotillaError('INVALID_ARGUMENT', 'too many CPUs for this host', { fields: [{ path: 'config.cpus', message: 'too many CPUs for this host' }] });
    render(<CreateVmDialog />);
    await submit();
    expect(describedText(screen.getByLabelText('CPUs'))).toContain('too many CPUs for this host');
  });

  it('says in plain words what a port may be: no NaN, no validator wording, the real rule for host port 0', async () => {
    render(<CreateVmDialog />);
    fireEvent.change(screen.getByLabelText('Guest port of forward 1'), { target: { value: '' } });
    fireEvent.change(screen.getByLabelText('Host port of forward 1'), { target: { value: '0' } });
    await submit();
    // the row shows one message at a time: the guest port's first
    expect(screen.getByLabelText('Guest port of forward 1').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByLabelText('Host port of forward 1').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByRole('alert').textContent).toBe('guest port must be a whole number from 1 to 65535');
    fireEvent.change(screen.getByLabelText('Guest port of forward 1'), { target: { value: '22' } });
    await submit();
    expect(screen.getByRole('alert').textContent).toBe('host port must be from 1024 to 65535 (lower ports need root), or left empty to pick a free port');
    expect(document.body.textContent).not.toMatch(/NaN|Invalid input|expected number|config\./);
    expect(api.calls.some((c) => c.method === 'vm.create')).toBe(false);
  });

  it('puts a wrong file type on the field holding that path, by the error details', async () => {
    createAnswer = new FlotillaError('WRONG_FILE_TYPE', 'not an ISO 9660 CD/DVD image: /etc/passwd', { path: '/etc/passwd', expected: 'iso', found: null });
    render(<CreateVmDialog />);
    fireEvent.click(screen.getByRole('radio', { name: /Install from ISO/ }));
    const iso = screen.getByLabelText('ISO image');
    fireEvent.change(iso, { target: { value: '/etc/passwd' } });
    await submit();
    expect(describedText(iso)).toContain('not an ISO 9660 CD/DVD image: /etc/passwd');
  });

  it('checks the shared schema before asking the engine', async () => {
    render(<CreateVmDialog />);
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Bad Name!' } });
    await submit();
    expect(describedText(screen.getByLabelText('Name'))).toMatch(/a-z, 0-9/);
    expect(api.calls.some((c) => c.method === 'vm.create')).toBe(false);
  });

  it('the built-in Linux takes a size for its /root disk', async () => {
    createAnswer = makeVm('linux-1', { state: 'stopped' });
    render(<CreateVmDialog />);
    fireEvent.change(screen.getByLabelText('Disk (GiB)'), { target: { value: '3' } });
    await submit();
    expect(api.calls.find((c) => c.method === 'vm.create')?.req).toMatchObject({ config: { source: { kind: 'default', diskSizeGiB: 3 } } });
  });

  it('names the BIOS each source boots through: qboot for the built-in Linux, SeaBIOS for the rest', () => {
    render(<CreateVmDialog />);
    const bios = () => within(screen.getByLabelText('Firmware')).getByRole('option', { name: /^BIOS/ }).textContent;
    expect(bios()).toBe('BIOS (qboot)');
    fireEvent.click(screen.getByRole('radio', { name: /Install from ISO/ }));
    expect(bios()).toBe('BIOS (SeaBIOS)');
  });

  it('offers to rebuild a built-in Linux that an older Flotilla built, and the notice goes once it is current', async () => {
    const info = (stale: boolean) => ({ version: 't', home: '/h', pid: 1, qemuVersion: null, kvm: false, defaultImage: { ready: true, stale, kernelVersion: null, path: '/h/images/default' }, shell: 'serve' });
    api = new FakeTransport((method: Method) => (method === 'engine.info' ? info(false) : { ok: true }));
    setApi(api);
    useStore.setState((s) => ({ ui: { ...s.ui, engine: info(true) } }));
    render(<CreateVmDialog />);
    expect(screen.getByRole('note').textContent).toMatch(/built by an older version of Flotilla/);
    // only with the built-in Linux chosen
    fireEvent.click(screen.getByRole('radio', { name: /Install from ISO/ }));
    expect(screen.queryByRole('note')).toBeNull();
    fireEvent.click(screen.getByRole('radio', { name: /Built-in Linux/ }));
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Rebuild the built-in Linux' }));
    });
    expect(api.calls.map((c) => c.method)).toEqual(['image.buildDefault', 'engine.info']);
    expect(screen.queryByRole('note')).toBeNull();
  });

  it('says nothing of the image when it is current', () => {
    useStore.setState((s) => ({ ui: { ...s.ui, engine: { version: 't', home: '/h', pid: 1, qemuVersion: null, kvm: false, defaultImage: { ready: true, stale: false, kernelVersion: null, path: '' }, shell: 'serve' } } }));
    render(<CreateVmDialog />);
    expect(screen.queryByRole('note')).toBeNull();
  });

  it('creates on a libvirt host: its paths are not checked or browsed here, forwards are not offered, and UEFI only for what is not the built-in Linux', async () => {
    createAnswer = makeVm('web', { state: 'stopped', host: 'lab' });
    withHosts({ id: 'far', name: 'far', kind: 'libvirt', state: 'failed', reason: 'ssh: connection refused', vmCount: 0 });
    render(<CreateVmDialog />);
    const host = screen.getByLabelText('Host') as HTMLSelectElement;
    expect(within(host).getByRole('option', { name: 'far (failed)' }).hasAttribute('disabled')).toBe(true);
    fireEvent.click(screen.getByRole('radio', { name: /Install from ISO/ }));
    expect(screen.getByRole('button', { name: 'Browse for ISO image' })).toBeTruthy(); // on this computer
    expect(screen.getByRole('button', { name: 'Add forward' })).toBeTruthy();
    fireEvent.change(host, { target: { value: 'lab' } });
    const iso = screen.getByLabelText('ISO image');
    fireEvent.change(iso, { target: { value: '/var/lib/libvirt/images/debian.iso' } });
    expect(describedText(iso)).toContain('An absolute path on lab');
    expect(screen.queryByRole('button', { name: 'Browse for ISO image' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Add forward' })).toBeNull();
    expect(screen.getByText(/Port forwards are not available on lab/)).toBeTruthy();
    // UEFI there for an installer; not for the built-in Linux, which boots through qboot on libvirt hosts
    const uefi = (): HTMLOptionElement => within(screen.getByLabelText('Firmware')).getByRole('option', { name: /UEFI/ });
    expect(uefi().hasAttribute('disabled')).toBe(false);
    fireEvent.change(screen.getByLabelText('Firmware'), { target: { value: 'uefi' } });
    fireEvent.click(screen.getByRole('radio', { name: /Built-in Linux/ }));
    expect([uefi().hasAttribute('disabled'), uefi().textContent]).toEqual([true, 'UEFI (OVMF) — the built-in Linux boots with BIOS on libvirt hosts']);
    expect((screen.getByLabelText('Firmware') as HTMLSelectElement).value).toBe('bios');
    fireEvent.click(screen.getByRole('radio', { name: /Install from ISO/ }));
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'web' } });
    await submit();
    await new Promise((r) => setTimeout(r, 500)); // past the path check's debounce: none may run
    expect(api.calls.some((c) => c.method === 'path.inspect')).toBe(false);
    expect(api.calls.find((c) => c.method === 'vm.create')?.req).toMatchObject({
      host: 'lab',
      config: { name: 'web', firmware: 'uefi', forwards: [], source: { kind: 'iso', path: '/var/lib/libvirt/images/debian.iso' } },
    });
  });

  it("offers a libvirt host's ISO images from its storage pools", async () => {
    withHosts();
    render(<CreateVmDialog />);
    fireEvent.click(screen.getByRole('radio', { name: /Install from ISO/ }));
    expect(screen.queryByRole('button', { name: "Choose an ISO image from lab's storage" })).toBeNull(); // this computer: Browse
    fireEvent.change(screen.getByLabelText('Host'), { target: { value: 'lab' } });
    fireEvent.click(screen.getByRole('button', { name: "Choose an ISO image from lab's storage" }));
    const list = await screen.findByRole('list', { name: 'ISO images on lab' });
    expect(api.calls.find((c) => c.method === 'host.volumes')?.req).toEqual({ host: 'lab', kind: 'iso' });
    fireEvent.click(within(list).getByRole('button', { name: /debian-12\.iso/ }));
    fireEvent.click(screen.getByRole('button', { name: 'Choose' }));
    expect((screen.getByLabelText('ISO image') as HTMLInputElement).value).toBe('/var/lib/libvirt/images/debian-12.iso');
  });

  it('creates, closes, and starts the new VM', async () => {
    const vm = makeVm('linux-1', { state: 'stopped' });
    createAnswer = vm;
    render(<CreateVmDialog />);
    await submit();
    const create = api.calls.find((c) => c.method === 'vm.create');
    expect(create?.req).toMatchObject({ config: { name: 'linux-1', source: { kind: 'default', diskSizeGiB: 8 }, forwards: [{ proto: 'tcp', guestPort: 22 }] } });
    expect(useStore.getState().vms.byId[vm.id]?.name).toBe('linux-1');
    expect(useStore.getState().ui.dialog).toBeNull();
    expect(api.calls.some((c) => c.method === 'vm.start')).toBe(true);
  });
});

describe('a create with disk work', () => {
  afterEach(() => cleanup());
  it('closes the dialog and shows the new VM as a tile with a progress bar until the engine commits it', async () => {
    resetStore();
    resetStreams();
    let finish: (v: unknown) => void = () => {};
    const api = new FakeTransport((m) => (m === 'vm.create' ? new Promise((r) => (finish = r)) : { ok: true }));
    setApi(api);
    const { connectStore } = await import('../store/events');
    const off = connectStore(api);
    useStore.setState((s) => ({ vms: { ...s.vms, loaded: true }, ui: { ...s.ui, dialog: { kind: 'create' } } }));
    const { App } = await import('../app');
    render(<App />);
    // the dialog's module is loaded when it first opens
    fireEvent.click(await screen.findByRole('radio', { name: /Disk image/ }));
    fireEvent.change(screen.getByLabelText('Disk image'), { target: { value: '/srv/big.qcow2' } });
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'imported' } });
    fireEvent.click(screen.getByRole('checkbox', { name: 'Start after creating' }));
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Create VM' })));
    expect(screen.getByRole('dialog', { name: 'New virtual machine' })).toBeTruthy();

    // the engine accepted it and reports the import of a VM it has not committed yet
    await act(async () => api.emit('vm.progress', { host: 'local', id: 'newvm0000001', progress: { op: 'disk-import', percent: 40, message: 'copying /srv/big.qcow2', newVm: 'imported' } }));
    expect(screen.queryByRole('dialog', { name: 'New virtual machine' })).toBeNull();
    const tile = screen.getByRole('region', { name: 'VM imported' });
    expect(within(tile).getByRole('progressbar', { name: 'copying /srv/big.qcow2' }).getAttribute('aria-valuenow')).toBe('40');
    expect(screen.getByTestId('vm-imported-state').textContent).toBe('creating');

    // the engine announces the committed VM before vm.create answers: still one tile
    const committed = makeVm('imported', { id: 'newvm0000001', state: 'stopped' });
    await act(async () => api.emit('vm.progress', { host: 'local', id: 'newvm0000001', progress: null }));
    await act(async () => api.emit('vm.changed', committed));
    expect(screen.getAllByRole('region', { name: 'VM imported' })).toHaveLength(1);
    await act(async () => finish(committed));
    const real = screen.getByRole('region', { name: 'VM imported' });
    expect(within(real).queryByRole('progressbar')).toBeNull();
    expect(screen.getByTestId('vm-imported-state').textContent).toBe('stopped');
    off();
  });
});

describe('first run', () => {
  afterEach(() => cleanup());
  it('"Start a Linux VM" creates a default VM with SSH forwarded and starts it', async () => {
    resetStore();
    const vm = makeVm('linux-1', { state: 'stopped' });
    const api = new FakeTransport((m) => (m === 'vm.create' ? vm : m === 'vm.start' ? { ...vm, state: 'running' } : { ok: true }));
    setApi(api);
    render(<EmptyState />);
    await act(async () => fireEvent.click(screen.getByRole('button', { name: 'Start a Linux VM' })));
    expect(api.calls.map((c) => c.method)).toEqual(['vm.create', 'vm.start']);
    expect(api.calls[0]!.req).toMatchObject({ config: { name: 'linux-1', source: { kind: 'default' }, forwards: [{ guestPort: 22 }] } });
    expect(useStore.getState().vms.byId[vm.id]?.state).toBe('running');
    expect(within(document.body).queryByRole('alert')).toBeNull();
  });
});
