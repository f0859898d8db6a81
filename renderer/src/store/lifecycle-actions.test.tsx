// @vitest-environment jsdom
// The issue-12 UI logic over a fake transport: which errors offer a disk-only snapshot, the
// grow-only size rule, a clone/export dialog that hands over to the tile once the job reports
// progress, an import's placeholder tile with Cancel naming the id its progress carries, the
// Snapshots tab's confirmations, and clone, export and import across a lost engine (what each
// takes for "it had finished"; check 22 kills a real engine under the CLI's same logic), and the
// placeholders of creates and imports started elsewhere (another window, the CLI).
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { capsOf, VM_CAPS, type SnapshotInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { setApi } from '../api/current';
import type { ConnectionStatus } from '../api/transport';
import { CreatingTile } from '../components/creating-tile';
import { growError } from '../views/tabs/disk-section';
import { SnapshotsTab } from '../views/tabs/snapshots-tab';
import { FakeTransport, makeVm } from '../test-support/fake-transport';
import { createVm, openDialog } from './actions';
import { applyProgress, applyVm, refreshAll } from './events';
import { cloneVm, createSnapshot, exportVm, importArchive, minGrowGiB, offersDiskOnly, parseGiB } from './lifecycle-actions';
import { resetStore, useStore } from './store';

const GiB = 2 ** 30;
const all = capsOf([...VM_CAPS]);

describe('lifecycle logic', () => {
  afterEach(() => cleanup());
  beforeEach(() => resetStore());

  it('offers a disk-only snapshot only when the engine says so in the error details', () => {
    expect(offersDiskOnly({ code: 'UNSUPPORTED', message: 'x', details: { diskOnly: true } })).toBe(true);
    expect(offersDiskOnly({ code: 'UNSUPPORTED', message: 'x', details: { host: 'lab' } })).toBe(false);
    expect(offersDiskOnly({ code: 'QMP_ERROR', message: 'x', details: { diskOnly: true } })).toBe(false);
    expect(offersDiskOnly(null)).toBe(false);
  });

  it('grows disks only: sizes not above the current one are refused, in words', () => {
    expect(parseGiB('12')).toBe(12);
    expect(parseGiB('1.5')).toBeNull();
    expect(parseGiB('0')).toBeNull();
    expect(parseGiB('5000')).toBeNull();
    expect(minGrowGiB(8 * GiB)).toBe(9);
    expect(minGrowGiB(8.5 * GiB)).toBe(9);
    expect(growError('8', 8 * GiB)).toBe('Disks only grow: choose 9 GiB or more (it is 8.0 GiB)');
    expect(growError('4', 8 * GiB)).toMatch(/^Disks only grow/);
    expect(growError('9', 8 * GiB)).toBeNull();
    expect(growError('x', 8 * GiB)).toBe('A whole number of GiB, from 1 to 4096');
  });

  it('a clone dialog closes once the job reports progress; a later error lands on the tile', async () => {
    let fail: (e: Error) => void = () => {};
    setApi(new FakeTransport((m) => (m === 'vm.clone' ? new Promise((_, reject) => (fail = reject)) : { ok: true })));
    const src = makeVm('src', { state: 'stopped', caps: all });
    applyVm(src);
    openDialog({ kind: 'clone', id: src.id });
    const done = cloneVm(src.id, 'copy', { linked: false, start: false });
    expect(useStore.getState().ui.dialog).toEqual({ kind: 'clone', id: src.id });
    act(() => applyProgress('local', src.id, { op: 'clone', percent: 10, cancellable: true }));
    expect(useStore.getState().ui.dialog).toBeNull();
    fail(new FlotillaError('IMAGE_ERROR', 'qemu-img convert failed: No space left'));
    expect(await done).toBeNull();
    expect(useStore.getState().vms.ops[src.id]?.error).toMatchObject({ code: 'IMAGE_ERROR', action: 'Clone' });
  });

  it('a clone refused before any progress keeps its error for the dialog', async () => {
    setApi(new FakeTransport((m) => (m === 'vm.clone' ? new FlotillaError('NAME_TAKEN', 'a VM named copy already exists', { name: 'copy' }) : { ok: true })));
    const src = makeVm('src2', { state: 'stopped', caps: all });
    applyVm(src);
    openDialog({ kind: 'clone', id: src.id });
    expect(await cloneVm(src.id, 'copy', { linked: false, start: false })).toMatchObject({ code: 'NAME_TAKEN' });
    expect(useStore.getState().ui.dialog).toEqual({ kind: 'clone', id: src.id });
    expect(useStore.getState().vms.ops[src.id]?.error ?? null).toBeNull();
  });

  it('an import shows a placeholder tile whose Cancel names the id its progress carries; a cancelled import leaves no tile', async () => {
    let fail: (e: Error) => void = () => {};
    const api = new FakeTransport((m) => (m === 'vm.import' ? new Promise((_, reject) => (fail = reject)) : { cancelled: true }));
    setApi(api);
    let underway = false;
    const done = importArchive('/home/me/web.flotilla', '', false, 'local', () => (underway = true));
    const key = Object.keys(useStore.getState().vms.creating)[0]!;
    expect(useStore.getState().vms.creating[key]).toMatchObject({ name: 'web', op: 'import', vmId: null });
    act(() => applyProgress('local', 'vm00000000ab', { op: 'import', percent: 40, cancellable: true, message: 'importing web.flotilla', newVm: 'web' }));
    expect(underway).toBe(true);
    render(<CreatingTile k={key} />);
    expect(screen.getByTestId('vm-web-state').textContent).toBe('importing');
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(api.calls.filter((c) => c.method === 'vm.cancelJob').map((c) => c.req)).toEqual([{ id: 'vm00000000ab' }]);
    fail(new FlotillaError('CANCELLED', 'import cancelled by the user'));
    expect((await done).error).toMatchObject({ code: 'CANCELLED' });
    expect(useStore.getState().vms.creating).toEqual({});
  });

  it("an import onto a libvirt host: its placeholder names the host, and its Cancel goes to that host's import", async () => {
    let fail: (e: Error) => void = () => {};
    const api = new FakeTransport((m) => (m === 'vm.import' ? new Promise((_, reject) => (fail = reject)) : { cancelled: true }));
    setApi(api);
    const host = (id: string, name: string, kind: 'local' | 'libvirt') => ({ id, name, kind, state: 'connected' as const, reason: null, vmCount: 0 });
    useStore.setState((s) => ({ vms: { ...s.vms, hosts: [host('local', 'This computer', 'local'), host('lab', 'lab', 'libvirt')] } }));
    const done = importArchive('/home/me/web.flotilla', '', false, 'lab');
    const key = Object.keys(useStore.getState().vms.creating)[0]!;
    act(() => applyProgress('lab', 'c0ffee00c0ffee00c0ffee00c0ffee00', { op: 'import', percent: 60, cancellable: true, message: 'uploading disk.qcow2 to lab', newVm: 'web' }));
    render(<CreatingTile k={key} />);
    expect(screen.getByLabelText('web is on host lab').textContent).toBe('lab');
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(api.calls.filter((c) => c.method === 'vm.cancelJob').map((c) => c.req)).toEqual([{ host: 'lab', id: 'c0ffee00c0ffee00c0ffee00c0ffee00' }]);
    fail(new FlotillaError('CANCELLED', 'import cancelled by the user'));
    expect((await done).error).toMatchObject({ code: 'CANCELLED' });
  });

  it('a create or import started elsewhere (the CLI, another window) shows with its bar and Cancel, and goes when it ends', async () => {
    vi.useFakeTimers();
    try {
      const api = new FakeTransport(() => ({ cancelled: true }));
      setApi(api);
      const host = (id: string, name: string, kind: 'local' | 'libvirt') => ({ id, name, kind, state: 'connected' as const, reason: null, vmCount: 0 });
      useStore.setState((s) => ({ vms: { ...s.vms, hosts: [host('local', 'This computer', 'local'), host('lab', 'lab', 'libvirt')] } }));
      // this window's own import, named in its dialog, has not reported yet
      const mine = importArchive('/home/me/web.flotilla', 'web', false);
      const ownKey = Object.keys(useStore.getState().vms.creating)[0]!;
      act(() => applyProgress('lab', 'c0ffee00c0ffee00c0ffee00c0ffee00', { op: 'import', percent: 70, cancellable: true, message: 'uploading disk.qcow2 to lab', newVm: 'db' }));
      act(() => applyProgress('local', 'vm0000000011', { op: 'disk-create', percent: null, message: 'creating a 8 GiB disk', newVm: 'box' }));
      const creating = useStore.getState().vms.creating;
      // the other jobs did not take this window's placeholder
      expect(creating[ownKey]).toMatchObject({ name: 'web', vmId: null });
      expect(Object.values(creating).filter((c) => c.elsewhere).map((c) => [c.name, c.host ?? 'local', c.op])).toEqual([
        ['db', 'lab', 'import'],
        ['box', 'local', 'create'],
      ]);
      const db = Object.values(creating).find((c) => c.name === 'db')!;
      render(<CreatingTile k={db.key} />);
      expect(screen.getByTestId('vm-db-state').textContent).toBe('importing');
      expect(screen.getByLabelText('db is on host lab')).toBeTruthy();
      expect(screen.getByRole('progressbar', { name: 'uploading disk.qcow2 to lab' }).getAttribute('aria-valuenow')).toBe('70');
      fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
      expect(api.calls.filter((c) => c.method === 'vm.cancelJob').map((c) => c.req)).toEqual([{ host: 'lab', id: 'c0ffee00c0ffee00c0ffee00c0ffee00' }]);

      // its job ended (cancelled there): the placeholder goes, after a moment for a VM to come
      act(() => applyProgress('lab', 'c0ffee00c0ffee00c0ffee00c0ffee00', null));
      expect(useStore.getState().vms.creating[db.key]).toBeDefined();
      act(() => vi.advanceTimersByTime(2000));
      expect(useStore.getState().vms.creating[db.key]).toBeUndefined();
      // the other one was committed: its tile replaces the placeholder
      act(() => applyProgress('local', 'vm0000000011', null));
      act(() => applyVm(makeVm('box', { id: 'vm0000000011', state: 'stopped', caps: all })));
      expect(Object.values(useStore.getState().vms.creating).map((c) => c.name)).toEqual(['web']);
      // this window's own job takes its placeholder when it reports
      act(() => applyProgress('local', 'vm0000000022', { op: 'import', percent: 10, cancellable: true, message: 'importing web.flotilla', newVm: 'web' }));
      expect(useStore.getState().vms.creating[ownKey]).toMatchObject({ name: 'web', vmId: 'vm0000000022' });
      void mine;
    } finally {
      vi.useRealTimers();
    }
  });

  it('a window that (re)connects shows the creates and imports under way (vm.making), and keeps its own', async () => {
    // what the engine says runs now: not db (it ended meanwhile), but an import of app onto lab
    const app = { op: 'import' as const, percent: 30, message: 'uploading disk.qcow2 to lab', cancellable: true, newVm: 'app' };
    const running = [{ host: 'lab', id: 'c0ffee00c0ffee00c0ffee00c0ffee01', progress: app }];
    const api = new FakeTransport((m) => (m === 'vm.import' ? new Promise(() => {}) : m === 'vm.list' || m === 'host.list' ? [] : m === 'stats.history' ? { samples: [] } : m === 'vm.making' ? running : { ok: true }));
    setApi(api);
    void importArchive('/home/me/web.flotilla', 'web', false);
    act(() => applyProgress('local', 'vm0000000044', { op: 'import', percent: 5, message: 'importing web.flotilla', newVm: 'web' }));
    act(() => applyProgress('local', 'vm0000000055', { op: 'import', percent: 5, message: 'importing db.flotilla', newVm: 'db' }));
    expect(Object.values(useStore.getState().vms.creating).map((c) => c.name).sort()).toEqual(['db', 'web']);
    await act(() => refreshAll(api));
    expect(useStore.getState().ui.notice).toBeNull();
    expect(Object.values(useStore.getState().vms.creating).map((c) => [c.name, c.host ?? 'local', c.elsewhere ?? false, c.progress?.percent])).toEqual([
      ['web', 'local', false, 5],
      ['app', 'lab', true, 30],
    ]);
  });

  it("a create on a libvirt host takes its host's progress for its own placeholder (the built-in Linux going up), not a second one", () => {
    setApi(new FakeTransport(() => new Promise(() => {})));
    void createVm({ name: 'far', source: { kind: 'default' } }, false, 'lab');
    act(() => applyProgress('lab', 'c0ffee00c0ffee00c0ffee00c0ffee02', { op: 'disk-import', percent: 40, message: 'uploading the built-in Linux to lab', newVm: 'far' }));
    expect(Object.values(useStore.getState().vms.creating)).toEqual([expect.objectContaining({ name: 'far', host: 'lab', vmId: 'c0ffee00c0ffee00c0ffee00c0ffee02' })]);
    expect(Object.values(useStore.getState().vms.creating)[0]!.elsewhere).toBeUndefined();
  });

  it("an import not named in its dialog takes the archive's name when its job reports", () => {
    setApi(new FakeTransport(() => new Promise(() => {})));
    void importArchive('/home/me/backup-2026.flotilla', '', false);
    const key = Object.keys(useStore.getState().vms.creating)[0]!;
    expect(useStore.getState().vms.creating[key]).toMatchObject({ name: 'backup-2026', vmId: null });
    act(() => applyProgress('local', 'vm0000000033', { op: 'import', percent: 5, cancellable: true, message: 'importing backup-2026.flotilla', newVm: 'web' }));
    expect(Object.values(useStore.getState().vms.creating)).toEqual([expect.objectContaining({ key, name: 'web', vmId: 'vm0000000033' })]);
  });

  it('the Snapshots tab lists snapshots, confirms a revert, and disables reverting a running VM to a disk-only one', async () => {
    const snaps: SnapshotInfo[] = [
      { name: 'ram', createdAt: '2026-12-01T10:00:00Z', vmStateBytes: 100 * 2 ** 20, includesRam: true },
      { name: 'disk', createdAt: '2026-11-01T10:00:00Z', vmStateBytes: 0, includesRam: false },
    ];
    const vm = makeVm('snappy', { caps: all, state: 'running' });
    const api = new FakeTransport((m) => (m === 'snapshot.list' ? snaps : m === 'snapshot.revert' ? { ...vm } : { ok: true }));
    setApi(api);
    applyVm(vm);
    render(<SnapshotsTab id={vm.id} />);
    const table = await screen.findByRole('table', { name: 'Snapshots of snappy' });
    expect(within(table).getAllByRole('rowheader').map((r) => r.textContent)).toEqual(['ram', 'disk']);
    expect(within(table).getByText('100 MiB')).toBeTruthy();
    const diskRevert = within(table).getByRole('button', { name: 'Revert to disk' }) as HTMLButtonElement;
    expect(diskRevert.disabled).toBe(true);
    expect(diskRevert.title).toBe('A disk-only snapshot: stop the VM to revert to it');
    fireEvent.click(within(table).getByRole('button', { name: 'Revert to ram' }));
    const confirm = screen.getByRole('alertdialog', { name: 'Revert snappy to ram?' });
    expect(api.calls.some((c) => c.method === 'snapshot.revert')).toBe(false);
    await act(async () => {
      fireEvent.click(within(confirm).getByRole('button', { name: 'Revert' }));
    });
    expect(api.calls.filter((c) => c.method === 'snapshot.revert').map((c) => c.req)).toEqual([{ id: vm.id, name: 'ram' }]);
  });
});

describe('clone, export and import outlast a lost engine', () => {
  afterEach(() => cleanup());
  beforeEach(() => {
    resetStore();
    setConnection({ kind: 'online', generation: 1 });
  });
  const lost = () => new FlotillaError('DISCONNECTED', 'connection to the engine was lost');
  function setConnection(connection: ConnectionStatus): void {
    useStore.setState((st) => ({ ui: { ...st.ui, connection } }));
  }
  /** the engine comes back: a new connection, after the tile said it waits */
  async function reconnect(id: string | null): Promise<void> {
    if (id) await vi.waitFor(() => expect(useStore.getState().vms.ops[id]?.pending).toBe('Waiting for the engine…'));
    const at = useStore.getState().ui.connection;
    setConnection({ kind: 'connecting', attempt: 1, reason: 'closed' });
    setConnection({ kind: 'online', generation: (at.kind === 'online' ? at.generation : 1) + 1 });
  }
  const count = (api: FakeTransport, method: string) => api.calls.filter((c) => c.method === method).length;

  it('a clone the engine committed before it went is taken as done, not made again', async () => {
    const src = makeVm('src', { state: 'stopped', caps: all });
    const made = makeVm('copy', { state: 'stopped', caps: all });
    const api = new FakeTransport((m) => (m === 'vm.clone' ? lost() : m === 'vm.find' ? made : { ok: true }));
    setApi(api);
    applyVm(src);
    const done = cloneVm(src.id, 'copy', { linked: false, start: false });
    await reconnect(src.id);
    expect(await done).toBeNull();
    expect(count(api, 'vm.clone')).toBe(1);
    expect(useStore.getState().vms.byId[made.id]?.name).toBe('copy');
    expect(useStore.getState().vms.ops[src.id]?.pending ?? null).toBeNull();
  });

  it('a clone that left nothing runs again; a VM that had the name before is not taken for it', async () => {
    const src = makeVm('src', { state: 'stopped', caps: all });
    const other = makeVm('copy', { state: 'stopped', caps: all });
    const made = makeVm('copy', { state: 'stopped', caps: all });
    let clones = 0;
    // the engine found the name taken only on the second try (the first was lost before it looked)
    const api = new FakeTransport((m) => (m === 'vm.clone' ? (++clones === 1 ? lost() : made) : m === 'vm.find' ? other : { ok: true }));
    setApi(api);
    applyVm(src);
    applyVm(other);
    const done = cloneVm(src.id, 'copy', { linked: false, start: false });
    await reconnect(src.id);
    expect(await done).toBeNull();
    expect(clones).toBe(2);
  });

  it('an export run again after a lost engine takes its own archive for done only if the file was not there before', async () => {
    const vm = makeVm('web', { state: 'stopped', caps: all });
    applyVm(vm);
    let there = false;
    let exports = 0;
    const api = new FakeTransport((m, req) => {
      if (m === 'fs.list') return { path: (req as { path: string }).path, parent: '/', entries: there ? [{ name: 'web.flotilla', kind: 'file', size: 4096 }] : [], truncated: false };
      if (m === 'vm.export') {
        if (++exports === 1) {
          there = true; // renamed into place, then the engine died before it answered
          return lost();
        }
        return new FlotillaError('FILE_EXISTS', '/home/me/web.flotilla already exists; pass --force to overwrite it', { path: '/home/me/web.flotilla' });
      }
      return { ok: true };
    });
    setApi(api);
    openDialog({ kind: 'export', id: vm.id });
    const done = exportVm(vm.id, '/home/me/web.flotilla', false);
    await reconnect(vm.id);
    expect(await done).toBeNull();
    expect(exports).toBe(2);
    expect(useStore.getState().ui.dialog).toBeNull();

    // the same, but the file was there all along: the engine's refusal stands
    exports = 0;
    openDialog({ kind: 'export', id: vm.id });
    const again = exportVm(vm.id, '/home/me/web.flotilla', false);
    await reconnect(vm.id);
    expect(await again).toMatchObject({ code: 'FILE_EXISTS' });
  });

  it('an import the engine committed before it went becomes its VM by the id its progress named', async () => {
    const made = makeVm('web', { id: 'vm00000000cd', state: 'stopped', caps: all });
    const api = new FakeTransport((m, req) => {
      if (m === 'vm.import') return lost();
      if (m === 'vm.find') return (req as { nameOrId: string }).nameOrId === made.id ? made : new FlotillaError('NOT_FOUND', 'no such VM');
      return { ok: true };
    });
    setApi(api);
    const done = importArchive('/home/me/web.flotilla', '', false);
    act(() => applyProgress('local', made.id, { op: 'import', percent: 90, cancellable: true, message: 'importing web.flotilla', newVm: 'web' }));
    await vi.waitFor(() => expect(count(api, 'vm.import')).toBe(1));
    await reconnect(null);
    expect((await done).vm?.id).toBe(made.id);
    expect(count(api, 'vm.import')).toBe(1);
    expect(useStore.getState().vms.creating).toEqual({});
  });
  it("an import's warnings (what the archive held that was left out) stay on the new VM's tile, also once it starts", async () => {
    const made = makeVm('web', { id: 'vm00000000ef', state: 'stopped', caps: all });
    const left = 'the shared folders of the exported VM were not imported: /srv (srv)';
    const api = new FakeTransport((m) => {
      if (m === 'vm.import') return { ...made, warnings: [left] };
      if (m === 'vm.start') return { ...made, state: 'running', warnings: ['memory is short'] };
      return { ok: true };
    });
    setApi(api);
    const r = await importArchive('/home/me/web.flotilla', '', false);
    expect(r.vm).not.toHaveProperty('warnings');
    expect(useStore.getState().vms.ops[made.id]?.warnings).toEqual([left]);
    expect(useStore.getState().vms.byId[made.id]).not.toHaveProperty('warnings');
    resetStore();
    await importArchive('/home/me/web.flotilla', '', true);
    await vi.waitFor(() => expect(useStore.getState().vms.ops[made.id]?.warnings).toEqual([left, 'memory is short']));
  });

  it('an import onto a libvirt host names it; one lost with the engine is looked for on that host', async () => {
    const made = makeVm('web', { id: 'c0ffee00c0ffee00c0ffee00c0ffee00', host: 'lab', state: 'stopped', caps: all });
    const api = new FakeTransport((m, req) => {
      if (m === 'vm.import') return lost();
      if (m === 'vm.find') return (req as { host?: string }).host === 'lab' ? made : new FlotillaError('NOT_FOUND', 'no such VM');
      return { ok: true };
    });
    setApi(api);
    const done = importArchive('/home/me/web.flotilla', 'web', false, 'lab');
    await vi.waitFor(() => expect(count(api, 'vm.import')).toBe(1));
    await reconnect(null);
    expect((await done).vm?.id).toBe(made.id);
    expect(api.calls.find((c) => c.method === 'vm.import')?.req).toEqual({ host: 'lab', path: '/home/me/web.flotilla', name: 'web', start: false });
    expect(api.calls.filter((c) => c.method === 'vm.find').map((c) => c.req)).toEqual([{ nameOrId: 'web', host: 'lab' }]);
  });

  it('a snapshot QEMU finished after the engine went is taken as done, not taken again', async () => {
    const vm = makeVm('snapper', { state: 'running', caps: all });
    applyVm(vm);
    let listed: string[] = [];
    const api = new FakeTransport((m) => {
      if (m === 'snapshot.list') return listed.map((name) => ({ name, createdAt: '2026-12-06T04:00:00Z', vmStateBytes: 1, includesRam: true }));
      if (m === 'snapshot.create') {
        listed = ['before-upgrade'];
        return lost();
      }
      return { ok: true };
    });
    setApi(api);
    const done = createSnapshot(vm.id, 'before-upgrade', false);
    await reconnect(vm.id);
    expect(await done).toBeNull();
    expect(count(api, 'snapshot.create')).toBe(1);
  });
});
