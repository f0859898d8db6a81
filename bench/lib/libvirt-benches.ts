// Issue 13's figures (BENCH_ONLY=libvirt), against the libvirtd and loopback sshd that
// scripts/libvirt-test-setup.sh starts, with the same built-in guest (256 MiB, 1 vCPU) on every
// side, all measured in one run and interleaved:
//   libvirtStartRatio        Flotilla's local engine start → agent ready ÷ `virsh start` → the
//                            first guest-ping answered;
//   libvirtHostOverheadRatio a start through Flotilla on the libvirt host (vm.start waitAgent)
//                            ÷ that same `virsh start` measurement;
//   remoteListMs             `flotilla list --host` on the loopback ssh host, its connection
//                            warm, beside `virsh list` over a fresh ssh connection.
// The virsh side of a start: `virsh start`, then libvirt's own agent-lifecycle event (the guest
// opened the agent's port) from `virsh event`, then `virsh qemu-agent-command guest-ping` until it
// answers; so it is not slowed by a poll interval of ours.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChannelClient } from '../../shared/rpc';
import { libvirtTestEnv } from '../../tests/integration/fixtures/libvirt-env';
import { stat } from '../boot';
import { MEMORY_MIB, ensureVms, engineStartMs, stopAndWait } from './engine-benches';
import { attempt, figure, round, type Figure } from './figures';

const LOCAL_URI = 'qemu:///system';
const LV = 'bench-lv';
const SSH = 'bench-ssh';

interface Ran {
  code: number | null;
  out: string;
  err: string;
  ms: number;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, out, err, ms: performance.now() - t0 }));
  });
}

async function virsh(args: string[]): Promise<string> {
  const r = await run('virsh', ['--quiet', '--connect', LOCAL_URI, ...args]);
  if (r.code !== 0) throw new Error(`virsh ${args[0]} failed: ${r.err.trim() || r.out.trim()}`);
  return r.out;
}

