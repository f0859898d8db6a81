// Check 6 (listener audit) and check 15 (command-line audit) while VMs run under an engine
// process that also serves the headless front and a display proxy:
//   - every TCP listener (and UDP socket) of the engine and of each QEMU is on 127.0.0.1 or ::1;
//   - every unix socket is 0600 inside a 0700 directory; there is no TCP QMP;
//   - every QEMU runs with -sandbox on, -nodefaults, -no-user-config, and Seccomp: 2.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupHome, makeHome, processesUsing } from '../integration/fixtures/engine-harness';
import { blankDisk, heldConfig } from './fixtures/cheap-vm';
import { EngineConn, killEngineChild, startEngineChild, type EngineChild } from './fixtures/engine-child';
import { reportFigure } from './fixtures/figures';
import { inetSockets, socketInodes, unixSocketPaths } from './fixtures/proc-net';

const LOOPBACK = new Set(['127.0.0.1', '::1']);

describe('checks 6 and 15: listeners and QEMU command lines while VMs run', () => {
  let home: string;
  let engine: EngineChild;
  let conn: EngineConn;
  let qemuPids: number[] = [];

  beforeAll(async () => {
    home = await makeHome(false);
    const r = join(home, 'renderer');
    await mkdir(r);
    await writeFile(join(r, 'index.html'), '<!doctype html><title>Flotilla</title>');
    engine = await startEngineChild(home, {}, { FLT_HEADLESS: r });
    conn = await EngineConn.open(home);
    const disk = blankDisk(home);
    const vms = [
      await conn.call('vm.create', { config: heldConfig('web', disk, { display: 'vnc', forwards: [{ proto: 'tcp', guestPort: 80 }, { proto: 'tcp', guestPort: 22 }] }) }),
      await conn.call('vm.create', { config: heldConfig('dns', disk, { forwards: [{ proto: 'udp', guestPort: 53 }, { proto: 'tcp', guestPort: 8080 }] }) }),
      await conn.call('vm.create', { config: heldConfig('plain', disk, { firmware: 'uefi' }) }),
    ];
    for (const vm of vms) await conn.call('vm.start', { id: vm.id });
    // make the display proxy listen too
    await conn.call('display.open', { id: vms[0]!.id });
    qemuPids = await processesUsing(home);
    expect(qemuPids).toHaveLength(3);
  });

  afterAll(async () => {
    await conn?.call('engine.stopAll', { deadlineMs: 2000, includeKeepRunning: true }).catch(() => undefined);
    await conn?.close();
    if (engine) await killEngineChild(engine);
    await cleanupHome(home);
  });

  it('check 6: loopback-only listeners, 0600 sockets in 0700 dirs, no TCP QMP', async () => {
    const inet = await inetSockets();
    const byInode = new Map(inet.map((s) => [s.inode, s]));
    let audited = 0;
    let bad = 0;
    const seen: string[] = [];
    for (const pid of [engine.pid, ...qemuPids]) {
      const inodes = await socketInodes(pid);
      for (const i of inodes) {
        const s = byInode.get(i);
        if (!s) continue;
        audited++;
        seen.push(`${pid === engine.pid ? 'engine' : 'qemu'} ${s.proto} ${s.address}:${s.port}`);
        if (!LOOPBACK.has(s.address)) bad++;
      }
      // unix sockets: 0600, in 0700 dirs
      for (const p of await unixSocketPaths(inodes)) {
        audited++;
        const st = await stat(p).catch(() => null);
        if (!st) continue; // already unlinked (a removed stale path): nothing to reach
        const dir = await stat(dirname(p));
        const ok = (st.mode & 0o777) === 0o600 && (dir.mode & 0o777) === 0o700;
        if (!ok) bad++;
        expect({ path: p, mode: (st.mode & 0o777).toString(8), dir: (dir.mode & 0o777).toString(8) }).toEqual({ path: p, mode: '600', dir: '700' });
      }
    }
    console.log(`[reliability] check 6 inet sockets: ${seen.join(', ')}`);
    expect(seen.filter((s) => s.startsWith('engine tcp')).length).toBeGreaterThanOrEqual(2); // headless front + display proxy
    expect(seen.filter((s) => s.startsWith('qemu')).length).toBe(4); // the 4 forwards, nothing else
    for (const s of seen) expect(s).toMatch(/ (127\.0\.0\.1|::1):\d+$/);
    for (const pid of qemuPids) {
      const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      const qmp = args[args.indexOf('-qmp') + 1] ?? '';
      expect(qmp).toMatch(/^unix:/);
      expect(args.some((a) => /tcp:|telnet:|,port=|websocket/.test(a) && !a.startsWith('user,'))).toBe(false);
    }
    reportFigure({ check: 6, title: 'listener audit', load: `engine + headless + display proxy + ${qemuPids.length} QEMUs, ${audited} sockets audited`, faults: 0, badInputs: 0, lost: bad });
    expect(bad).toBe(0);
  });

  it('check 15: every QEMU runs sandboxed with -nodefaults -no-user-config, Seccomp 2', async () => {
    let bad = 0;
    for (const pid of qemuPids) {
      const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const sandbox = args[args.indexOf('-sandbox') + 1] ?? '';
      const ok = /^on(,|$)/.test(sandbox) && args.includes('-nodefaults') && args.includes('-no-user-config') && /^Seccomp:\s+2$/m.test(status);
      if (!ok) bad++;
      expect({ sandbox: sandbox.split(',')[0], nodefaults: args.includes('-nodefaults'), noUserConfig: args.includes('-no-user-config'), seccomp: /^Seccomp:\s+(\d)/m.exec(status)?.[1] }).toEqual({
        sandbox: 'on',
        nodefaults: true,
        noUserConfig: true,
        seccomp: '2',
      });
    }
    reportFigure({ check: 15, title: 'QEMU command-line audit', load: `${qemuPids.length} QEMUs`, faults: 0, badInputs: 0, lost: bad });
  });
});
