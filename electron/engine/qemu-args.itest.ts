// Keeps the argument builder honest: real QEMU must accept what it builds. Started paused (-S),
// asked for its status over QMP, then told to quit.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortEntry } from '../../shared/contract';
import { vmSpecSchema } from '../../shared/spec';
import { HomeLayout } from './paths';
import { PortAllocator } from './port-allocator';
import { ensureOvmfVars } from './firmware-vars';
import { buildQemuArgs, type QemuResources } from './qemu-args';

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'flo-qa-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

/** Minimal QMP exchange written inline, so this test does not depend on the QMP client under test elsewhere. */
function qmpStatusThenQuit(sock: string): Promise<{ status: string; nodes: string[] }> {
  return new Promise((resolve, reject) => {
    const s = createConnection(sock);
    let buf = '';
    let status = '';
    let nodes: string[] = [];
    s.on('data', (d) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, i)) as { QMP?: unknown; id?: string; return?: { status?: string } | { 'node-name': string }[] };
        buf = buf.slice(i + 1);
        if (msg.QMP) s.write('{"execute":"qmp_capabilities","id":"c"}\n{"execute":"query-named-block-nodes","arguments":{"flat":true},"id":"n"}\n{"execute":"query-status","id":"s"}\n');
        if (msg.id === 'n' && Array.isArray(msg.return)) nodes = msg.return.map((n) => n['node-name']).sort();
        if (msg.id === 's' && !Array.isArray(msg.return)) {
          status = msg.return?.status ?? '';
          s.write('{"execute":"quit","id":"q"}\n');
        }
      }
    });
    // QEMU may reset the connection as it quits; only an error before the status counts.
    s.on('error', (e) => (status ? resolve({ status, nodes }) : reject(e)));
    s.on('close', () => resolve({ status, nodes }));
  });
}

function waitForSocket(path: string, child: ReturnType<typeof spawn>, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`qemu exited ${code}: ${stderr()}`));
    child.once('exit', onExit);
    const attempt = () => {
      const s = createConnection(path);
      s.once('connect', () => {
        s.destroy();
        child.off('exit', onExit);
        resolve();
      });
      s.once('error', () => setTimeout(attempt, 100));
    };
    attempt();
  });
}

async function bootPaused(id: string, specIn: Record<string, unknown>, extra: Partial<QemuResources> = {}) {
  const layout = new HomeLayout(home);
  await layout.ensureRunDir(id);
  const vmDir = join(home, 'vms', id);
  execFileSync('mkdir', ['-p', vmDir]);
  const spec = vmSpecSchema.parse({ id, name: `vm-${id}`, createdAt: 'x', ...specIn });
  if (spec.disks.length) execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(vmDir, spec.disks[0]!), '1G']);
  if (spec.firmware === 'uefi') await ensureOvmfVars(vmDir);
  const ports = new PortAllocator({ file: layout.portsFile });
  const forwards = await ports.allocateMany(id, [
    { purpose: 'forward', proto: 'tcp', guestPort: 22 },
    { purpose: 'forward', proto: 'udp', guestPort: 53 },
  ]);
  const args = buildQemuArgs(spec, {
    accel: 'tcg',
    qmpSock: layout.qmpSock(id),
    serialSock: layout.serialSock(id),
    agentSock: layout.agentSock(id),
    vncSock: layout.vncSock(id),
    pidFile: layout.pidFile(id),
    vmDir,
    forwards,
    startPaused: true,
    ...extra,
  });
  let stderr = '';
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  await waitForSocket(layout.qmpSock(id), child, () => stderr);
  const seen = await inspectProcess(child.pid!, forwards);
  const { status, nodes } = await qmpStatusThenQuit(layout.qmpSock(id));
  const code = await exited;
  await ports.release(id);
  return { status, nodes, code, stderr, seen, qmpSock: layout.qmpSock(id) };
}

/** What an auditor checks from outside: seccomp mode, the command line, and where the forwards listen. */
async function inspectProcess(pid: number, forwards: PortEntry[]) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  const listeners = async (table: 'tcp' | 'udp' | 'tcp6' | 'udp6') =>
    (await readFile(`/proc/net/${table}`, 'utf8'))
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      // a TCP port counts when listening (state 0A); other tests' TIME_WAIT sockets on the same
      // port number are not bindings
      .filter((f) => !table.startsWith('tcp') || f[3] === '0A')
      .map((f) => f[1] ?? '')
      .filter(Boolean);
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  const boundOn = async (e: PortEntry) => {
    const v4 = (await listeners(e.proto)).filter((a) => a.endsWith(`:${hex(e.hostPort)}`));
    const v6 = (await listeners(`${e.proto}6`)).filter((a) => a.endsWith(`:${hex(e.hostPort)}`));
    return [...v4, ...v6];
  };
  return {
    seccomp: /^Seccomp:\s*(\d+)/m.exec(status)?.[1],
    cmdline,
    bindings: await Promise.all(forwards.map(boundOn)),
  };
}

describe('buildQemuArgs against real QEMU (paused, TCG)', () => {
  it('an ISO VM with UEFI, VNC and forwards starts paused and quits cleanly', async () => {
    const iso = join(home, 'my,cd.iso');
    await writeFile(iso, '');
    await truncate(iso, 1 << 20);
    const r = await bootPaused('isovm000001', {
      source: { kind: 'iso', path: iso, diskSizeGiB: 1 },
      disks: ['disk.qcow2'],
      firmware: 'uefi',
      display: 'vnc',
      cpus: 2,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe('prelaunch');
    expect(r.code).toBe(0);
    // the node names QMP snapshot and media commands address
    expect(r.nodes).toEqual(['cd0-file', 'cd0-fmt', 'disk0-file', 'disk0-fmt', 'pflash0-file', 'pflash0-fmt', 'pflash1-file', 'pflash1-fmt']);
    // issue 6 checks 3, 6 and 15, seen from outside the process
    expect(r.seen.seccomp).toBe('2');
    expect(r.seen.cmdline).toEqual(expect.arrayContaining(['-nodefaults', '-no-user-config', '-sandbox']));
    expect(r.seen.cmdline.some((a) => a.includes(r.qmpSock))).toBe(true);
    expect(r.seen.bindings).toEqual([[expect.stringMatching(/^0100007F:/)], [expect.stringMatching(/^0100007F:/)]]);
  });

  it('a reference-disk VM with BIOS and no display starts paused and quits cleanly', async () => {
    const disk = join(home, 'user.raw');
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', disk, '64M']);
    const r = await bootPaused('diskvm00001', { source: { kind: 'disk', path: disk, mode: 'reference' } }, { referenceDiskFormat: 'raw' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe('prelaunch');
    expect(r.nodes).toEqual(['disk0-file', 'disk0-fmt']);
    expect(r.code).toBe(0);
  });
});