/** `virsh start` → the first guest-ping answered, on an idle (shut off) domain. */
async function virshStartMs(domain: string): Promise<number> {
  // the event stream first (not timed): it must be listening before the guest can open its port
  const ev = spawn('virsh', ['--quiet', '--connect', LOCAL_URI, 'event', '--domain', domain, '--event', 'agent-lifecycle', '--loop'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const connected = new Promise<void>((resolve, reject) => {
    createInterface({ input: ev.stdout }).on('line', (l) => {
      if (/state: 'connected'|state: connected/.test(l)) resolve();
    });
    ev.once('exit', (code) => reject(new Error(`virsh event exited (${code}) before the agent connected`)));
  });
  connected.catch(() => undefined);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const t0 = performance.now();
    await virsh(['start', domain]);
    await Promise.race([connected, new Promise((_, rej) => setTimeout(() => rej(new Error('no agent-lifecycle connected event within 180 s')), 180_000))]);
    for (;;) {
      const r = await run('virsh', ['--quiet', '--connect', LOCAL_URI, 'qemu-agent-command', domain, '--timeout', '5', '{"execute":"guest-ping"}']);
      if (r.code === 0) break;
      if (performance.now() - t0 > 180_000) throw new Error(`guest-ping never answered: ${r.err.trim()}`);
    }
    return performance.now() - t0;
  } finally {
    ev.kill('SIGTERM');
  }
}

async function domainState(domain: string): Promise<string> {
  return (await virsh(['domstate', domain])).trim();
}

async function destroyAndWait(domain: string): Promise<void> {
  if ((await domainState(domain)) !== 'shut off') await virsh(['destroy', domain]).catch(() => undefined);
  const end = Date.now() + 30_000;
  while ((await domainState(domain)) !== 'shut off') {
    if (Date.now() > end) throw new Error(`${domain} did not stop within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The engine's view of a libvirt VM, stopped, before the next run (the engine follows the events). */
async function engineSeesStopped(api: ChannelClient, host: string, id: string): Promise<void> {
  const end = Date.now() + 30_000;
  while ((await api.invoke('vm.get', { host, id })).state !== 'stopped') {
    if (Date.now() > end) throw new Error(`the engine did not see ${id} on ${host} stop within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function benchLibvirt(root: string, home: string, api: ChannelClient, runs: number, want: (k: string) => boolean, figures: Figure[], log: (l: string) => void): Promise<void> {
  const env = libvirtTestEnv(); // throws, naming the set-up script, when it was not run
  await virsh(['version']);
  const startKeys = [...(want('libvirtStartRatio') ? ['libvirtStartRatio'] : []), ...(want('libvirtHostOverheadRatio') ? ['libvirtHostOverheadRatio'] : [])];
  if (startKeys.length) await attempt(startKeys, figures, async (partial) => {
    await api.invoke('host.add', { name: LV, uri: LOCAL_URI });
    const local = (await ensureVms(api, 1))[0]!;
    const name = `bench-lv-${randomBytes(3).toString('hex')}`;
    const lv = await api.invoke('vm.create', { host: LV, config: { name, source: { kind: 'default' }, cpus: 1, memoryMiB: MEMORY_MIB } });
    const engineLocal: number[] = [];
    const virshMs: number[] = [];
    const engineLv: number[] = [];
    Object.assign(partial, { engineLocalMs: engineLocal, virshStartMs: virshMs, engineOnLibvirtMs: engineLv });
    const sides: Record<string, () => Promise<number>> = {
      local: async () => {
        const r = await engineStartMs(api, local.id);
        await stopAndWait(api, local.id);
        return r.ms;
      },
      virsh: async () => {
        await engineSeesStopped(api, LV, lv.id);
        const v = await virshStartMs(name);
        await destroyAndWait(name);
        return v;
      },
      libvirt: async () => {
        await engineSeesStopped(api, LV, lv.id);
        const t0 = performance.now();
        await api.invoke('vm.start', { host: LV, id: lv.id, waitAgent: true });
        const v = performance.now() - t0;
        await api.invoke('vm.stop', { host: LV, id: lv.id, force: true });
        await destroyAndWait(name);
        return v;
      },
    };
    try {
      // warm-up, one of each (page cache, the kernel and initrd upload is already done by create)
      for (const s of Object.values(sides)) await s();
      const order = ['local', 'virsh', 'libvirt'];
      const n = 2 * runs;
      for (let i = 0; i < n; i++) {
        // rotate which side goes first, so each takes each slot equally often
        const turn = [...order.slice(i % 3), ...order.slice(0, i % 3)];
        const got: Record<string, number> = {};
        for (const side of turn) got[side] = await sides[side]!();
        engineLocal.push(got.local!);
        virshMs.push(got.virsh!);
        engineLv.push(got.libvirt!);
        log(`libvirt start ${i + 1}/${n} (${turn.join(', ')}): engine local ${Math.round(got.local!)} ms, virsh ${Math.round(got.virsh!)} ms, engine on libvirt ${Math.round(got.libvirt!)} ms`);
      }
    } finally {
      await destroyAndWait(name).catch(() => undefined);
      await api.invoke('vm.delete', { host: LV, id: lv.id, storage: true }).catch((e: unknown) => log(`could not delete ${name}: ${(e as Error).message}`));
    }
    const detail = { engineLocalMs: stat(engineLocal.map(Math.round)), virshStartToGuestPingMs: stat(virshMs.map(Math.round)), engineOnLibvirtHostMs: stat(engineLv.map(Math.round)) };
    if (want('libvirtStartRatio'))
      figures.push(
        figure('libvirtStartRatio', engineLocal.map((v, i) => v / virshMs[i]!), "one round = Flotilla's local engine start (vm.start waitAgent) and `virsh start` of the same built-in guest defined on qemu:///system (→ libvirt's agent-lifecycle connected event → first `qemu-agent-command guest-ping` answered), with a start through the libvirt host, the order rotating; run = local ms ÷ virsh ms", {
          ...detail,
          ratioOfMedians: round(stat(engineLocal).median / stat(virshMs).median),
        }),
      );
    if (want('libvirtHostOverheadRatio'))
      figures.push(
        figure('libvirtHostOverheadRatio', engineLv.map((v, i) => v / virshMs[i]!), 'the same rounds; run = a start through Flotilla on the libvirt host (vm.start waitAgent: virsh start, the running event, guest-ping every 500 ms) ms ÷ the virsh ms of its round', {
          ...detail,
          ratioOfMedians: round(stat(engineLv).median / stat(virshMs).median),
        }),
      );
  }, log);

  if (want('remoteListMs')) await attempt(['remoteListMs'], figures, async (partial) => {
    await api.invoke('host.add', { name: SSH, uri: `${env.sshUri}?known_hosts=${env.knownHosts}`, identity: env.key });
    const cliEnv = { ...process.env, FLOTILLA_HOME: home };
    const cli = join(root, 'dist', 'cli', 'flotilla.js');
    // libvirt's own ssh transport, one new ssh connection per call, as a user's `virsh -c
    // qemu+ssh://…` runs. no_verify=1 here only: on the loopback test host, because libvirt's ssh
    // transport cannot be pointed at the test's known_hosts (Flotilla itself refuses it).
    const fresh = `${env.sshUri}?keyfile=${env.key}&no_verify=1`;
    const flo: number[] = [];
    const vir: number[] = [];
    Object.assign(partial, { flotillaMs: flo, virshFreshSshMs: vir });
    const warm = await run(process.execPath, [cli, 'list', '--host', SSH], cliEnv); // warms the page cache and the host's connection
    if (warm.code !== 0) throw new Error(`flotilla list --host ${SSH} exited ${warm.code}: ${warm.err.trim()}`);
    for (let i = 0; i < 2 * runs; i++) {
      const a = await run(process.execPath, [cli, 'list', '--host', SSH], cliEnv);
      if (a.code !== 0) throw new Error(`flotilla list --host ${SSH} exited ${a.code}: ${a.err.trim()}`);
      const b = await run('virsh', ['--quiet', '--connect', fresh, 'list', '--all']);
      if (b.code !== 0) throw new Error(`virsh list over ssh failed: ${b.err.trim()}`);
      flo.push(a.ms);
      vir.push(b.ms);
      log(`remote list ${i + 1}/${2 * runs}: flotilla ${Math.round(a.ms)} ms, virsh over a fresh ssh ${Math.round(b.ms)} ms`);
    }
    figures.push(
      figure('remoteListMs', flo, `\`node dist/cli/flotilla.js list --host ${SSH}\` (qemu+ssh on the loopback sshd, the engine's ssh ControlMaster warm), spawn → exit, alternating with the reference: \`virsh -c qemu+ssh://… list --all\` over a new ssh connection`, {
        virshFreshSshMs: stat(vir.map(Math.round)),
        flotillaShareOfVirsh: round(stat(flo).median / stat(vir).median),
      }),
    );
  }, log);
}
