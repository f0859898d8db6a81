// Headless smoke test in Debian Chromium: `flotilla serve` on a fresh data directory, the UI
// loads with the token from the printed URL (and drops it from the address bar), and a VM
// created with the CLI shows up by name through the live event stream; a page left open
// reconnects by itself after serve is killed and started again on its port.
import { expect, test } from '@playwright/test';
import { cli, missingBuild, startServe, tempHome, type Serve } from './shell-helpers';

test.describe('flotilla serve in a browser', () => {
  let serve: Serve | undefined;
  let home: ReturnType<typeof tempHome> | undefined;

  test.beforeAll(async () => {
    const why = missingBuild();
    if (why) return;
    home = tempHome();
    serve = await startServe(home.home);
  });

  test.afterAll(async () => {
    if (serve) expect(await serve.stop()).toBe(0);
    home?.cleanup();
  });

  test('the UI loads with the token and shows a VM created with the CLI', async ({ page }) => {
    const why = missingBuild();
    if (why) console.log(`skipping: ${why}`);
    test.skip(why !== null, why ?? '');
    const s = serve!;
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      // violations only ("Refused to ..."); the meta tag's ignored frame-ancestors notice is not one
      if (/Refused to .*Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    const sockets: { url: string; closed: boolean }[] = [];
    page.on('websocket', (ws) => {
      const entry = { url: ws.url(), closed: false };
      sockets.push(entry);
      ws.on('close', () => (entry.closed = true));
    });

    await page.goto(s.url);
    await expect(page).toHaveTitle(/Flotilla/);
    // the app connected to /api; the token is gone from the address bar once used
    await expect.poll(() => sockets.some((w) => w.url.endsWith('/api') && !w.closed)).toBe(true);
    await expect.poll(() => page.url()).not.toContain(s.token);

    const created = cli(home!.home, ['create', 'smoke-vm', '--json']);
    expect(created.status, created.stderr).toBe(0);
    await expect(page.getByText('smoke-vm', { exact: true }).first()).toBeVisible();

    expect(cspViolations).toEqual([]);
    expect(s.stderr()).not.toContain(s.token);
  });

  test('a page without the token cannot reach the engine', async ({ page }) => {
    const why = missingBuild();
    test.skip(why !== null, why ?? '');
    const s = serve!;
    const origin = new URL(s.url).origin;
    await page.goto(`${origin}/`);
    const status = await page.evaluate(
      (u) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(u, ['flotilla.v1', `flotilla-token.${'0'.repeat(64)}`]);
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('refused');
        }),
      `${origin.replace('http', 'ws')}/api`,
    );
    expect(status).toBe('refused');
  });

  test('a page left open reconnects by itself when serve is killed and started again on its port', async ({ page }) => {
    const why = missingBuild();
    test.skip(why !== null, why ?? '');
    const h = tempHome();
    let s: Serve | undefined;
    try {
      s = await startServe(h.home);
      const port = s.port;
      await page.goto(s.url);
      expect(cli(h.home, ['create', 'before-kill']).status).toBe(0);
      await expect(page.getByText('before-kill', { exact: true }).first()).toBeVisible();

      await s.kill();
      await expect(page.getByText(/Connection lost/)).toBeVisible({ timeout: 30_000 });

      // the same data directory and port: the same token (kept in serve-token), so the open
      // page's retries get in, and the live event stream works again without a reload
      s = await startServe(h.home, ['--port', String(port)]);
      await expect(page.getByText(/Connection lost/)).toHaveCount(0, { timeout: 60_000 });
      expect(cli(h.home, ['create', 'after-restart']).status).toBe(0);
      await expect(page.getByText('after-restart', { exact: true }).first()).toBeVisible();
      await expect(page.getByText('before-kill', { exact: true }).first()).toBeVisible();
    } finally {
      if (s && s.child.exitCode === null) await s.stop();
      h.cleanup();
    }
  });
});
