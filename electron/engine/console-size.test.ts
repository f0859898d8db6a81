import { describe, expect, it } from 'vitest';
import { checkStty, LatestWins, sttyCommand } from './console-size';

describe('console size', () => {
  it('is set with stty on the console pty and noted for the next shell; the numbers are arguments, not script', () => {
    const cmd = sttyCommand({ cols: 132, rows: 43 });
    expect(cmd.slice(0, 2)).toEqual(['sh', '-c']);
    expect(cmd[2]).toBe('stty -F /dev/flotilla-console rows "$1" cols "$2" && echo "$1 $2" > /run/flotilla-console-size');
    expect(cmd.slice(4)).toEqual(['43', '132']);
  });

  it("passes on the guest's own words when stty fails", () => {
    expect(() => checkStty({ exitCode: 0, stdout: '', stderr: '' })).not.toThrow();
    expect(() => checkStty({ exitCode: 1, stdout: '', stderr: "stty: can't open '/dev/flotilla-console': No such file or directory\n" })).toThrow(/size in the guest failed: stty: can't open/);
    expect(() => checkStty({ exitCode: null, signal: 9, stdout: '', stderr: '' })).toThrow(/signal 9/);
  });

  it('runs one apply at a time per key; of the sizes sent meanwhile only the newest runs', async () => {
    const q = new LatestWins<number>();
    const applied: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const apply = async (v: number): Promise<void> => {
      applied.push(v);
      if (v === 1) await gate;
    };
    const first = q.run('a', 1, apply);
    const second = q.run('a', 2, apply);
    const third = q.run('a', 3, apply);
    const other = q.run('b', 9, apply); // another VM does not wait
    await expect(other).resolves.toBe('applied');
    await expect(second).resolves.toBe('superseded');
    expect(applied).toEqual([1, 9]);
    release();
    await expect(first).resolves.toBe('applied');
    await expect(third).resolves.toBe('applied');
    expect(applied).toEqual([1, 9, 3]);
    // idle again: the next one runs at once
    await expect(q.run('a', 4, apply)).resolves.toBe('applied');
    expect(applied).toEqual([1, 9, 3, 4]);
  });

  it('a failed apply rejects its own call only; the waiting one still runs', async () => {
    const q = new LatestWins<number>();
    const applied: number[] = [];
    const apply = async (v: number): Promise<void> => {
      applied.push(v);
      await Promise.resolve();
      if (v === 1) throw new Error('agent went away');
    };
    const first = q.run('a', 1, apply);
    const second = q.run('a', 2, apply);
    await expect(first).rejects.toThrow('agent went away');
    await expect(second).resolves.toBe('applied');
    expect(applied).toEqual([1, 2]);
  });
});
