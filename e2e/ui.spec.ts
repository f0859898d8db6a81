// The renderer end to end, in Debian Chromium against `flotilla serve` with real QEMU:
// first run → one-click default VM → console → exec → stop → duplicate name → delete.
// One data directory and one page for the whole story (serial), as a user would go.
import { expect, test } from '@playwright/test';
import { seriousViolations } from './fixtures/axe';
import { CreateVmDialog } from './pages/create-vm-dialog';
import { TilesPage } from './pages/tiles-page';
import { VmViewPage } from './pages/vm-view-page';
import { useServedApp } from './fixtures/flotilla-serve';
import { cli } from './shell-helpers';

test.describe.configure({ mode: 'serial' });

test.describe('tiles, console, exec, lifecycle in the browser', () => {
  const app = useServedApp();
  const VM = 'linux-1';

  test('1. the empty state makes a running default VM in one click', async () => {
    const info = test.info();
    const tiles = new TilesPage(app.page);
    await expect(tiles.startLinuxButton).toBeVisible();
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('empty-state.png') });

    await tiles.startLinuxButton.click();
    const tile = tiles.tile(VM);
    await expect(tile.root).toBeVisible();
    await tile.expectState('running');
    // a console-text thumbnail with the guest's last lines
    await expect(tile.consoleThumb.locator('pre')).toHaveText(/\S/, { timeout: 120_000 });
    // sparklines with at least two samples drawn
    await expect(tile.cpuSparkline).toBeVisible();
    await expect(tile.memorySparkline).toBeVisible();
    await expect(tile.cpuSparkline.locator('path.spark-line')).toHaveCount(1, { timeout: 30_000 });
    // the SSH forward as a chip
    await expect(tile.ports.first()).toHaveText(/127\.0\.0\.1:\d+ → 22/);
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('tiles-running.png') });
  });

  test('2. typing in the console is echoed back by the guest', async () => {
    const info = test.info();
    const tiles = new TilesPage(app.page);
    await tiles.tile(VM).open();
    const view = new VmViewPage(app.page, VM);
    await view.selectTab('Console');
    await expect(view.terminal).toBeVisible();
    // where the shell runs in the guest: the built-in Linux's console pty, relayed to a virtio-serial port
    await expect(view.panel.getByText(/^Console \(virtio-serial, \/dev\/flotilla-console\)\./)).toBeVisible();
    const marker = `ok-${Math.random().toString(36).slice(2, 10)}`;
    await view.typeInConsole(`echo ${marker}\n`);
    // the command line itself plus the shell's output line
    await expect.poll(async () => ((await view.terminal.innerText()).match(new RegExp(marker, 'g')) ?? []).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
    expect(await seriousViolations(app.page)).toEqual([]);
    // every row the terminal made is inside its frame: the last one (the prompt) is not cut off
    const frame = (await view.terminal.boundingBox())!;
    const rows = (await view.terminal.locator('.xterm-screen').boundingBox())!;
    expect(rows.y + rows.height).toBeLessThanOrEqual(frame.y + frame.height);
    await app.page.screenshot({ path: info.outputPath('console.png') });

    // the shell's pty has the terminal's size, so full-screen programs (vi, top) fill it: the
    // engine sets it in the guest (it said 0 × 0 before)
    const termRows = await view.terminal.locator('.xterm-rows > div').count();
    await view.typeInConsole('echo tty-size=$(stty size)\n');
    await expect.poll(async () => /tty-size=(\d+) (\d+)/.exec(await view.terminal.innerText())?.slice(1).map(Number), { timeout: 30_000 }).toEqual([termRows, expect.any(Number)]);
    expect(Number(/tty-size=\d+ (\d+)/.exec(await view.terminal.innerText())![1])).toBeGreaterThan(80);

    // find in the scrollback: Ctrl+Shift+F from the terminal, matches counted as you type, Enter
    // to the older one, Shift+Enter back, Esc back to the terminal (which still takes typing)
    await view.terminal.click();
    const rowsBefore = await view.terminal.locator('.xterm-rows > div').count();
    await app.page.keyboard.press('Control+Shift+F');
    const find = view.panel.getByRole('search', { name: 'Find in console' });
    const findInput = find.getByRole('searchbox', { name: 'Find in console' });
    await expect(findInput).toBeFocused();
    // the bar floats over the terminal: the terminal keeps its rows (a change of rows drops xterm's
    // selection, the current match, and Enter then started again from the first)
    await expect(find).toBeVisible();
    expect(await view.terminal.locator('.xterm-rows > div').count()).toBe(rowsBefore);
    await findInput.fill(marker);
    const count = find.getByRole('status');
    await expect(count).toHaveText(/^\d+ of ([2-9]|\d{2,})$/);
    // as in a terminal, typing lands on the newest match (the last of them), and Enter goes up to the one before
    const [, at, of] = /^(\d+) of (\d+)$/.exec((await count.textContent())!)!;
    expect(at).toBe(of);
    await findInput.press('Enter');
    await expect(count).toHaveText(`${Number(of) - 1} of ${of}`);
    // a resize (rows and columns) keeps the current match: the addon searches again 200 ms after
    // it, from the bottom (xterm dropped its selection), and "1 of 2" became "2 of 2"
    const viewport = app.page.viewportSize()!;
    await app.page.setViewportSize({ width: viewport.width - 120, height: viewport.height - 90 });
    await expect.poll(() => view.terminal.locator('.xterm-rows > div').count()).not.toBe(rowsBefore);
    await app.page.waitForTimeout(600);
    await expect(count).toHaveText(`${Number(of) - 1} of ${of}`);
    await app.page.setViewportSize(viewport);
    await expect.poll(() => view.terminal.locator('.xterm-rows > div').count()).toBe(rowsBefore);
    await app.page.waitForTimeout(600);
    await expect(count).toHaveText(`${Number(of) - 1} of ${of}`);
    await findInput.press('Shift+Enter');
    await expect(count).toHaveText(`${of} of ${of}`);
    await expect(view.terminal.locator('.xterm-find-result-decoration').first()).toBeAttached();
    await app.page.screenshot({ path: info.outputPath('console-find.png') });
    // a match in the terminal's top right corner is not left under the bar: the guest prints one
    // at the last columns (cursor right to the margin, 9 back), then enough lines to lift it to
    // the top row; the terminal scrolls the lines that bring it out from under the bar
    await findInput.press('Escape');
    await view.typeInConsole(`printf '\\033[999C\\033[9DRIGHT''MOST\\n'; seq 1 ${rowsBefore - 2}\n`);
    await expect(view.terminal.locator('.xterm-rows > div').first()).toContainText('RIGHTMOST');
    await app.page.keyboard.press('Control+Shift+F');
    await findInput.fill('RIGHTMOST');
    await expect(count).toHaveText('1 of 1');
    // (one match: its highlight and its current-match box are at the same place)
    const match = (await view.terminal.locator('.xterm-find-result-decoration').first().boundingBox())!;
    const bar = (await find.boundingBox())!;
    const overlap = match.x < bar.x + bar.width && bar.x < match.x + match.width && match.y < bar.y + bar.height && bar.y < match.y + match.height;
    expect(overlap, `the current match (${JSON.stringify(match)}) under the find bar (${JSON.stringify(bar)})`).toBe(false);
    await findInput.fill('no-such-text-here');
    await expect(count).toHaveText('No matches');
    await findInput.press('Escape');
    await expect(find).toHaveCount(0);
    await expect(view.terminalInput).toBeFocused();

    // text size, as terminals zoom: Ctrl+= twice gives fewer, larger rows, and the guest's pty
    // follows; Ctrl+0 brings the default back (the page itself is not zoomed)
    const rowCount = () => view.terminal.locator('.xterm-rows > div').count();
    const zoomBefore = await app.page.evaluate('window.devicePixelRatio');
    await app.page.keyboard.press('Control+Equal');
    await app.page.keyboard.press('Control+Equal');
    await expect.poll(rowCount).toBeLessThan(rowsBefore);
    const zoomedRows = await rowCount();
    expect(await app.page.evaluate('window.devicePixelRatio')).toBe(zoomBefore);
    await expect(async () => {
      await view.typeInConsole('echo zoomed=$(stty size)\n');
      await expect(view.terminal).toContainText(new RegExp(`zoomed=${zoomedRows} \\d+`), { timeout: 3_000 });
    }).toPass({ timeout: 30_000, intervals: [500] });
    await app.page.keyboard.press('Control+0');
    await expect.poll(rowCount).toBe(rowsBefore);
    // the room under the last whole row is the terminal's own background, not xterm's black
    const bg = (l: typeof view.terminal) => l.evaluate((e) => (e.ownerDocument.defaultView as unknown as { getComputedStyle(x: unknown): { backgroundColor: string } }).getComputedStyle(e).backgroundColor);
    expect(await bg(view.terminal.locator('.xterm-viewport'))).toBe(await bg(view.terminal));

    // the tile's thumbnail shows what a terminal shows: DEC line drawing as box characters
    // (issue 14 #10; a regex over the stream showed "lqqk"), the box drawn by the guest's printf
    const G0 = '\\033(0'; // DEC special graphics on (G0); ASCII back with \033(B
    const A = '\\033(B';
    await view.typeInConsole(`printf '${G0}lqqk${A}\\n${G0}x${A}ab${G0}x${A}\\n${G0}mqqj${A}\\n'\n`);
    // (and a program that reads the console, for the reopening below)
    await view.typeInConsole('cat > /tmp/typed-in\n');
    await view.back();
    const thumb = new TilesPage(app.page).tile(VM).consoleThumb.locator('pre');
    await expect(thumb).toContainText('┌──┐', { timeout: 60_000 });
    await expect(thumb).toContainText('│ab│');
    await expect(thumb).toContainText('└──┘');

    // opened again, the console shows its scrollback without answering the queries in it (the
    // shell's cursor-position request at each prompt): xterm's answers were typed into what read
    // the console then, here cat, which wrote them to its file
    await new TilesPage(app.page).tile(VM).open();
    await view.selectTab('Console');
    await expect(view.terminal).toContainText('cat > /tmp/typed-in');
    await view.terminal.click();
    await app.page.keyboard.press('Control+d');
    await view.typeInConsole('echo typed-in=$(wc -c < /tmp/typed-in)\n');
    await expect(view.terminal).toContainText(/typed-in=\d+/, { timeout: 30_000 });
    expect(/typed-in=(\d+)/.exec(await view.terminal.innerText())![1]).toBe('0');
    await view.back();
  });

  test('3. exec uname -r shows the kernel version', async () => {
    const info = test.info();
    // test 2 ends on the tiles (its thumbnail check)
    await new TilesPage(app.page).tile(VM).open();
    const view = new VmViewPage(app.page, VM);
    await view.selectTab('Exec');
    // the agent needs a moment after boot; a failed run shows its error and can be retried
    let item = await view.exec('uname -r');
    await expect(async () => {
      const text = await item.innerText();
      if (!/exit 0/.test(text)) {
        item = await view.exec('uname -r');
        throw new Error(`not yet: ${text}`);
      }
    }).toPass({ timeout: 120_000, intervals: [3000] });
    await expect(item.getByTestId('exec-stdout')).toHaveText(/^\d+\.\d+\.\d+\S*\s*$/);
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('exec.png') });
    await view.back();
  });

  test('4. stop, and the tile shows stopped', async () => {
    const info = test.info();
    const tile = new TilesPage(app.page).tile(VM);
    await tile.button('Stop').click();
    await tile.expectState('stopped', 120_000);
    await expect(tile.button('Start')).toBeVisible();
    await app.page.screenshot({ path: info.outputPath('stopped.png') });
  });

  test('logs show lifecycle events with reasons; settings of a stopped VM save', async () => {
    const info = test.info();
    await new TilesPage(app.page).tile(VM).open();
    const view = new VmViewPage(app.page, VM);
    await view.selectTab('Logs');
    const log = view.panel.getByRole('log', { name: 'VM log' });
    await expect(log).toContainText(/stopp/i);
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('logs.png') });

    await view.selectTab('Settings');
    const cpus = view.panel.getByLabel('CPUs', { exact: true });
    await expect(cpus).toBeEnabled();
    await cpus.fill('2');
    const autostart = view.panel.getByRole('checkbox', { name: 'Start automatically after this computer starts' });
    await expect(autostart).not.toBeChecked();
    await autostart.check();
    await view.panel.getByRole('button', { name: 'Save changes' }).click();
    await expect(view.panel.getByRole('status')).toHaveText('Saved');
    const saved = cli(app.home, ['info', VM, '--json']);
    expect(saved.status, saved.stderr).toBe(0);
    expect(JSON.parse(saved.stdout)).toMatchObject({ spec: { cpus: 2, autostart: true } });
    expect(cli(app.home, ['info', VM]).stdout).toMatch(/^start automatically: +yes, after this computer starts$/m);
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('settings.png') });
    await view.back();
    await expect(new TilesPage(app.page).tile(VM).root).toContainText('2 vCPU');
  });

  test('6. creating a VM with an existing name shows the inline error and creates nothing', async () => {
    const info = test.info();
    const tiles = new TilesPage(app.page);
    await expect(tiles.tiles).toHaveCount(1);
    await tiles.newVmButton.click();
    const dialog = new CreateVmDialog(app.page);
    await expect(dialog.root).toBeVisible();
    expect(await seriousViolations(app.page)).toEqual([]);
    await dialog.field('Name').fill(VM);
    await dialog.submit();
    await expect(dialog.field('Name')).toHaveAttribute('aria-invalid', 'true');
    expect(await dialog.fieldError('Name')).toMatch(/already|taken|exists|in use/i);
    await app.page.screenshot({ path: info.outputPath('duplicate-name.png') });
    await dialog.cancel();
    await expect(dialog.root).toHaveCount(0);
    await expect(tiles.tiles).toHaveCount(1);
  });

  test('7. delete with its confirmation, and the tile is gone', async () => {
    const info = test.info();
    const tiles = new TilesPage(app.page);
    const tile = tiles.tile(VM);
    await tile.button('Delete').click();
    const confirm = app.page.getByRole('alertdialog', { name: `Delete ${VM}?` });
    await expect(confirm).toContainText(/disks/);
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('delete-confirm.png') });
    await confirm.getByRole('button', { name: 'Delete VM and disks' }).click();
    await expect(tile.root).toHaveCount(0);
    await expect(tiles.startLinuxButton).toBeVisible();
  });

  test('a lost connection to the engine shows in the UI', async () => {
    await app.serve.stop();
    const banner = app.page.getByRole('alert').filter({ hasText: /Connection lost/ });
    await expect(banner).toBeVisible();
    await expect(banner.getByRole('button', { name: 'Retry now' })).toBeVisible();
    await app.page.screenshot({ path: test.info().outputPath('connection-lost.png') });
  });
});
