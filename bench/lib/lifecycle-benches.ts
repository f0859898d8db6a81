// Issue 12's figures: snapshot save and revert of a running built-in Linux (256 MiB, a 1 GiB qcow2
// disk added to hold the snapshots), and a full clone's time per GiB of data copied. Each run is
// timed from the contract call to its reply, through the real engine. shareWriteMBps: the guest
// writes 64 MiB with fsync into a shared folder, beside the same dd on the host into the same
// directory in the same run (shareWriteRatio = guest ÷ host).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChannelClient } from '../../shared/rpc';
import { MEMORY_MIB, stopAndWait } from './engine-benches';
import { stat } from '../boot';
import { figure, round, type Figure } from './figures';

const DATA_MIB = 512;

export async function benchLifecycle(api: ChannelClient, runs: number, log: (s: string) => void): Promise<Figure[]> {
  const out: Figure[] = [];
  let vm = await api.invoke('vm.create', { config: { name: 'bench-snap', source: { kind: 'default' }, cpus: 1, memoryMiB: MEMORY_MIB } });
  vm = await api.invoke('disk.add', { id: vm.id, sizeGiB: 1 });
  await api.invoke('vm.start', { id: vm.id, waitAgent: true });
  const save: number[] = [];
  const revert: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    const s = await api.invoke('snapshot.create', { id: vm.id, name: `b${i}` });
    save.push(performance.now() - t);
    t = performance.now();
    await api.invoke('snapshot.revert', { id: vm.id, name: `b${i}` });
    revert.push(performance.now() - t);
    log(`snapshot ${i}: save ${round(save.at(-1)!, 0)} ms (${round(s.vmStateBytes / 2 ** 20, 1)} MiB state), revert ${round(revert.at(-1)!, 0)} ms`);
  }
  out.push(figure('snapshotSaveMs', save, 'snapshot.create of the running built-in Linux (256 MiB), with RAM'));
  out.push(figure('snapshotRevertMs', revert, 'snapshot.revert of the same, running → running in the saved state'));
  await stopAndWait(api, vm.id);
  await api.invoke('vm.delete', { id: vm.id });

  // a disk of incompressible data, so the copy moves every byte
  const work = await mkdtemp(join(tmpdir(), 'flb-clone-'));
  try {
    const raw = join(work, 'data.raw');
    execFileSync('dd', ['if=/dev/urandom', `of=${raw}`, 'bs=1M', `count=${DATA_MIB}`, 'status=none']);
    // a boot-sector signature: the engine refuses a raw file that looks like no disk at all
    execFileSync('dd', ['of=' + raw, 'bs=1', 'seek=510', 'count=2', 'conv=notrunc', 'status=none'], { input: Buffer.from([0x55, 0xaa]) });
    const src = await api.invoke('vm.create', { config: { name: 'bench-clone', source: { kind: 'disk', path: raw, mode: 'copy' }, memoryMiB: 64 } });
    await rm(raw);
    const perGiB: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const c = await api.invoke('vm.clone', { id: src.id, name: `bench-clone-${i}` });
      perGiB.push((performance.now() - t) / (DATA_MIB / 1024));
      await api.invoke('vm.delete', { id: c.id });
    }
    out.push(figure('cloneFullMsPerGiB', perGiB, `vm.clone (full) of a VM whose qcow2 holds ${DATA_MIB} MiB of random data, ms ÷ GiB`, { dataMiB: DATA_MIB }));
    await api.invoke('vm.delete', { id: src.id });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return out;
}

const SHARE_MIB = 64;

/**
 * Nanoseconds a `dd` of SHARE_MIB MiB with conv=fsync into file $1 takes, timed in the same shell
 * (no exec round trip in the figure). The guest's busybox `date` has no %N: there the clock is
 * /proc/uptime, in hundredths of a second (1–2 % of a guest run). The script is a constant; the
 * file is its one positional argument.
 */
const DD_TIMED =
  'now() { t=$(date +%s%N); case $t in *N) read -r u _ < /proc/uptime; echo $(( ${u%.*}${u#*.} * 10000000 )) ;; *) echo "$t" ;; esac; }; ' +
  `s=$(now); dd if=/dev/zero of="$1" bs=1M count=${SHARE_MIB} conv=fsync 2>/dev/null || exit 1; e=$(now); rm -f "$1"; echo $((e - s))`;

export async function benchShareWrite(api: ChannelClient, runs: number, log: (s: string) => void): Promise<Figure[]> {
  const dir = await mkdtemp(join(tmpdir(), 'flb-share-'));
  let id: string | null = null;
  try {
    const vm = await api.invoke('vm.create', { config: { name: 'bench-share', source: { kind: 'default' }, cpus: 1, memoryMiB: MEMORY_MIB, shares: [{ tag: 'bench', hostPath: dir, readOnly: false }] } });
    id = vm.id;
    await api.invoke('vm.start', { id, waitAgent: true });
    const guest: number[] = [];
    const host: number[] = [];
    const ratio: number[] = [];
    const mbps = (ns: number): number => (SHARE_MIB * 2 ** 20) / 1e6 / (ns / 1e9);
    for (let i = 0; i < runs; i++) {
      const r = await api.invoke('vm.exec', { id, command: ['/bin/sh', '-c', DD_TIMED, 'dd-timed', '/mnt/bench/guest.bin'], timeoutMs: 300_000 });
      if (r.exitCode !== 0) throw new Error(`dd in the guest failed: ${r.stderr.trim()}`);
      const g = mbps(Number(r.stdout.trim()));
      const h = mbps(Number(execFileSync('/bin/sh', ['-c', DD_TIMED, 'dd-timed', join(dir, 'host.bin')], { encoding: 'utf8' }).trim()));
      guest.push(g);
      host.push(h);
      ratio.push(g / h);
      log(`share write ${i}: guest ${round(g, 1)} MB/s, host ${round(h, 1)} MB/s`);
    }
    return [
      figure('shareWriteMBps', guest, `dd ${SHARE_MIB} MiB conv=fsync from the built-in Linux into a shared folder (virtio-fs, virtiofsd)`, { hostMBps: round(stat(host).median, 1), hostRuns: host.map((v) => round(v, 1)) }),
      figure('shareWriteRatio', ratio, 'shareWriteMBps ÷ the same dd on the host into the same directory, same run'),
    ];
  } finally {
    if (id) {
      await stopAndWait(api, id).catch(() => undefined);
      await api.invoke('vm.delete', { id }).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  }
}
