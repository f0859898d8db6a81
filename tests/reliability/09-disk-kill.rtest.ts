// Check 9: kill -9 QEMU while the guest writes to its qcow2 disk, over several rounds.
// `qemu-img check` never reports corruption (exit 2), and after each unclean death the
// engine has run the check itself and reports it (lastDiskCheck).
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../electron/engine/engine';
import { cleanupHome, makeHome, openTestEngine, run, type TestClient } from '../integration/fixtures/engine-harness';
import { reportFigure, scale } from './fixtures/figures';

const ROUNDS = scale(2, 10);
const WRITER = '(i=0; while :; do dd if=/dev/urandom of=/dev/vda bs=64k count=8 seek=$((RANDOM % 3000)) conv=notrunc 2>/dev/null; i=$((i+1)); done) </dev/null >/dev/null 2>&1 &';

describe('check 9: kill -9 QEMU while the guest writes its qcow2 disk', () => {
  let home: string;
  let engine: Engine;
  let client: TestClient;
  beforeAll(async () => {
    home = await makeHome();
    ({ engine, client } = await openTestEngine(home));
  });
  afterAll(async () => {
    client?.close();
    await engine?.close({ stopVms: true });
    await cleanupHome(home);
  });

  it(`no corruption over ${ROUNDS} rounds, and the engine checks the disk itself`, async () => {
    const g = join(home, 'images', 'default');
    const manifest = JSON.parse(await readFile(join(g, 'manifest.json'), 'utf8')) as { cmdline: string };
    const disk = join(home, 'data.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '256M']);
    const vm = await client.call('vm.create', {
      config: { name: 'writer', source: { kind: 'kernel', kernel: join(g, 'vmlinuz'), initrd: join(g, 'initrd.img'), append: manifest.cmdline, disk }, memoryMiB: 192 },
    });
    let corrupt = 0;
    let engineChecks = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const up = await client.call('vm.start', { id: vm.id, waitAgent: true });
      await client.call('vm.exec', { id: vm.id, command: ['/bin/sh', '-c', WRITER] });
      await new Promise((res) => setTimeout(res, 500 + Math.random() * 1500));
      const stat = await client.call('vm.exec', { id: vm.id, command: ['/bin/cat', '/sys/block/vda/stat'] });
      expect(Number(stat.stdout.trim().split(/\s+/)[6]), `/sys/block/vda/stat: ${JSON.stringify(stat)}`).toBeGreaterThan(0); // sectors written
      const killedAt = new Date().toISOString();
      const checked = client.waitVm(vm.id, (v) => v.state === 'crashed' && !!v.lastDiskCheck && v.lastDiskCheck.at >= killedAt && v.lastDiskCheck.disk === disk, 'the engine checked the disk', 60_000);
      process.kill(up.pid!, 'SIGKILL');
      const after = await checked;
      engineChecks++;
      const own = await run('qemu-img', ['check', disk]);
      console.log(`[reliability] check 9 round ${r}: engine says exit ${after.lastDiskCheck!.exitCode} (${after.lastDiskCheck!.summary}); qemu-img check exit ${own.code}`);
      if (own.code === 2 || after.lastDiskCheck!.exitCode === 2) corrupt++;
      expect(own.code).not.toBe(2);
      expect(after.lastDiskCheck!.exitCode).not.toBe(2);
    }
    reportFigure({ check: 9, title: 'kill -9 QEMU during guest disk writes', load: `${ROUNDS} rounds of random 512 KiB writes`, faults: ROUNDS, badInputs: 0, lost: corrupt + (ROUNDS - engineChecks) });
  });
});
