import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CappedLog } from './capped-log';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flo-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('CappedLog', () => {
  it('appends, creating the directory and a private file', async () => {
    const f = join(dir, 'logs', 'qemu.log');
    const log = new CappedLog(f);
    log.write('one\n');
    log.write(Buffer.from('two\n'));
    await log.close();
    expect(await readFile(f, 'utf8')).toBe('one\ntwo\n');
    expect((await stat(f)).mode & 0o777).toBe(0o600);
  });

  it('rotates at the cap and keeps at most `keep` old files, so total size stays bounded', async () => {
    const f = join(dir, 'serial.log');
    const log = new CappedLog(f, { maxBytes: 100, keep: 2 });
    for (let i = 0; i < 500; i++) log.write(`line ${String(i).padStart(4, '0')}\n`); // 10 bytes each
    await log.close();
    expect((await readdir(dir)).sort()).toEqual(['serial.log', 'serial.log.1', 'serial.log.2']);
    for (const name of await readdir(dir)) expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(100);
    expect(await readFile(f, 'utf8')).toMatch(/line 0499\n$/);
  });

  it('tail(n) returns the last n lines across rotations, oldest first', async () => {
    const f = join(dir, 'q.log');
    const log = new CappedLog(f, { maxBytes: 30, keep: 3 });
    for (let i = 0; i < 20; i++) log.write(`l${String(i).padStart(2, '0')}\n`); // 4 bytes each, 7 per file
    expect(await log.tail(3)).toEqual(['l17', 'l18', 'l19']);
    expect(await log.tail(10)).toEqual(Array.from({ length: 10 }, (_, i) => `l${String(i + 10).padStart(2, '0')}`));
    expect(await log.tail(0)).toEqual([]);
    await log.close();
  });

  it('tailBytes(n) returns the last n bytes across rotations, oldest first, and nothing for a missing log', async () => {
    const f = join(dir, 's.log');
    const log = new CappedLog(f, { maxBytes: 30, keep: 3 });
    for (let i = 0; i < 20; i++) log.write(`l${String(i).padStart(2, '0')}\n`);
    expect(log.tailBytes(8).toString()).toBe('l18\nl19\n');
    // 7 lines per file: 40 bytes span the live file and the newest rotation
    expect(log.tailBytes(40).toString()).toBe(Array.from({ length: 10 }, (_, i) => `l${i + 10}\n`).join(''));
    expect(log.tailBytes(10_000).toString()).toMatch(/^l\d\d\n(l\d\d\n)*l19\n$/);
    await log.close();
    expect(new CappedLog(join(dir, 'none.log')).tailBytes(100).length).toBe(0);
  });

  it('a single write larger than the cap keeps its tail', async () => {
    const f = join(dir, 'big.log');
    const log = new CappedLog(f, { maxBytes: 16 });
    log.write('x'.repeat(100) + 'END\n');
    await log.close();
    const text = await readFile(f, 'utf8');
    expect(text.length).toBe(16);
    expect(text.endsWith('END\n')).toBe(true);
  });

  it('continues an existing file and counts its size toward the cap', async () => {
    const f = join(dir, 'c.log');
    const a = new CappedLog(f, { maxBytes: 20 });
    a.write('0123456789\n');
    await a.close();
    const b = new CappedLog(f, { maxBytes: 20 });
    b.write('abcdefghij\n');
    await b.close();
    expect(await readFile(`${f}.1`, 'utf8')).toBe('0123456789\n');
    expect(await readFile(f, 'utf8')).toBe('abcdefghij\n');
  });

  it('never throws: an unwritable location is kept as lastError', async () => {
    const notADir = join(dir, 'plain-file');
    await writeFile(notADir, '');
    const log = new CappedLog(join(notADir, 'such.log'));
    expect(() => log.write('x')).not.toThrow();
    expect(log.lastError).toBeDefined();
    expect(await log.tail(5)).toEqual([]);
    await log.close();
    log.write('after close is ignored');
  });
});
