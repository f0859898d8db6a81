// A VM with a graphical display, created from a bootable ISO in the dialog: its tile shows
// the screen and the Display tab (noVNC) draws a non-blank picture. Also a screenshot of the
// tiles view with two running VMs (in the test's output; the README's is ui-conveniences').
import { expect, test } from '@playwright/test';
import { seriousViolations } from './fixtures/axe';
import { bootableIso } from './fixtures/bootable-iso';
import { inkFraction } from './fixtures/pixels';
import { CreateVmDialog } from './pages/create-vm-dialog';
import { TilesPage } from './pages/tiles-page';
import { VmViewPage } from './pages/vm-view-page';
import { useServedApp } from './fixtures/flotilla-serve';

test.describe.configure({ mode: 'serial' });

test.describe('a VM with a display', () => {
  const app = useServedApp({ viewport: { width: 1280, height: 800 } });
  const VM = 'grub-iso';

  test('5. an ISO VM with a display shows a non-blank thumbnail and Display tab', async () => {
    const info = test.info();
    const iso = bootableIso();
    const tiles = new TilesPage(app.page);
    await expect(tiles.startLinuxButton).toBeVisible();
    await tiles.newVmButton.or(app.page.getByRole('button', { name: 'Custom VM…' })).first().click();
    const dialog = new CreateVmDialog(app.page);
    await dialog.chooseSource('Install from ISO');
    await dialog.field('ISO image').fill(iso);
    await dialog.field('Disk size (GiB)').fill('1');
    await dialog.field('Name').fill(VM);
    await expect(dialog.field('Display')).toHaveValue('vnc');
    // the engine looked at the path and found an ISO
    await expect(dialog.root.getByText(/ISO|File/).filter({ hasText: /·/ })).toBeVisible();
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('create-iso.png') });
    await dialog.submit();
    await expect(dialog.root).toHaveCount(0);

    const tile = tiles.tile(VM);
    await tile.expectState('running');
    await expect(tile.screenThumb).toBeVisible({ timeout: 120_000 });
    await expect.poll(() => inkFraction(tile.screenThumb), { timeout: 120_000 }).toBeGreaterThan(0.005);

    await tile.open();
    const view = new VmViewPage(app.page, VM);
    await view.selectTab('Display');
    await expect(view.panel.getByRole('status')).toHaveText('Connected', { timeout: 60_000 });
    const canvas = view.display.locator('canvas').first();
    await expect(canvas).toBeVisible();
    await expect.poll(() => inkFraction(canvas), { timeout: 60_000 }).toBeGreaterThan(0.005);
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('display-tab.png') });
    await view.back();
  });

  test('the tiles view with running VMs (screenshot)', async () => {
    const info = test.info();
    const tiles = new TilesPage(app.page);
    await tiles.newVmButton.click();
    const dialog = new CreateVmDialog(app.page);
    await dialog.field('Name').fill('linux-1');
    await dialog.submit();
    const tile = tiles.tile('linux-1');
    await tile.expectState('running');
    await expect(tile.consoleThumb.locator('pre')).toHaveText(/login|#|\$/, { timeout: 120_000 });
    await expect(tile.cpuSparkline.locator('path.spark-line')).toHaveCount(1, { timeout: 30_000 });
    // and one that is not running, as a real fleet has
    await tiles.newVmButton.click();
    await dialog.field('Name').fill('build-box');
    await dialog.startAfterCreating.uncheck();
    await dialog.submit();
    await tiles.tile('build-box').expectState('stopped');
    expect(await seriousViolations(app.page)).toEqual([]);
    const shot = info.outputPath('tiles-two-running.png');
    await app.page.screenshot({ path: shot });
    // (the README's picture is taken by ui-conveniences.spec.ts, at 1440×900 with more VMs)
    for (const name of ['linux-1', VM]) {
      await tiles.tile(name).button('Force stop').click();
      await app.page.getByRole('alertdialog', { name: `Force stop ${name}?` }).getByRole('button', { name: 'Force stop' }).click();
    }
    await tiles.tile('linux-1').expectState('stopped', 60_000);
    await tiles.tile(VM).expectState('stopped', 60_000);
  });
});
