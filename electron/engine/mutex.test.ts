import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './mutex';

const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedMutex', () => {
  it('runs work for one key one at a time, in call order', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    let inside = 0;
    const job = (name: string) =>
      m.run('vm1', async () => {
        inside++;
        expect(inside).toBe(1);
        log.push(`start ${name}`);
        await tick();
        log.push(`end ${name}`);
        inside--;
        return name;
      });
    expect(await Promise.all([job('a'), job('b'), job('c')])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('lets different keys overlap', async () => {
    const m = new KeyedMutex();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = m.run('a', () => gate.then(() => 'a'));
    const b = await m.run('b', async () => 'b');
    expect(b).toBe('b');
    release();
    expect(await a).toBe('a');
  });

  it('a failure rejects only its caller and does not block the next', async () => {
    const m = new KeyedMutex();
    const bad = m.run('k', async () => {
      throw new Error('boom');
    });
    const good = m.run('k', async () => 42);
    await expect(bad).rejects.toThrow('boom');
    expect(await good).toBe(42);
    await tick();
    expect(m.isBusy('k')).toBe(false);
  });
});
