// The real Electron app through Playwright's _electron, where an Electron binary exists
// (detected without triggering electron's download; skipped with the reason otherwise):
// the window opens with a locked-down page, lists VMs, and starts one.
import { _electron as electron, expect, test, type ElectronApplication, type Page } from '@playwright/test';
import { homeWithDefaultGuest } from './fixtures/flotilla-home';
import { TilesPage } from './pages/tiles-page';
import { cli, findElectronBinary, missingBuild, ROOT } from './shell-helpers';

const found = findElectronBinary();
const why = 'why' in found ? found.why : missingBuild();
if (why) console.log(`electron.spec: skipping: ${why}`);

test.describe('Electron app', () => {
  test.skip(why !== null, why ?? '');

  let app: ElectronApplication;
  let page: Page;
  let home: ReturnType<typeof homeWithDefaultGuest>;

  test.beforeAll(async () => {
    home = homeWithDefaultGuest();
    // created before launch so the app lists it on its first fetch
    const r = cli(home.home, ['create', 'e2e-vm', '--json']);
    expect(r.status, r.stderr).toBe(0);
    app = await electron.launch({ executablePath: (found as { bin: string }).bin, args: [ROOT], env: { ...process.env, FLOTILLA_HOME: home.home, FLOTILLA_ACCEL: process.env.FLOTILLA_ACCEL ?? 'tcg' } });
    page = await app.firstWindow();
  });

  test.afterAll(async () => {
    // stop the VM we started so nothing outlives the test, then quit
    cli(home.home, ['stop', 'e2e-vm', '--force']);
    await app?.close();
    home?.cleanup();
  });

  test('opens a locked-down window', async () => {
    await expect(page).toHaveTitle(/Flotilla/);
    expect(page.url()).toMatch(/^flotilla:\/\/app\//);
    const surface = await page.evaluate(() => {
      const w = globalThis as unknown as { require?: unknown; process?: unknown; flotillaBridge: object; open(u: string): unknown };
      return { require: typeof w.require, process: typeof w.process, bridge: Object.keys(w.flotillaBridge).sort(), popup: w.open('https://github.com/') === null };
    });
    expect(surface).toEqual({ require: 'undefined', process: 'undefined', bridge: ['invoke', 'on', 'shell'], popup: true });
    await page.evaluate(() => ((globalThis as unknown as { location: { href: string } }).location.href = 'https://example.com/'));
    await page.waitForTimeout(500);
    expect(page.url()).toMatch(/^flotilla:\/\/app\//);
  });

  test('the bridge refuses names outside the contract', async () => {
    const r = await page.evaluate(() => (globalThis as unknown as { flotillaBridge: { invoke(m: string, r: unknown): Promise<unknown> } }).flotillaBridge.invoke('shell.exec', {}));
    expect(r).toMatchObject({ ok: false, error: { code: 'UNKNOWN_METHOD' } });
  });

  test('lists VMs and starts one', async () => {
    const tiles = new TilesPage(page);
    await tiles.waitLoaded();
    const tile = tiles.tile('e2e-vm');
    await expect(tile.root).toBeVisible();
    await tile.button('Start').click();
    await tile.expectState('running');
  });
});
