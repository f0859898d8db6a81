import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readSync, closeSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { filePosition, watchFilePosition } from './file-position';

const dirs: string[] = [];
const scratch = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'fpos-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('filePosition', () => {
  it("reads how far a process's descriptor has got in a file, and null for a file it has not open", async () => {
    const dir = scratch();
    const path = join(dir, 'data');
    writeFileSync(path, Buffer.alloc(100_000, 1));
    const fd = openSync(path, 'r');
    try {
      expect(await filePosition(process.pid, path)).toBe(0);
      readSync(fd, Buffer.alloc(40_000), 0, 40_000, null);
      expect(await filePosition(process.pid, path)).toBe(40_000);
    } finally {
      closeSync(fd);
    }
    expect(await filePosition(process.pid, path)).toBeNull();
    expect(await filePosition(2 ** 22 + 7, path)).toBeNull();
  });

  it("follows another process's writes, through a symlinked folder, and stops when told", async () => {
    const dir = scratch();
    symlinkSync(dir, join(dir, 'link'));
    const path = join(dir, 'link', 'out');
    // a child that writes 3 chunks to the file, a moment apart (the file does not exist before)
    const child = spawn(process.execPath, ['-e', `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(join(dir, 'out'))},'w');let n=0;const t=setInterval(()=>{fs.writeSync(fd,Buffer.alloc(1000));if(++n===3){clearInterval(t);setTimeout(()=>{},400)}},250)`]);
    const seen: number[] = [];
    const stop = watchFilePosition(child.pid!, path, (n) => seen.push(n), 50);
    await new Promise((r) => child.once('close', r));
    stop();
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.at(-1)).toBe(3000);
  });
});
