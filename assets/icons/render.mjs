#!/usr/bin/env node
// Renders flotilla.svg to the PNG sizes the packagers want (16..512, plus a 1024 icon.png for
// macOS), with Debian's headless Chromium. Run after editing the SVG: node assets/icons/render.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const chromium = process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium';
const svg = readFileSync(join(here, 'flotilla.svg'), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'flotilla-icons-'));
const outputs = [16, 24, 32, 48, 64, 128, 256, 512].map((n) => [n, `${n}x${n}.png`]).concat([[1024, 'icon.png']]);
try {
  for (const [size, name] of outputs) {
    const page = join(tmp, `icon-${size}.html`);
    writeFileSync(page, `<!doctype html><html><body style="margin:0;background:transparent">${svg.replace('<svg ', `<svg style="display:block;width:${size}px;height:${size}px" `)}</body></html>`);
    const r = spawnSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1', '--default-background-color=00000000', `--window-size=${size},${size}`, `--screenshot=${join(here, name)}`, `file://${page}`], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`chromium failed for ${size}px: ${r.stderr}`);
    console.log(`${name}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
