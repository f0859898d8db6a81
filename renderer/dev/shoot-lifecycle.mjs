#!/usr/bin/env node
// DEV ONLY: screenshots of the issue-12 views and dialogs (Snapshots tab, VM menu, Clone, Export,
// Add disk, Insert CD, Import, Disks in Settings, a job's progress with Cancel) against the mock
// engine, to test-results/ui-lifecycle/. Usage: node renderer/dev/shoot-lifecycle.mjs [outDir]
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const out = process.argv[2] ?? join(root, 'test-results/ui-lifecycle');
mkdirSync(out, { recursive: true });

const server = await createServer({ configFile: join(root, 'vite.config.mts'), server: { host: '127.0.0.1', port: 0 }, logLevel: 'warn' });
await server.listen();
const base = `http://127.0.0.1:${server.httpServer.address().port}/dev/mock.html`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const shot = (page, name) => page.screenshot({ path: join(out, `${name}.png`) });
try {
  for (const scheme of ['light', 'dark']) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
    page.on('pageerror', (e) => console.error('pageerror', e.message));
    await page.goto(base);
    const tile = (n) => page.getByRole('region', { name: `VM ${n}`, exact: true });
    await tile('linux-1').waitFor();
    await tile('linux-1').getByRole('button', { name: 'Open' }).click();
    await page.getByRole('tab', { name: 'Snapshots' }).click();
    await page.getByRole('table').waitFor();
    await shot(page, `snapshots-${scheme}`);
    if (scheme === 'dark') {
      await page.close();
      continue;
    }
    await page.getByRole('button', { name: 'Take snapshot' }).click();
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('after-tests');
    await shot(page, 'snapshot-create');
    await page.getByRole('dialog').getByRole('button', { name: 'Take snapshot' }).click();
    await page.waitForTimeout(500);
    await shot(page, 'snapshot-progress');
    await page.waitForTimeout(1500);
    await page.getByRole('button', { name: 'Revert to before-upgrade' }).click();
    await shot(page, 'snapshot-revert');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'More actions for linux-1' }).click();
    await shot(page, 'menu-running');
    await page.keyboard.press('Escape');
    await page.getByRole('tab', { name: 'Settings' }).click();
    await page.waitForTimeout(300);
    await page.getByRole('region', { name: 'Disks' }).scrollIntoViewIfNeeded();
    await page.getByLabel('Grow disk.qcow2 to (GiB)').fill('4');
    await shot(page, 'settings-disks');
    await page.getByRole('button', { name: 'All VMs' }).click();
    await tile('build-runner').getByRole('button', { name: 'More actions for build-runner', exact: true }).click();
    await shot(page, 'menu-stopped');
    await page.getByRole('menuitem', { name: 'Clone…' }).click();
    await shot(page, 'clone');
    await page.getByRole('dialog').getByRole('button', { name: 'Clone' }).click();
    await page.waitForTimeout(900);
    await shot(page, 'clone-progress');
    await page.waitForTimeout(3000);
    await tile('build-runner').getByRole('button', { name: 'More actions for build-runner', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Export…' }).click();
    await page.waitForTimeout(300);
    await page.getByLabel('Save as').fill('/home/me/web-staging.flotilla');
    await page.getByRole('dialog').getByRole('button', { name: 'Export' }).click();
    await page.waitForTimeout(500);
    await shot(page, 'export-exists');
    await page.getByRole('button', { name: 'Browse for a folder to save in' }).click();
    await page.waitForTimeout(300);
    await shot(page, 'export-picker');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await tile('build-runner').getByRole('button', { name: 'More actions for build-runner', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Add disk…' }).click();
    await shot(page, 'add-disk');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Import VM' }).click();
    await page.getByRole('textbox', { name: 'Archive' }).fill('/home/me/notes.txt');
    await page.getByRole('dialog').getByRole('button', { name: 'Import' }).click();
    await page.waitForTimeout(400);
    await shot(page, 'import-error');
    await page.getByRole('textbox', { name: 'Archive' }).fill('/home/me/web-staging.flotilla');
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('web-copy');
    await page.getByRole('dialog').getByRole('button', { name: 'Import' }).click();
    await page.waitForTimeout(900);
    await shot(page, 'import-progress');
    await page.waitForTimeout(3000);
    await tile('build-runner').getByRole('button', { name: 'Open' }).click();
    await page.getByRole('tab', { name: 'Settings' }).click();
    await page.getByRole('textbox', { name: 'Folder to share' }).fill('/home/me/projects');
    await page.getByRole('button', { name: 'Share folder' }).click();
    await page.getByRole('textbox', { name: 'Folder to share' }).fill('/srv/datasets');
    await page.getByRole('checkbox', { name: 'Read-only' }).check();
    await page.getByRole('button', { name: 'Share folder' }).click();
    await page.waitForTimeout(500);
    await page.getByRole('region', { name: 'Shared folders' }).scrollIntoViewIfNeeded();
    await shot(page, 'settings-shares');
    await page.getByRole('button', { name: 'All VMs' }).click();
    await tile('debian-installer').getByRole('button', { name: 'Open' }).click();
    await page.waitForTimeout(500);
    await shot(page, 'vm-view-cd');
    await page.getByRole('button', { name: /Change CD/ }).click();
    await shot(page, 'insert-cd');
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(`screenshots in ${out}`);
