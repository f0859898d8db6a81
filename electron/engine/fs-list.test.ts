import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listDirectory } from './fs-list';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'fs-list-'));
  mkdirSync(join(root, 'isos'));
  mkdirSync(join(root, '.cache'));
  writeFileSync(join(root, 'b.iso'), 'x'.repeat(10));
  writeFileSync(join(root, 'a.qcow2'), '');
  writeFileSync(join(root, '.secret'), 'k');
  writeFileSync(join(root, '<img src=x onerror=alert(1)>.iso'), '');
  symlinkSync(join(root, 'isos'), join(root, 'link-to-isos'));
  symlinkSync(join(root, 'missing'), join(root, 'dangling'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('listDirectory', () => {
  it('lists folders first, then readable files, without dotfiles or dangling links', async () => {
    const l = await listDirectory(root);
    expect(l.path).toBe(root);
    expect(l.entries).toEqual([
      { name: 'isos', kind: 'dir', size: null },
      { name: 'link-to-isos', kind: 'dir', size: null },
      { name: '<img src=x onerror=alert(1)>.iso', kind: 'file', size: 0 },
      { name: 'a.qcow2', kind: 'file', size: 0 },
      { name: 'b.iso', kind: 'file', size: 10 },
    ]);
    expect(l.truncated).toBe(false);
    // what was left out, so a folder of dotfiles alone is not called empty
    expect(l.hidden).toBe(2);
  });

  it('shows dotfiles only when asked', async () => {
    const all = await listDirectory(root, { showHidden: true });
    const names = all.entries.map((e) => e.name);
    expect(names).toContain('.secret');
    expect(names).toContain('.cache');
    expect(all.hidden).toBe(0);
  });

  it('resolves the path it was given and names its parent', async () => {
    const l = await listDirectory(join(root, 'link-to-isos', '..', 'isos'));
    expect(l.path).toBe(join(root, 'isos'));
    expect(l.parent).toBe(root);
    expect((await listDirectory('/')).parent).toBeNull();
  });

  it('leaves out sockets', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(join(root, 'sock'), r));
    try {
      expect((await listDirectory(root)).entries.map((e) => e.name)).not.toContain('sock');
    } finally {
      srv.close();
    }
  });

  it('cuts a huge folder short and says so', async () => {
    const l = await listDirectory(root, { max: 2 });
    expect(l.entries).toHaveLength(2);
    expect(l.truncated).toBe(true);
  });

  it('says what is wrong with a path that is not a folder', async () => {
    await expect(listDirectory(join(root, 'nope'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringContaining('does not exist') });
    await expect(listDirectory(join(root, 'b.iso'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringContaining('is not a folder') });
  });
});
