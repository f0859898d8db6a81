#!/usr/bin/env node
// DEV ONLY: serve the renderer with Vite, open dev/mock.html in Chromium against the mock
// engine and save screenshots of every view (light and dark) to test-results/ui-mock/.
// Usage: node renderer/dev/shoot.mjs [outDir]
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const out = process.argv[2] ?? join(root, 'test-results/ui-mock');
mkdirSync(out, { recursive: true });

const server = await createServer({ configFile: join(root, 'vite.config.mts'), server: { host: '127.0.0.1', port: 0 }, logLevel: 'warn' });
await server.listen();
const addr = server.httpServer.address();
const base = `http://127.0.0.1:${addr.port}/dev/mock.html`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  for (const scheme of ['light', 'dark']) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
    page.on('pageerror', (e) => console.error('pageerror', e.message));
    await page.goto(base);
    await page.getByRole('region', { name: 'VM linux-1' }).waitFor();
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(out, `tiles-${scheme}.png`) });
    await page.getByRole('button', { name: 'New VM' }).click();
    await page.getByRole('radio', { name: /Install from ISO/ }).check();
    await page.getByLabel('ISO image').fill('/home/me/Downloads/debian-12.iso');
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(out, `create-${scheme}.png`) });
    await page.keyboard.press('Escape');
    await page.getByRole('region', { name: 'VM linux-1' }).getByRole('button', { name: 'Open' }).click();
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(out, `console-${scheme}.png`) });
    await page.getByRole('tab', { name: 'Exec' }).click();
    await page.getByLabel('Command to run in the guest').fill('uname -r');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(out, `exec-${scheme}.png`) });
    await page.getByRole('tab', { name: 'Logs' }).click();
    await page.waitForTimeout(400);
    await page.screenshot({ path: join(out, `logs-${scheme}.png`) });
    await page.getByRole('tab', { name: 'Settings' }).click();
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(out, `settings-${scheme}.png`) });
    await page.getByRole('button', { name: 'All VMs' }).click();
    await page.getByRole('region', { name: 'VM build-runner' }).getByRole('button', { name: 'Delete' }).click();
    await page.screenshot({ path: join(out, `delete-${scheme}.png`) });
    await page.keyboard.press('Escape');
    await page.setViewportSize({ width: 420, height: 800 });
    await page.screenshot({ path: join(out, `narrow-${scheme}.png`) });
    await page.close();
    const empty = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
    await empty.goto(`${base}?scenario=empty`);
    await empty.getByRole('button', { name: 'Start a Linux VM' }).waitFor();
    await empty.screenshot({ path: join(out, `empty-${scheme}.png`) });
    await empty.close();
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(`screenshots in ${out}`);
