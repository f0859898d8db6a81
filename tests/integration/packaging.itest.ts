// Packaging, offline: electron-builder --dir with a stub Electron distribution (just an
// executable named `electron`; electron-builder copies and renames it) over a throwaway copy
// of the project. Asserts the app archive holds the main, preload and renderer bundles and
// nothing else of note, and that the resources carry the default guest.
import { listPackage, extractFile } from '@electron/asar';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { ensureTestGuest } from './fixtures/test-guest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');
const builder = join(root, 'node_modules', '.bin', 'electron-builder');
let tmp: string;
let unpacked: string;

function ensureBuilt(): void {
  const outputs = ['dist/electron/main.js', 'dist/electron/preload.js', 'dist/renderer/index.html'];
  if (outputs.every((p) => existsSync(join(root, p)))) return;
  const r = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`);
}

/** The real default guest: `npm run dist`'s build/default-guest if present, else the test guest (built once per machine). */
async function provideGuest(dest: string): Promise<string> {
  const prebuilt = join(root, 'build', 'default-guest');
  if (existsSync(join(prebuilt, 'manifest.json'))) {
    cpSync(prebuilt, dest, { recursive: true });
    return prebuilt;
  }
  const src = join(await ensureTestGuest(), 'images', 'default');
  cpSync(src, dest, { recursive: true });
  return src;
}

beforeAll(async () => {
  ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'flotilla-pack-'));
  const stub = join(tmp, 'electron-stub');
  mkdirSync(stub);
  writeFileSync(join(stub, 'electron'), '#!/bin/sh\necho "stub Electron: packaging test only" >&2\nexit 1\n');
  chmodSync(join(stub, 'electron'), 0o755);

  const proj = join(tmp, 'project');
  mkdirSync(proj);
  for (const f of ['package.json', 'electron-builder.yml', 'dist', 'assets']) cpSync(join(root, f), join(proj, f), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(proj, 'node_modules'));
  const from = await provideGuest(join(proj, 'build', 'default-guest'));
  console.log(`packaging test: default guest from ${from}`);

  const out = join(tmp, 'release');
  const r = spawnSync(builder, ['--linux', 'dir', '--projectDir', proj, `-c.electronDist=${stub}`, `-c.directories.output=${out}`], {
    cwd: proj,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ELECTRON_BUILDER_OFFLINE: 'true', CSC_IDENTITY_AUTO_DISCOVERY: 'false' },
  });
  if (r.status !== 0) throw new Error(`electron-builder failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  unpacked = join(out, 'linux-unpacked');
}, 300_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('electron-builder --dir', () => {
  it('names the executable after the app', () => {
    expect(statSync(join(unpacked, 'flotilla')).mode & 0o111).not.toBe(0);
  });

  it('packs main, preload and renderer bundles into app.asar, and no sources or node_modules', () => {
    const asar = join(unpacked, 'resources', 'app.asar');
    const files = listPackage(asar, { isPack: false });
    for (const f of ['/package.json', '/dist/electron/main.js', '/dist/electron/preload.js', '/dist/renderer/index.html']) expect(files).toContain(f);
    expect(files.some((f) => /^\/dist\/renderer\/assets\/.+\.js$/.test(f))).toBe(true);
    expect(files.filter((f) => f.startsWith('/node_modules') || f.startsWith('/electron/') || f.startsWith('/shared/') || f.endsWith('.ts') || f.endsWith('.map'))).toEqual([]);
    const main = extractFile(asar, 'dist/electron/main.js').toString('utf8');
    expect(main).toContain('requestSingleInstanceLock');
    expect(extractFile(asar, 'dist/electron/preload.js').toString('utf8')).toContain('flotillaBridge');
  });

  it('ships the default guest as an extra resource (resources/default-guest)', () => {
    const dir = join(unpacked, 'resources', 'default-guest');
    expect(existsSync(dir)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(expect.arrayContaining(['initrd.img', 'manifest.json', 'vmlinuz']));
    expect(statSync(join(dir, 'vmlinuz')).size).toBeGreaterThan(1 << 20);
    expect(existsSync(join(unpacked, 'resources', 'assets', 'guest', 'init'))).toBe(true);
  });
});
