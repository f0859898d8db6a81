// Issue 14 in the browser, against `flotilla serve` with real QEMU: sparklines that survive a
// reload, the host bar and a wide grid, per-VM URLs (Back, Forward, reload, bookmark) with the
// token never in a request, a graphical VM opening on its Display (screenshot, full screen,
// clipboard), the stop countdown with "Force now", Force stop's confirmation, several VMs at
// once and Stop all, a note on a VM, the engine-served file picker, any memory size, and the
// theme switch (remembered, axe-clean in both themes). Saves the README's screenshot
// (FLOTILLA_UPDATE_DOCS=1 copies it to docs/screenshot.png).
import { expect, test, type Page } from '@playwright/test';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seriousViolations } from './fixtures/axe';
import { bootableIso } from './fixtures/bootable-iso';
import { useServedApp } from './fixtures/flotilla-serve';
import { CreateVmDialog } from './pages/create-vm-dialog';
import { TilesPage } from './pages/tiles-page';
import { VmViewPage } from './pages/vm-view-page';
import { cli, ROOT } from './shell-helpers';

test.describe.configure({ mode: 'serial' });

function mustCli(home: string, args: string[]): void {
  const r = cli(home, args);
  if (r.status !== 0) throw new Error(`flotilla ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

/** The first line a server on 127.0.0.1:PORT sends (the guest's SSH banner through a forward). */
function firstLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const sock = connect(port, '127.0.0.1');
    sock.setTimeout(15_000, () => sock.destroy(new Error(`nothing on port ${port} within 15 s`)));
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\n')) sock.end();
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(got.split('\n')[0]!.trim()));
  });
}

async function samples(page: Page, vm: string): Promise<number> {
  return Number(await new TilesPage(page).tile(vm).cpuSparkline.getAttribute('data-samples'));
}

test.describe('issue 14 conveniences in the browser', () => {
  const app = useServedApp({ viewport: { width: 1440, height: 900 } });
  const requests: string[] = [];

  test('VMs made with the CLI show up; the host bar counts them; the grid uses a wide window', async () => {
    const page = app.page;
    page.on('request', (r) => requests.push(r.url()));
    page.on('websocket', (ws) => requests.push(ws.url()));
    mustCli(app.home, ['create', 'web', '--memory', '256', '--forward', '22', '--start']);
    mustCli(app.home, ['create', 'db', '--memory', '256', '--forward', '22', '--forward', '5432', '--start']);
    mustCli(app.home, ['create', 'grub', '--from', `iso:${bootableIso()}`, '--disk-size', '1', '--display', 'vnc', '--start']);
    mustCli(app.home, ['create', 'api', '--memory', '256', '--forward', '8080', '--start']);
    mustCli(app.home, ['create', 'spare']);
    mustCli(app.home, ['create', 'build-box', '--cpus', '2', '--memory', '1024']);
    const tiles = new TilesPage(page);
    for (const vm of ['web', 'db', 'grub', 'api']) await tiles.tile(vm).expectState('running');
    const host = page.getByRole('region', { name: 'This computer' });
    await expect(host).toContainText('4 running');
    await expect(host.getByRole('meter', { name: /^Memory 1\.0 GiB of / })).toBeVisible();
    await expect(host.getByRole('meter', { name: /^CPUs 4 of \d+$/ })).toBeVisible();
    // without KVM the bar says VMs are emulated, and why (the same words as `flotilla info`)
    const info = JSON.parse(cli(app.home, ['info', '--json']).stdout) as { kvm: boolean; noKvmReason: string | null };
    const noKvm = host.getByText('No KVM: VMs are emulated');
    if (info.kvm) await expect(noKvm).toHaveCount(0);
    else {
      await noKvm.click();
      await expect(host.getByText(info.noKvmReason!, { exact: false })).toBeVisible();
      await noKvm.click();
    }

    await page.setViewportSize({ width: 1920, height: 1080 });
    // (e2e compiles without DOM types: the browser-side code goes in as strings)
    const columns = Number(await page.evaluate(`getComputedStyle(document.querySelector('[aria-label="Virtual machines"]')).gridTemplateColumns.split(' ').length`));
    expect(columns).toBeGreaterThan(4);
    // a half-screen window: the top bar drops words, and none of its items overlaps another
    for (const width of [760, 1024]) {
      await page.setViewportSize({ width, height: 900 });
      const overlaps = Number(
        await page.evaluate(
          `(() => { const r = [...document.querySelectorAll('.topbar > :not(.toolbar), .toolbar > *')].map((e) => e.getBoundingClientRect()).filter((b) => b.width > 0).sort((a, b) => a.left - b.left); let n = 0; for (let i = 1; i < r.length; i++) if (r[i].left < r[i - 1].right - 0.5) n++; return n; })()`,
        ),
      );
      expect(overlaps, `top bar items overlapping at ${width} px`).toBe(0);
    }
    // a laptop window, with a paused VM counted too: "Stop all" stays whole on the host bar's row
    // (the multi-select hint gives way, not the row)
    await page.setViewportSize({ width: 1200, height: 900 });
    mustCli(app.home, ['pause', 'api']);
    await expect(host).toContainText('3 running, 1 paused');
    const hostBox = (await host.boundingBox())!;
    const stopAllBox = (await page.getByRole('button', { name: 'Stop all' }).boundingBox())!;
    expect(Math.abs(stopAllBox.y + stopAllBox.height / 2 - (hostBox.y + hostBox.height / 2)), 'Stop all on the host bar row at 1200 px').toBeLessThan(hostBox.height / 2);
    expect(stopAllBox.x + stopAllBox.width, 'Stop all inside the window').toBeLessThanOrEqual(1200);
    mustCli(app.home, ['resume', 'api']);
    await expect(host).toContainText('4 running');
    await page.setViewportSize({ width: 1440, height: 900 });
  });

  test('sparklines come back full after a reload (the engine keeps a short history)', async () => {
    const page = app.page;
    await expect.poll(() => samples(page, 'web'), { timeout: 60_000 }).toBeGreaterThanOrEqual(8);
    const before = Date.now();
    await page.reload();
    const tile = new TilesPage(page).tile('web');
    await expect(tile.cpuSparkline).toBeVisible();
    const n = await samples(page, 'web');
    const elapsedS = (Date.now() - before) / 1000;
    // at 1 Hz a page without history could hold at most one sample per second since the reload
    expect(n).toBeGreaterThan(Math.ceil(elapsedS) + 1);
  });

  test('a note written in Settings shows on the tile', async () => {
    const page = app.page;
    const tiles = new TilesPage(page);
    await tiles.tile('spare').open();
    const view = new VmViewPage(page, 'spare');
    await view.selectTab('Settings');
    await expect(view.panel.getByText(/never stops any VM/)).toBeVisible();
    // text with a '<' in it: shown as written, never read as markup
    const text = 'Nightly docs build, keep it <2 GiB <b>';
    await view.panel.getByLabel('Note').fill(text);
    await view.panel.getByRole('button', { name: 'Save changes' }).click();
    await expect(view.panel.getByRole('status')).toHaveText('Saved');
    await view.back();
    const note = tiles.tile('spare').root.getByTestId('vm-spare-note');
    await expect(note).toHaveText(text);
    await expect(note.locator('b')).toHaveCount(0);
    // and the note a person would write, for the README's picture
    await tiles.tile('spare').open();
    await view.selectTab('Settings');
    await view.panel.getByLabel('Note').fill('Nightly docs build');
    await view.panel.getByRole('button', { name: 'Save changes' }).click();
    await expect(view.panel.getByRole('status')).toHaveText('Saved');
    await view.back();
    await expect(note).toHaveText('Nightly docs build');
  });

  test('a running VM takes a new note, quit choice and port forward at once; its hardware waits for a stop', async () => {
    const page = app.page;
    const tiles = new TilesPage(page);
    type Info = { pid: number; state: string; ports: { purpose: string; guestPort?: number; hostPort: number }[]; spec: { cpus: number; note: string; keepRunningOnQuit: boolean; restartPolicy: string } };
    const before = JSON.parse(cli(app.home, ['info', 'api', '--json']).stdout) as Info;
    await tiles.tile('api').open();
    const view = new VmViewPage(page, 'api');
    await view.selectTab('Settings');
    await expect(view.panel.getByRole('note')).toHaveText('api is running: its CPUs, memory and display (and disks and shared folders) wait until it is stopped; the rest changes now.');
    await expect(view.panel.getByLabel('CPUs', { exact: true })).toBeDisabled();
    await expect(view.panel.getByLabel('Memory (MiB)')).toBeDisabled();
    await view.panel.getByLabel('Note').fill('Staging API');
    await view.panel.getByRole('checkbox', { name: 'Keep running when the Flotilla app quits' }).check();
    // SSH added beside 8080, without a restart
    await view.panel.getByRole('button', { name: 'Add forward' }).click();
    await view.panel.getByLabel('Guest port of forward 2').fill('22');
    // changed elsewhere while the tab was open: the form sends what was edited in it, so this stays
    mustCli(app.home, ['set', 'api', '--restart', 'on-failure']);
    await view.panel.getByRole('button', { name: 'Save changes' }).click();
    await expect(view.panel.getByRole('status')).toHaveText('Saved');
    expect(await seriousViolations(page)).toEqual([]);
    const after = JSON.parse(cli(app.home, ['info', 'api', '--json']).stdout) as Info;
    // the same QEMU, still running, with the new choices written
    expect(after).toMatchObject({ state: 'running', pid: before.pid, spec: { cpus: before.spec.cpus, note: 'Staging API', keepRunningOnQuit: true, restartPolicy: 'on-failure' } });
    mustCli(app.home, ['set', 'api', '--restart', 'never']);
    const ssh = after.ports.find((p) => p.purpose === 'forward' && p.guestPort === 22)!;
    expect(await firstLine(ssh.hostPort)).toMatch(/^SSH-2\.0-/);
    await view.back();
    await expect(tiles.tile('api').root.getByTestId('vm-api-note')).toHaveText('Staging API');
    await expect(tiles.tile('api').root.getByText(`127.0.0.1:${ssh.hostPort} → 22`)).toBeVisible();
  });

  test('the tiles with running VMs (README screenshot)', async () => {
    const page = app.page;
    const tiles = new TilesPage(page);
    await expect(tiles.tile('web').consoleThumb.locator('pre')).toHaveText(/\S/, { timeout: 120_000 });
    await expect(tiles.tile('db').consoleThumb.locator('pre')).toHaveText(/\S/, { timeout: 120_000 });
    await expect(tiles.tile('api').consoleThumb.locator('pre')).toHaveText(/\S/, { timeout: 120_000 });
    await expect(tiles.tile('grub').screenThumb).toBeVisible({ timeout: 120_000 });
    // running VMs first, so the picture's first row shows them at work
    const sort = page.getByRole('combobox', { name: 'Sort by' });
    await sort.selectOption('state');
    expect(await seriousViolations(page)).toEqual([]);
    const shot = test.info().outputPath('tiles-1440x900.png');
    await page.screenshot({ path: shot });
    await sort.selectOption('name');
    // refresh the README's picture only when asked, so a test run leaves the tree clean
    if (process.env.FLOTILLA_UPDATE_DOCS === '1') {
      mkdirSync(join(ROOT, 'docs'), { recursive: true });
      copyFileSync(shot, join(ROOT, 'docs', 'screenshot.png'));
    }
  });

  test('each VM view and tab has a URL: Back, Forward, reload and a bookmark land there', async () => {
    const page = app.page;
    const tiles = new TilesPage(page);
    await tiles.tile('web').open();
    const view = new VmViewPage(page, 'web');
    // a headless VM opens on its console
    await expect(view.tab('Console')).toHaveAttribute('aria-selected', 'true');
    await expect(page).toHaveURL(/#\/vm\/[a-z0-9]+\/console$/);
    await view.selectTab('Logs');
    await expect(page).toHaveURL(/#\/vm\/[a-z0-9]+\/logs$/);
    const vmUrl = page.url();

    await page.reload();
    await expect(view.tab('Logs')).toHaveAttribute('aria-selected', 'true');
    await page.goBack();
    await expect(tiles.tile('web').root).toBeVisible();
    await expect(page.getByRole('tablist', { name: 'web views' })).toHaveCount(0);
    await page.goForward();
    await expect(view.tab('Logs')).toHaveAttribute('aria-selected', 'true');
    await view.back();
    await expect(tiles.tile('web').root).toBeVisible();
    // a bookmark opened in the tab
    await page.goto(vmUrl);
    await expect(view.tab('Logs')).toHaveAttribute('aria-selected', 'true');
    await view.back();

    // a VM never started: its console says so in the terminal's place, not an empty black box
    await tiles.tile('spare').open();
    const spare = new VmViewPage(page, 'spare');
    await expect(spare.tab('Console')).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByRole('region', { name: 'Console of spare' })).toContainText('spare is stopped: its console shows here once it starts.');
    await spare.back();

    // the token never travelled in a request (it lives in the tab's sessionStorage)
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((u) => u.includes(app.serve.token))).toEqual([]);
  });

  test('a graphical VM opens on its Display: screenshot, full screen and a clipboard panel', async () => {
    const page = app.page;
    await new TilesPage(page).tile('grub').open();
    const view = new VmViewPage(page, 'grub');
    await expect(view.tab('Display')).toHaveAttribute('aria-selected', 'true');
    await expect(page).toHaveURL(/\/display$/);
    await expect(view.panel.getByRole('status').first()).toHaveText('Connected', { timeout: 60_000 });

    const download = page.waitForEvent('download');
    await view.panel.getByRole('button', { name: 'Screenshot' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^grub-\d{4}-\d{2}-\d{2}-\d{6}\.png$/);
    const png = readFileSync(await file.path());
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.length).toBeGreaterThan(500);

    await view.panel.getByRole('button', { name: 'Full screen' }).click();
    await expect(view.panel.getByRole('button', { name: 'Exit full screen' })).toHaveAttribute('aria-pressed', 'true');
    expect(await page.evaluate(`document.fullscreenElement?.classList.contains('display-tab') ?? false`)).toBe(true);
    await view.panel.getByRole('button', { name: 'Exit full screen' }).click();
    await expect(view.panel.getByRole('button', { name: 'Full screen' })).toBeVisible();

    await view.panel.getByRole('button', { name: 'Clipboard' }).click();
    const clip = view.panel.getByLabel('Clipboard text');
    await clip.fill('hello guest');
    await view.panel.getByRole('button', { name: 'Send to guest' }).click();
    await expect(view.panel.getByText('Sent: the guest can paste it now.')).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
  });

  test('stopping a guest that ignores ACPI shows the countdown, and Force now ends it at once', async () => {
    const page = app.page;
    const view = new VmViewPage(page, 'grub');
    // GRUB's menu ignores the power button: the engine waits for its deadline
    await view.root.getByRole('button', { name: 'Stop', exact: true }).click();
    const countdown = view.root.getByRole('group', { name: 'Stopping grub' });
    await expect(countdown).toContainText(/forcing off in \d+ s/);
    await page.screenshot({ path: test.info().outputPath('countdown.png') });
    await countdown.getByRole('button', { name: 'Force now' }).click();
    // no confirmation from the countdown: the user already asked for the stop
    await expect(page.getByRole('alertdialog')).toHaveCount(0);
    await expect(view.root.getByTestId('vm-grub-state')).toHaveText('stopped', { timeout: 60_000 });
    await expect(countdown).toHaveCount(0);
    await view.back();
  });

  test('Force stop asks first', async () => {
    const page = app.page;
    const tile = new TilesPage(page).tile('db');
    await tile.button('Force stop').click();
    const ask = page.getByRole('alertdialog', { name: 'Force stop db?' });
    await expect(ask).toContainText(/pulling its power cord/);
    expect(await seriousViolations(page)).toEqual([]);
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await expect(ask).toHaveCount(0);
    await tile.expectState('running');
    await tile.button('Force stop').click();
    await ask.getByRole('button', { name: 'Force stop' }).click();
    await tile.expectState('stopped', 60_000);
  });

  test('several tiles start and stop together; Stop all stops every running VM, or every shown one while a filter is on', async () => {
    const page = app.page;
    const tiles = new TilesPage(page);
    const bar = page.getByRole('toolbar', { name: 'Several VMs' });
    await tiles.tile('db').root.getByRole('checkbox', { name: 'Select db' }).check();
    await tiles.tile('spare').root.getByRole('checkbox', { name: 'Select spare' }).check();
    await expect(bar.getByRole('status')).toHaveText('2 selected');
    await bar.getByRole('button', { name: 'Start selected' }).click();
    await tiles.tile('db').expectState('running');
    await tiles.tile('spare').expectState('running');
    await bar.getByRole('button', { name: 'Stop selected' }).click();
    await tiles.tile('db').expectState('stopped');
    await tiles.tile('spare').expectState('stopped');
    await expect(tiles.tile('web').state).toHaveText('running');
    await expect(tiles.tile('api').state).toHaveText('running');
    await bar.getByRole('button', { name: 'Clear selection' }).click();

    // with a filter on, it stops what the grid shows and leaves what the filter hides
    await tiles.filter.fill('web');
    await bar.getByRole('button', { name: 'Stop all shown' }).click();
    const askShown = page.getByRole('alertdialog', { name: 'Stop the VMs shown?' });
    await expect(askShown).toContainText('(web)');
    await askShown.getByRole('button', { name: 'Stop all shown' }).click();
    await tiles.tile('web').expectState('stopped');
    await tiles.filter.fill('');
    await expect(tiles.tile('api').state).toHaveText('running');

    await bar.getByRole('button', { name: 'Stop all' }).click();
    const ask = page.getByRole('alertdialog', { name: 'Stop all VMs?' });
    await expect(ask).toContainText('api');
    await ask.getByRole('button', { name: 'Stop all' }).click();
    await tiles.tile('api').expectState('stopped');
    await expect(page.getByRole('region', { name: 'This computer' })).toContainText('0 running');
  });

  test('Browse opens the engine-served picker; any memory size is accepted', async () => {
    const page = app.page;
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-pick-'));
    try {
      mkdirSync(join(dir, 'sub'));
      writeFileSync(join(dir, 'sub', 'inner.iso'), 'x');
      writeFileSync(join(dir, '.hidden.iso'), 'x');
      const tricky = '<img src=x onerror=alert(1)>.iso';
      writeFileSync(join(dir, tricky), 'x');
      writeFileSync(join(dir, 'debian.iso'), 'x'.repeat(2048));

      await new TilesPage(page).newVmButton.click();
      const dialog = new CreateVmDialog(page);
      await dialog.chooseSource('Install from ISO');
      await dialog.field('ISO image').fill(`${dir}/`);
      await dialog.root.getByRole('button', { name: 'Browse for ISO image' }).click();
      const picker = page.getByRole('dialog', { name: 'Choose ISO image' });
      const list = picker.getByRole('list', { name: `Contents of ${dir}` });
      await expect(list.getByRole('button', { name: 'debian.iso' })).toBeVisible();
      // a name is text, never markup
      await expect(list.getByRole('button', { name: tricky })).toBeVisible();
      await expect(list.locator('img')).toHaveCount(0);
      await expect(list.getByRole('button', { name: '.hidden.iso' })).toHaveCount(0);
      await picker.getByRole('checkbox', { name: 'Show hidden files' }).check();
      await expect(list.getByRole('button', { name: '.hidden.iso' })).toBeVisible();
      expect(await seriousViolations(page)).toEqual([]);
      await page.screenshot({ path: test.info().outputPath('picker.png') });

      await list.getByRole('button', { name: 'sub' }).click();
      const inner = picker.getByRole('list', { name: `Contents of ${join(dir, 'sub')}` });
      await expect(inner.getByRole('button', { name: 'inner.iso' })).toBeVisible();
      await picker.getByRole('button', { name: 'Up' }).click();
      await list.getByRole('button', { name: 'debian.iso' }).click();
      await picker.getByRole('button', { name: 'Choose' }).click();
      await expect(picker).toHaveCount(0);
      await expect(dialog.field('ISO image')).toHaveValue(join(dir, 'debian.iso'));

      // any memory size, not a fixed list: a default VM with 300 MiB
      await dialog.chooseSource('Built-in Linux');
      await dialog.field('Name').fill('odd-size');
      await dialog.field('Memory (MiB)').fill('300');
      await dialog.startAfterCreating.uncheck();
      await dialog.submit();
      await expect(new TilesPage(page).tile('odd-size').root).toContainText('300 MiB');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the theme switch is remembered, and axe is clean in dark and light', async () => {
    const page = app.page;
    const html = page.locator('html');
    const theme = page.getByRole('combobox', { name: 'Theme' });
    await theme.selectOption('dark');
    await expect(html).toHaveAttribute('data-theme', 'dark');
    // (axe looks at the dark tiles after the reload: the same page, and it shows the theme was kept)
    await page.reload();
    await expect(theme).toHaveValue('dark');
    await expect(html).toHaveAttribute('data-theme', 'dark');
    await expect(new TilesPage(page).tile('web').root).toBeVisible();
    expect(await seriousViolations(page)).toEqual([]);
    await page.screenshot({ path: test.info().outputPath('tiles-dark.png') });
    await new TilesPage(page).tile('web').open();
    expect(await seriousViolations(page)).toEqual([]);
    await new VmViewPage(page, 'web').back();

    await theme.selectOption('light');
    await expect(html).toHaveAttribute('data-theme', 'light');
    await page.reload();
    await expect(html).toHaveAttribute('data-theme', 'light');
    expect(await seriousViolations(page)).toEqual([]);
    await theme.selectOption('system');
    expect(await page.evaluate(`localStorage.getItem('flotilla.theme')`)).toBeNull();
  });
});
