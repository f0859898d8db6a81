// Electron main process: the concierge's window. It opens the engine (or becomes a client of
// one already running), serves the renderer on the app:// scheme, binds the one IPC wrapper,
// and owns the menu and the quit flow. Kept thin: all VM logic lives in the engine.
import { app, BrowserWindow, dialog, ipcMain, Menu, protocol, session } from 'electron';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDefaultGuest } from './engine/default-guest-boot';
import { TakeoverHandler } from './engine/takeover';
import { RENDERER_CSP, contentTypeFor, resolveStatic } from './headless/static-files';
import { fileFiltersFor, withHostMethods } from './shell/host-methods';
import { APP_SCHEME, APP_URL, IPC_INVOKE } from './shell/ipc-channels';
import { IpcRouter } from './shell/ipc-router';
import { buildAppMenu } from './shell/menu';
import { installQuitFlow } from './shell/quit';
import { createMainWindow, hardenSession, lockDownContents, openIfAllowed } from './shell/window';

const DOCS_URL = 'https://github.com/flotilla-vm/flotilla#readme';
const rendererDir = join(__dirname, '..', 'renderer');
const log = (line: string): void => console.error(`[flotilla] ${line}`);

// Why a custom scheme rather than file://: every file on disk shares the file:// origin, so
// a stray navigation or injected URL could read local files as "self". flotilla://app serves
// only dist/renderer (path-checked), gets a real origin for the IPC sender check, and is
// "standard"+"secure" so CSP 'self' and module scripts behave as on https.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

// Packaged builds ship the default guest as an extra resource; the engine looks here first.
if (app.isPackaged) process.env.FLOTILLA_BUNDLED_GUEST ??= join(process.resourcesPath, 'default-guest');

let win: BrowserWindow | null = null;

async function boot(): Promise<void> {
  const engine = await TakeoverHandler.open(
    { shell: 'electron' },
    { onLost: () => log('the engine went away; taking over'), onReopened: (role) => log(`engine role: ${role}`), onError: (e) => log(String(e)) },
  );
  log(`engine role: ${engine.role}`);
  void ensureDefaultGuest(engine, log).catch((e: unknown) => log(String(e)));
  const router = new IpcRouter(
    withHostMethods(engine, {
      async pickFile({ title, kind }) {
        const options = { title, properties: ['openFile' as const], filters: fileFiltersFor(kind) };
        const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
        return r.canceled ? null : (r.filePaths[0] ?? null);
      },
    }),
    log,
  );

  protocol.handle(APP_SCHEME, async (req) => {
    const url = new URL(req.url);
    const file = url.host === 'app' ? await resolveStatic(rendererDir, url.pathname) : null;
    if (!file) return new Response('not found', { status: 404 });
    return new Response(await readFile(file), { headers: { 'content-type': contentTypeFor(file), 'content-security-policy': RENDERER_CSP } });
  });
  hardenSession(session.defaultSession);
  ipcMain.handle(IPC_INVOKE, (e, method: unknown, req: unknown) => router.handle(e, method, req));

  win = createMainWindow(join(__dirname, 'preload.js'));
  const contents = win.webContents;
  const detach = router.attach(contents);
  // A reload drops the page's subscriptions; the new page fetches state and subscribes again.
  contents.on('did-start-navigation', (details) => {
    if (details.isMainFrame && !details.isSameDocument) router.reset(contents);
  });
  win.on('closed', () => {
    detach();
    win = null;
  });

  Menu.setApplicationMenu(
    buildAppMenu({
      newVm: () => router.broadcast('ui.newVm', { source: 'menu' }),
      quit: () => app.quit(),
      openDocs: () => openIfAllowed(DOCS_URL),
      devTools: !app.isPackaged,
    }),
  );
  installQuitFlow({ handler: engine, role: () => engine.role, closeEngine: () => engine.close(), window: () => win, log });
  await win.loadURL(APP_URL);
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  app.on('web-contents-created', (_e, contents) => lockDownContents(contents));
  app.whenReady().then(boot, (err: unknown) => log(String(err))).catch((err: unknown) => {
    dialog.showErrorBox('Flotilla could not start', String(err instanceof Error ? err.message : err));
    app.exit(1);
  });
}
