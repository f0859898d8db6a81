// Boots the default guest with a plain QEMU command line — the same device set the engine gives
// a VM (see boot-profile.ts) — for integration tests and the boot benchmark. Not the engine's
// supervisor: no restarts, no state; just spawn, observe, stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleAndAgentArgs } from '../qemu-args';
import { DEFAULT_GUEST_PROFILE, defaultGuestAppend, type GuestBootProfile } from './boot-profile';

export interface LaunchOptions {
  dir: string;
  name: string;
  /** guest TCP ports to forward from 127.0.0.1:<host> */
  forwards?: { host: number; guest: number }[];
  profile?: GuestBootProfile;
  memoryMiB?: number;
  accel?: string;
  /** kernel command line override (default: defaultGuestAppend(name)) */
  append?: string;
  qemu?: string;
}

export interface LaunchedGuest extends SpawnedQemu {
  runDir: string;
  serialSock: string;
  agentSock: string;
  qmpSock: string;
  args: string[];
}

export function guestQemuArgs(o: LaunchOptions, socks: { serial: string; agent: string; qmp: string }): string[] {
  const p = o.profile ?? DEFAULT_GUEST_PROFILE;
  const fwd = (o.forwards ?? []).map((f) => `,hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`).join('');
  const accel = o.accel ?? (p.tcgAccelProps ? `tcg,${p.tcgAccelProps}` : 'tcg');
  return [
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-machine', p.machine,
    ...(p.bios ? ['-bios', p.bios] : []),
    '-accel', accel,
    ...(p.cpu ? ['-cpu', p.cpu] : []),
    '-smp', '1',
    '-m', String(o.memoryMiB ?? p.memoryMiB),
    '-kernel', join(o.dir, 'vmlinuz'),
    '-initrd', join(o.dir, 'initrd.img'),
    '-append', o.append ?? defaultGuestAppend(o.name),
    ...consoleAndAgentArgs({ serialSock: socks.serial, agentSock: socks.agent, virtioSerial: p.virtioSerial, console: p.console }),
    '-netdev', `user,id=n0${fwd}`,
    '-device', `${p.virtioNet},netdev=n0`,
    '-qmp', `unix:${socks.qmp},server=on,wait=off`,
    ...(p.noReboot ? ['-no-reboot'] : []),
  ];
}

/** A fresh 0700 directory for one QEMU's sockets (short prefix: unix socket paths stay under 108 bytes). */
export async function qemuRunDir(prefix: string): Promise<string> {
  const runDir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(runDir, 0o700);
  return runDir;
}

export interface SpawnedQemu {
  proc: ChildProcess;
  /** resolves with QEMU's exit code (signal or spawn error → null) */
  exited: Promise<number | null>;
  /** the start of QEMU's stderr (capped) */
  stderr: () => string;
  /** kills QEMU if still running and removes its run dir */
  dispose: () => Promise<void>;
}

/**
 * Spawns QEMU (argument array) whose sockets live in `runDir`, keeping the start of its stderr.
 * `detached`: in a session of its own, as the engine spawns it. With the kernel's autogroup
 * scheduling (on by default on desktop kernels) each session shares the CPU as one group, so a
 * QEMU left in its spawner's session competes with everything else in it (a bench and its CPU
 * hogs); comparisons with the engine's QEMUs need the same placement.
 */
export function spawnQemu(bin: string, args: string[], runDir: string, stderrCap = 64_000, opts: { detached?: boolean } = {}): SpawnedQemu {
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: runDir, detached: opts.detached ?? false });
  let err = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    if (err.length < stderrCap) err += d;
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.once('error', (e) => {
      err += String(e);
      resolve(null);
    });
  });
  return {
    proc,
    exited,
    stderr: () => err,
    dispose: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
      await rm(runDir, { recursive: true, force: true });
    },
  };
}

export async function launchGuest(o: LaunchOptions): Promise<LaunchedGuest> {
  const runDir = await qemuRunDir('flotilla-guest-');
  const socks = { serial: join(runDir, 'serial.sock'), agent: join(runDir, 'agent.sock'), qmp: join(runDir, 'qmp.sock') };
  const args = guestQemuArgs(o, socks);
  return { ...spawnQemu(o.qemu ?? 'qemu-system-x86_64', args, runDir), runDir, serialSock: socks.serial, agentSock: socks.agent, qmpSock: socks.qmp, args };
}

/** Connects to a unix socket QEMU is about to create, retrying while it does not exist yet. */
export async function connectWhenReady(path: string, deadlineMs = 20_000): Promise<import('node:net').Socket> {
  const end = Date.now() + deadlineMs;
  while (true) {
    try {
      return await new Promise((resolve, reject) => {
        const s = connect(path);
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
