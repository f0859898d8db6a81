// Check 10: quit with 3 booted VMs, "stop them all" chosen (Engine.close({stopVms})). One
// guest powers off when asked; one ignores the power button and its agent's shutdown (→ QMP quit after
// the deadline); one QEMU is frozen with SIGSTOP (→ killed). Every disk checks clean, and
// the saved state says stopped: the next engine shows all three stopped, none crashed.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import { cleanupHome, makeHome, openTestEngine, processesUsing, run } from '../integration/fixtures/engine-harness';
import { reportFigure } from './fixtures/figures';

const DEADLINE_MS = 4000;

describe('check 10: quit with 3 booted VMs, stop-all', () => {
  let home: string;
  beforeAll(async () => {
    home = await makeHome();
  });
  afterAll(async () => {
    await cleanupHome(home);
  });

  it('powerdown, then quit after the deadline, then kill; disks clean; state saved', async () => {
    const { engine, client } = await openTestEngine(home, { stopDeadlineMs: DEADLINE_MS });
    const g = join(home, 'images', 'default');
    const manifest = JSON.parse(await readFile(join(g, 'manifest.json'), 'utf8')) as { cmdline: string };
    const vms: VmInfo[] = [];
    for (const name of ['polite', 'deaf', 'frozen']) {
      const disk = join(home, `${name}.qcow2`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
      vms.push(
        await client.call('vm.create', {
          config: { name, source: { kind: 'kernel', kernel: join(g, 'vmlinuz'), initrd: join(g, 'initrd.img'), append: manifest.cmdline, disk }, memoryMiB: 128 },
        }),
      );
    }
    const [polite, deaf, frozen] = vms as [VmInfo, VmInfo, VmInfo];
    const up = await Promise.all(vms.map((v) => client.call('vm.start', { id: v.id, waitAgent: true })));
    // the guest writes to its disk, so a dirty shutdown would show
    for (const v of vms) await client.call('vm.exec', { id: v.id, command: ['/bin/sh', '-c', 'dd if=/dev/urandom of=/dev/vda bs=64k count=16 conv=fsync 2>/dev/null'] });
    // deaf: no power-button handler, and its agent's guest-shutdown (which runs /sbin/shutdown)
    // does nothing: the agent still answers, as a guest that will not go down would
    // (the killed acpid is listed until init has reaped it: a moment, longer on a loaded TCG guest)
    await client.call('vm.exec', { id: deaf.id, command: ['/bin/sh', '-c', "kill -9 $(pidof acpid); i=0; while [ $i -lt 100 ] && pidof acpid >/dev/null; do sleep 0.1; i=$((i+1)); done; printf '#!/bin/sh\\nexit 0\\n' > /sbin/shutdown"] });
    expect((await client.call('vm.exec', { id: deaf.id, command: ['/bin/sh', '-c', 'pidof acpid; cat /sbin/shutdown'] })).stdout).toBe('#!/bin/sh\nexit 0\n');
    // frozen: QEMU itself stops answering anything
    process.kill(up[2]!.pid!, 'SIGSTOP');

    client.close();
    await engine.close({ stopVms: true });
    expect(await processesUsing(home)).toEqual([]);

    const second = await openTestEngine(home);
    const logsOf = async (id: string): Promise<string> => (await second.client.call('vm.logs', { id, tail: 200 })).entries.map((e) => e.text).join('\n');
    const after = await second.client.call('vm.list', {});
    for (const v of after) expect(v, v.name).toMatchObject({ state: 'stopped', pid: null });
    const [lp, ld, lf] = await Promise.all([polite, deaf, frozen].map((v) => logsOf(v.id)));
    expect(lp).not.toMatch(/sending QMP quit/);
    expect(ld).toMatch(/did not power off within 4 s; sending QMP quit/);
    expect(ld).not.toMatch(/killing its process group/);
    expect(lf).toMatch(/killing its process group/);
    let dirty = 0;
    for (const name of ['polite', 'deaf', 'frozen']) {
      const r = await run('qemu-img', ['check', join(home, `${name}.qcow2`)]);
      if (r.code !== 0) dirty++;
      expect(r.code, `${name}: ${r.stdout}`).toBe(0);
    }
    for (const v of vms) {
      const rt = JSON.parse(await readFile(join(home, 'vms', v.id, 'runtime.json'), 'utf8')) as { wantRunning: boolean };
      expect(rt.wantRunning).toBe(false);
    }
    second.client.close();
    await second.engine.close();
    reportFigure({ check: 10, title: 'quit with stop-all: powerdown → quit → kill', load: '3 booted VMs', faults: 2, badInputs: 0, lost: dirty });
  });
});
