// A start's preparation (launchResources) and a force stop that aborts it: with the real
// qemu-img, ssh-keygen and files in a temp home. Nothing of the VM may be written after the abort.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { vmSpecSchema } from '../../shared/spec';
import { HomeLayout } from './paths';
import type { DefaultGuestBoot } from './qemu-args';
import { RuntimeRecordFile, emptyRecord } from './runtime-record';
import { JobAborted } from './vm-job-queue';
import { launchResources, type LaunchEnv } from './vm-launch';

const ID = 'abcdef123456';
const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFb3Qm3n0pVbqCw0m0Gk2Xy7w1k8Qd6y3VvE8h3d1k2Z me@host';
const BOOT: DefaultGuestBoot = { kernel: '/k', initrd: '/i', append: '' };
const spec = () => vmSpecSchema.parse({ id: ID, name: 'b', createdAt: 'x', source: { kind: 'default', diskSizeGiB: 1 } });

/** A promise the test resolves, and one that says the code under test got there. */
function gate<T>(): { wait: () => Promise<T>; reached: Promise<void>; open: (v: T) => void } {
  let open!: (v: T) => void;
  let arrive!: () => void;
  const opened = new Promise<T>((r) => (open = r));
  const reached = new Promise<void>((r) => (arrive = r));
  return { wait: () => (arrive(), opened), reached, open };
}

let home: string;
let layout: HomeLayout;
let setDisks: string[][];
const env = (over: Partial<LaunchEnv>): LaunchEnv => ({
  layout,
  qemuBinary: 'qemu-system-x86_64',
  accel: 'tcg',
  defaultGuest: async () => BOOT,
  setDisks: async (_id, disks) => setDisks.push(disks),
  userPublicKeys: async () => [ED],
  ...over,
});

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'flo-launch-'));
  layout = new HomeLayout(home);
  await mkdir(layout.vmDir(ID), { recursive: true });
  setDisks = [];
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('launchResources', () => {
  it('makes the built-in VM its disk and key file, and records the disk', async () => {
    const res = await launchResources(env({}), ID, spec(), new AbortController().signal);
    expect(res.defaultGuest).toEqual(BOOT);
    expect(res.authorizedKeys).toBe(join(layout.vmDir(ID), 'authorized_keys'));
    expect((await readdir(layout.vmDir(ID))).sort()).toEqual(['authorized_keys', 'disk.qcow2']);
    expect(setDisks).toEqual([['disk.qcow2']]);
  });

  it('aborted while the default guest is looked up (it may be building): lets go at once, and writes nothing when the lookup ends', async () => {
    const g = gate<DefaultGuestBoot>();
    const ac = new AbortController();
    const p = launchResources(env({ defaultGuest: g.wait }), ID, spec(), ac.signal);
    await g.reached;
    ac.abort(new JobAborted('force-stopped by the user'));
    await expect(p).rejects.toMatchObject({ name: 'JobAborted', why: 'force-stopped by the user' });
    // the lookup ends after the abort: no disk, no spec change, no key file appears
    g.open(BOOT);
    await new Promise((r) => setTimeout(r, 300));
    expect(await readdir(layout.vmDir(ID))).toEqual([]);
    expect(setDisks).toEqual([]);
  });

  it('aborted during a short step: ends that step before it rejects, and writes nothing after it', async () => {
    const g = gate<string[]>();
    const ac = new AbortController();
    let settled = false;
    const p = launchResources(env({ userPublicKeys: g.wait }), ID, spec(), ac.signal).finally(() => (settled = true));
    p.catch(() => undefined);
    await g.reached;
    ac.abort(new JobAborted('force-stopped by the user'));
    await new Promise((r) => setTimeout(r, 100));
    // still in the step: the start job waits for it before cleaning up
    expect(settled).toBe(false);
    g.open([ED]);
    await expect(p).rejects.toMatchObject({ name: 'JobAborted' });
    // the disk and its line in the spec came before the abort, as one step; the key file did not
    expect(await readdir(layout.vmDir(ID))).toEqual(['disk.qcow2']);
    expect(setDisks).toEqual([['disk.qcow2']]);
  });

  it('aborted before it begins: touches nothing', async () => {
    const ac = new AbortController();
    ac.abort(new JobAborted('force-stopped by the user'));
    await expect(launchResources(env({}), ID, spec(), ac.signal)).rejects.toMatchObject({ name: 'JobAborted' });
    expect(await readdir(layout.vmDir(ID))).toEqual([]);
    expect(await readdir(home)).toEqual(['vms']);
  });
});

describe('RuntimeRecordFile', () => {
  it('close lets the queued write land and takes no more (a job finishing after detach writes nothing)', async () => {
    const f = new RuntimeRecordFile(layout.vmDir(ID));
    const rec = emptyRecord();
    rec.wantRunning = true;
    f.save(rec);
    await f.close();
    expect((await f.load()).wantRunning).toBe(true);
    rec.wantRunning = false;
    f.save(rec);
    await f.flush();
    expect((await f.load()).wantRunning).toBe(true);
    expect(await readdir(layout.vmDir(ID))).toEqual(['runtime.json']);
  });
});
