// Virsh.settle: a closed host waits for its calls in flight (and only so long).
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Virsh } from './virsh';

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A `virsh` that waits while its `hold` file exists, then writes `done` beside it. */
function slowVirsh(): string {
  dir = mkdtempSync(join(tmpdir(), 'flt-virsh-'));
  const bin = join(dir, 'virsh');
  writeFileSync(bin, `#!/bin/bash\nwhile [ -e '${dir}/hold' ]; do sleep 0.02; done\necho answered > '${dir}/done'\n`);
  chmodSync(bin, 0o755);
  writeFileSync(join(dir, 'hold'), '');
  return bin;
}

describe('Virsh.settle', () => {
  it('returns once the calls in flight have ended, with what they wrote written', async () => {
    const virsh = new Virsh(() => 'qemu:///system', 'h', slowVirsh());
    const call = virsh.run(['list']);
    const settled = virsh.settle(60_000);
    setTimeout(() => rmSync(join(dir, 'hold')), 100);
    await settled;
    expect(existsSync(join(dir, 'done'))).toBe(true);
    await call;
  });

  it('gives up after its bound and leaves the call running to its own end', async () => {
    const virsh = new Virsh(() => 'qemu:///system', 'h', slowVirsh());
    let ended = false;
    const call = virsh.run(['list']).finally(() => (ended = true));
    await virsh.settle(50);
    expect(ended).toBe(false);
    rmSync(join(dir, 'hold'));
    await call;
    expect(existsSync(join(dir, 'done'))).toBe(true);
  });

  it('returns at once with nothing in flight', async () => {
    await new Virsh(() => 'qemu:///system', 'h', '/nonexistent/virsh').settle(60_000);
  });
});
