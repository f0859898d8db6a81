// `flotilla snapshot create|list|revert|rm`: internal qcow2 snapshots of a VM's own disks.
// - Running: QMP's snapshot-save / snapshot-load / snapshot-delete jobs over the VM's qcow2 nodes
//   (found with query-named-block-nodes), polled through query-jobs, whose `error` field is the
//   only place a failure shows. A disk-only snapshot of a running VM is one transaction of
//   blockdev-snapshot-internal-sync. A failed load leaves QEMU paused in `restore-vm`: it is
//   resumed (`cont`) so the VM is not left frozen.
// - Stopped: `qemu-img snapshot -c/-a/-d` on each disk, `qemu-img info` to list.
// A full snapshot (with RAM) needs every writable disk to be qcow2: a disk used by reference that
// is raw rules it out, and the error says which and offers --disk-only. (The UEFI variable store is
// a qcow2 of its own and is part of every full snapshot.) After a revert of a running VM the guest clock is set from the host through the agent.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { SnapshotInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { defaultSnapshotName } from '../../../shared/snapshot-names';
import { referencedDisk, type VmSpec } from '../../../shared/spec';
import { QEMU_IMG, qemuImgInfo } from '../images';
import { OVMF_VARS_FILE } from '../qemu-args';
import type { OpsContext } from './ops-context';

export const SNAPSHOT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkSnapshotName(name: string): string {
  if (!SNAPSHOT_NAME_RE.test(name)) {
    const message = `snapshot name ${JSON.stringify(name)} is not allowed: use 1–64 of A-Z a-z 0-9 . _ - (no "/" or spaces), starting with a letter or digit`;
    throw new FlotillaError('INVALID_ARGUMENT', message, { fields: [{ path: 'name', message }] });
  }
  return name;
}

export { defaultSnapshotName };

function qemuImg(args: string[], subject: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(QEMU_IMG, args, { maxBuffer: 16 << 20 }, (err, out, stderr) =>
      err ? reject(new FlotillaError('IMAGE_ERROR', `qemu-img ${args[0]} ${args[1] ?? ''} failed for ${subject}: ${(stderr || err.message).trim().replace(/^qemu-img: /, '')}`)) : resolve(out),
    ),
  );
}

/** Why this VM cannot have a snapshot with RAM, or null. */
async function fullSnapshotBlocker(spec: VmSpec): Promise<string | null> {
  const ref = referencedDisk(spec);
  if (ref && (await qemuImgInfo(ref)).format !== 'qcow2') return `its disk ${ref} is used in place and is not qcow2, so QEMU cannot store the RAM state with it`;
  if (spec.firmware === 'uefi' && !OVMF_VARS_FILE.endsWith('.qcow2')) return 'its UEFI variable store is a raw file, which QEMU cannot snapshot';
  // vhost-user-fs blocks migration, and snapshot-save is a migration to the disk
  if (spec.shares?.length) return `it has shared folders (${spec.shares.map((s) => s.tag).join(', ')}), whose virtio-fs state QEMU cannot save`;
  return null;
}

interface Node {
  'node-name': string;
  drv: string;
  file: string;
}

interface Job {
  id: string;
  status: string;
  error?: string;
}

/** The qcow2 nodes of the VM's own disks, and of its UEFI variable store (qcow2 too), which a full snapshot must cover. */
async function ownNodes(ctx: OpsContext, id: string, spec: VmSpec): Promise<string[]> {
  const dir = ctx.layout.vmDir(id);
  const want = new Set(spec.disks.map((d) => join(dir, d)));
  if (spec.firmware === 'uefi' && OVMF_VARS_FILE.endsWith('.qcow2')) want.add(join(dir, OVMF_VARS_FILE));
  const nodes = (await ctx.qmp<Node[]>(id, 'query-named-block-nodes', { flat: true })).filter((n) => n.drv === 'qcow2' && want.has(n.file));
  if (nodes.length !== want.size) throw new FlotillaError('QMP_ERROR', `QEMU of ${spec.name} shows ${nodes.length} of its ${want.size} qcow2 disks`);
  // the first disk's node first: it holds the RAM state (vmstate), and snapshot.list reads that disk
  const first = join(dir, spec.disks[0]!);
  return nodes.sort((a, b) => Number(b.file === first) - Number(a.file === first)).map((n) => n['node-name']);
}

/** The ids of the QMP jobs this engine starts. */
const JOB_PREFIX = 'flt-';

