import { describe, expect, it } from 'vitest';
import { assertMemoryFits, parseMeminfo, readHostMemory, startMemoryWarnings } from './host-memory';

const MEMINFO = `MemTotal:       24731408 kB
MemFree:         1000000 kB
MemAvailable:   20480000 kB
Buffers:          100000 kB
`;

describe('host memory', () => {
  it('reads MemTotal and MemAvailable in MiB (also from the real /proc/meminfo)', async () => {
    expect(parseMeminfo(MEMINFO)).toEqual({ totalMiB: 24151, availableMiB: 20000 });
    const real = await readHostMemory();
    expect(real.totalMiB).toBeGreaterThan(0);
    expect(real.availableMiB).toBeLessThanOrEqual(real.totalMiB);
    expect(() => parseMeminfo('MemTotal: 1 kB\n')).toThrow('MemAvailable');
  });

  it('refuses more memory than the host has, as a field error with the numbers', () => {
    const host = { totalMiB: 24151, availableMiB: 20000 };
    expect(() => assertMemoryFits(24151, host)).not.toThrow();
    let err: unknown;
    try {
      assertMemoryFits(200000, host, ['config', 'memoryMiB']);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'memory of 200000 MiB is more than this machine has (24151 MiB); choose at most 24151 MiB',
      details: { fields: [{ path: 'config.memoryMiB' }] },
    });
  });

  it('warns when the new VM plus what the running VMs may still claim exceeds what is available', () => {
    const host = { totalMiB: 24000, availableMiB: 6000 };
    // running VMs: 4096 MiB holding 1096 (may claim 3000 more), 2048 holding all of it
    const running = [
      { name: 'a', memoryMiB: 4096, rssMiB: 1096 },
      { name: 'b', memoryMiB: 2048, rssMiB: 2100 },
    ];
    expect(startMemoryWarnings({ name: 'web', memoryMiB: 3000 }, running, host)).toEqual([]);
    expect(startMemoryWarnings({ name: 'web', memoryMiB: 3001 }, running, host)).toEqual([
      'web may use 3001 MiB plus up to 3000 MiB the 2 running VMs may still claim (6001 MiB), but this machine has only 6000 MiB of its 24000 MiB available: the host may swap or kill a VM; stop a VM or give this one less memory',
    ]);
    expect(startMemoryWarnings({ name: 'big', memoryMiB: 8000 }, [], host)[0]).toMatch(/^big may use 8000 MiB \(8000 MiB\), but this machine has only 6000 MiB/);
    // a running VM whose memory use is unknown may still claim all of it
    expect(startMemoryWarnings({ name: 'x', memoryMiB: 100 }, [{ name: 'c', memoryMiB: 5950, rssMiB: null }], host)).toHaveLength(1);
  });
});
