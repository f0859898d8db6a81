import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanupTempFiles, TMP_SUFFIX, writeFileAtomic } from './atomic-file';

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flo-atomic-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the content with the given mode and leaves no temp file', async () => {
    const f = join(dir, 'vm.json');
    await writeFileAtomic(f, '{"a":1}', 0o640);
    expect(await readFile(f, 'utf8')).toBe('{"a":1}');
    expect((await stat(f)).mode & 0o777).toBe(0o640 & ~process.umask());
    expect(await readdir(dir)).toEqual(['vm.json']);
  });

  it('a concurrent reader only ever sees a complete old or new version', async () => {
    const f = join(dir, 'vm.json');
    const versions = Array.from({ length: 30 }, (_, i) => JSON.stringify({ v: i, pad: 'x'.repeat(20000 + i) }));
    await writeFileAtomic(f, versions[0]!);
    let reading = true;
    const seen = new Set<number>();
    const reader = (async () => {
      while (reading) {
        const text = await readFile(f, 'utf8');
        const v = (JSON.parse(text) as { v: number }).v; // throws on a torn file
        expect(text).toBe(versions[v]);
        seen.add(v);
      }
    })();
    for (const v of versions.slice(1)) await writeFileAtomic(f, v);
    reading = false;
    await reader;
    expect(JSON.parse(await readFile(f, 'utf8'))).toMatchObject({ v: 29 });
    expect(seen.size).toBeGreaterThan(0);
  });

  it('never shows the temp file under the target name, and cleans up after a failed write', async () => {
    const missingDir = join(dir, 'nope', 'vm.json');
    await expect(writeFileAtomic(missingDir, 'x')).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('cleanupTempFiles', () => {
  it('removes only stale temp files and counts them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flo-atomic-'));
    try {
      await writeFile(join(dir, 'vm.json'), 'keep');
      await writeFile(join(dir, `.vm.json.1.abcd${TMP_SUFFIX}`), 'half');
      await writeFile(join(dir, `.ports.json.2.beef${TMP_SUFFIX}`), 'half');
      expect(await cleanupTempFiles(dir)).toBe(2);
      expect(await readdir(dir)).toEqual(['vm.json']);
      expect(await cleanupTempFiles(join(dir, 'missing'))).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('writeFileAtomic under kill -9', () => {
  it('a writer killed at random points leaves the old or the new version, and its temp files are swept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flo-atomic-kill-'));
    try {
      const bundle = join(dir, 'atomic-file.cjs');
      await build({ entryPoints: [join(__dirname, 'atomic-file.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'silent' });
      const target = join(dir, 'vm.json');
      const writer = `
        const { writeFileAtomic } = require(${JSON.stringify(bundle)});
        (async () => {
          for (let v = 0; ; v++) {
            await writeFileAtomic(${JSON.stringify(target)}, JSON.stringify({ v, pad: 'x'.repeat(50000 + (v % 7) * 1000) }));
            if (v === 0) process.stdout.write('started\\n');
          }
        })();`;
      for (let round = 0; round < 8; round++) {
        const child = spawn(process.execPath, ['-e', writer], { stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise<void>((r) => child.stdout!.once('data', () => r()));
        await new Promise((r) => setTimeout(r, 3 + Math.floor(Math.random() * 40)));
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        const doc = JSON.parse(await readFile(target, 'utf8')) as { v: number; pad: string };
        expect(doc.pad.length).toBe(50000 + (doc.v % 7) * 1000);
        await cleanupTempFiles(dir);
        expect((await readdir(dir)).filter((n) => n.endsWith(TMP_SUFFIX))).toEqual([]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