/**
 * A snapshot job an earlier engine started runs on in QEMU when that engine is killed (its client
 * then asks again: cli/job-command.ts). Waits for such jobs to end and dismisses them, so the
 * snapshot they were making is there (or not) before anything else looks or starts another.
 */
async function settleLeftoverJobs(ctx: OpsContext, id: string): Promise<void> {
  for (;;) {
    const ours = (await ctx.qmp<Job[]>(id, 'query-jobs')).filter((j) => j.id.startsWith(JOB_PREFIX));
    for (const j of ours) if (j.status === 'concluded') await ctx.qmp(id, 'job-dismiss', { id: j.id }).catch(() => undefined);
    if (ours.every((j) => j.status === 'concluded')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Run a QMP snapshot job to its end; its error (only in query-jobs) becomes the thrown message. */
async function runQmpJob(ctx: OpsContext, id: string, command: string, args: Record<string, unknown>, signal: AbortSignal): Promise<void> {
  await settleLeftoverJobs(ctx, id);
  const jobId = `${JOB_PREFIX}${randomBytes(4).toString('hex')}`;
  await ctx.qmp(id, command, { 'job-id': jobId, ...args });
  for (;;) {
    const job = (await ctx.qmp<Job[]>(id, 'query-jobs')).find((j) => j.id === jobId);
    if (!job) throw new FlotillaError('QMP_ERROR', `the ${command} job vanished`);
    if (job.status === 'concluded') {
      await ctx.qmp(id, 'job-dismiss', { id: jobId });
      if (job.error) throw new FlotillaError('QMP_ERROR', `${command} failed: ${job.error}`);
      return;
    }
    // a QMP snapshot job cannot be cancelled in QEMU 7.2; a cancel waits for it to end
    await new Promise((r) => setTimeout(r, signal.aborted ? 200 : 100));
  }
}

export async function listSnapshots(ctx: OpsContext, id: string): Promise<SnapshotInfo[]> {
  const spec = ctx.store.get(id);
  if (spec.disks.length === 0) return [];
  const out = JSON.parse(await qemuImg(['info', '-U', '--output=json', join(ctx.layout.vmDir(id), spec.disks[0]!)], spec.name)) as {
    snapshots?: { name: string; 'date-sec': number; 'vm-state-size': number }[];
  };
  return (out.snapshots ?? []).map((s) => ({ name: s.name, createdAt: new Date(s['date-sec'] * 1000).toISOString(), vmStateBytes: s['vm-state-size'], includesRam: s['vm-state-size'] > 0 }));
}

/** The VM's disks that hold `snap` (a disk added after the snapshot does not). */
async function disksWith(ctx: OpsContext, id: string, spec: VmSpec, snap: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of spec.disks) {
    const j = JSON.parse(await qemuImg(['info', '-U', '--output=json', join(ctx.layout.vmDir(id), d)], `${spec.name}/${d}`)) as { snapshots?: { name: string }[] };
    if (j.snapshots?.some((s) => s.name === snap)) out.push(d);
  }
  return out;
}

function requireDisks(spec: VmSpec): void {
  if (spec.disks.length === 0) throw new FlotillaError('UNSUPPORTED', `${spec.name} has no disk of its own to hold snapshots${spec.source.kind === 'default' ? ' (the built-in Linux without a disk keeps no state)' : ''}`);
}

export async function createSnapshot(ctx: OpsContext, id: string, name: string | undefined, diskOnly: boolean, now: () => Date = () => new Date()): Promise<SnapshotInfo> {
  const snap = checkSnapshotName(name ?? defaultSnapshotName(now()));
  return ctx.runJob(id, 'snapshot', async (signal, progress) => {
    const spec = ctx.store.get(id);
    requireDisks(spec);
    const state = ctx.state(id);
    const running = state === 'running' || state === 'paused';
    // a save a killed engine left running in QEMU may be making this very name
    if (running) await settleLeftoverJobs(ctx, id);
    if ((await listSnapshots(ctx, id)).some((s) => s.name === snap)) throw new FlotillaError('NAME_TAKEN', `${spec.name} already has a snapshot named ${snap}`, { field: 'name', name: snap });
    if (!running && state !== 'stopped' && state !== 'crashed') throw new FlotillaError('INVALID_STATE', `${spec.name} is ${state}; take the snapshot once it is running or stopped`);
    progress({ op: 'snapshot', percent: null, message: `saving snapshot ${snap}` });
    if (running) {
      const nodes = await ownNodes(ctx, id, spec);
      if (diskOnly) {
        await ctx.qmp(id, 'transaction', { actions: nodes.map((device) => ({ type: 'blockdev-snapshot-internal-sync', data: { device, name: snap } })) });
      } else {
        const blocker = await fullSnapshotBlocker(spec);
        if (blocker) throw new FlotillaError('UNSUPPORTED', `${spec.name} cannot have a snapshot with its RAM: ${blocker}; take a disk-only snapshot (--disk-only) instead`, { diskOnly: true });
        await runQmpJob(ctx, id, 'snapshot-save', { tag: snap, vmstate: nodes[0], devices: nodes }, signal);
      }
    } else {
      for (const d of spec.disks) await qemuImg(['snapshot', '-c', snap, join(ctx.layout.vmDir(id), d)], `${spec.name}/${d}`);
    }
    const made = (await listSnapshots(ctx, id)).find((s) => s.name === snap);
    if (!made) throw new FlotillaError('INTERNAL', `snapshot ${snap} was not recorded`);
    return made;
  });
}

export async function revertSnapshot(ctx: OpsContext, id: string, name: string): Promise<void> {
  const snap = checkSnapshotName(name);
  await ctx.runJob(id, 'snapshot-revert', async (signal, progress) => {
    const spec = ctx.store.get(id);
    requireDisks(spec);
    const found = (await listSnapshots(ctx, id)).find((s) => s.name === snap);
    if (!found) throw new FlotillaError('NOT_FOUND', `${spec.name} has no snapshot named ${snap}`);
    const state = ctx.state(id);
    progress({ op: 'snapshot', percent: null, message: `reverting to ${snap}` });
    if (state === 'running' || state === 'paused') {
      if (!found.includesRam) throw new FlotillaError('INVALID_STATE', `${snap} is a disk-only snapshot; stop ${spec.name} to revert to it (a running VM can only go back to a snapshot with its RAM)`);
      const nodes = await ownNodes(ctx, id, spec);
      try {
        await runQmpJob(ctx, id, 'snapshot-load', { tag: snap, vmstate: nodes[0], devices: nodes }, signal);
      } finally {
        // a failed load leaves QEMU paused in restore-vm; a VM that ran must run again
        const st = await ctx.qmp<{ status: string }>(id, 'query-status');
        if (state === 'running' && st.status !== 'running') await ctx.qmp(id, 'cont');
      }
      // The agent watch pings every few seconds. A ping sent just before the load, already in the
      // guest's buffers, was wiped with its RAM and never answered: the clock's exec below queued
      // behind it and waited out its 10 s timeout (1 revert in 5–12 in a create-then-revert loop).
      ctx.agentReset(id);
      // a paused guest cannot answer: its clock is left as the snapshot had it (as after any pause)
      if (state === 'running') await ctx.syncClock(id);
      return;
    }
    if (state !== 'stopped' && state !== 'crashed') throw new FlotillaError('INVALID_STATE', `${spec.name} is ${state}; revert once it is running or stopped`);
    for (const d of await disksWith(ctx, id, spec, snap)) await qemuImg(['snapshot', '-a', snap, join(ctx.layout.vmDir(id), d)], `${spec.name}/${d}`);
  });
  ctx.changed(id);
}

export async function deleteSnapshot(ctx: OpsContext, id: string, name: string): Promise<void> {
  const snap = checkSnapshotName(name);
  await ctx.runJob(id, 'snapshot-delete', async (signal, progress) => {
    const spec = ctx.store.get(id);
    requireDisks(spec);
    if (!(await listSnapshots(ctx, id)).some((s) => s.name === snap)) throw new FlotillaError('NOT_FOUND', `${spec.name} has no snapshot named ${snap}`);
    // shown on the tile like a save or a revert; its end also tells open views (a disk's Remove) to look again
    progress({ op: 'snapshot', percent: null, message: `deleting snapshot ${snap}` });
    const state = ctx.state(id);
    if (state === 'running' || state === 'paused') {
      const holding = new Set((await disksWith(ctx, id, spec, snap)).map((d) => join(ctx.layout.vmDir(id), d)));
      const nodes = (await ctx.qmp<Node[]>(id, 'query-named-block-nodes', { flat: true })).filter((n) => n.drv === 'qcow2' && holding.has(n.file)).map((n) => n['node-name']);
      await runQmpJob(ctx, id, 'snapshot-delete', { tag: snap, devices: nodes }, signal);
    } else {
      for (const d of await disksWith(ctx, id, spec, snap)) await qemuImg(['snapshot', '-d', snap, join(ctx.layout.vmDir(id), d)], `${spec.name}/${d}`);
    }
  });
}
