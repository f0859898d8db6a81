// The real bundled main process (dist/electron/main.js) wired to the real engine, with a
// stand-in for the `electron` module (no Electron binary exists here; this is the only way to
// run main.ts's wiring). The stand-in records what main asks of Electron; the assertions are
// what Electron would enforce with those settings: window security, IPC sender checks, the
// app:// protocol, blocked navigation/popups/permissions, the New VM menu event, and the quit
// flow stopping a running VM when the user picks "Stop VMs and quit".
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '../../shared/rpc';
import type { VmInfo } from '../../shared/contract';
import { cleanupHome, makeHome } from './fixtures/engine-harness';

const root = join(__dirname, '..', '..');
const mainBundle = join(root, 'dist', 'electron', 'main.js');

type Handler = (...args: never[]) => unknown;
interface FakeContents extends EventEmitter {
  id: number;
  mainFrame: { frameTreeNodeId: number };
  sent: unknown[][];
  openHandler?: (d: { url: string }) => { action: string };
}

const rec = {
  schemes: [] as unknown[],
  protocols: new Map<string, Handler>(),
  ipc: new Map<string, Handler>(),
  windows: [] as { options: { webPreferences: Record<string, unknown> }; webContents: FakeContents; loaded: string[] }[],
  menu: [] as { label?: string; submenu?: { label?: string; click?: () => void }[] }[],
  opened: [] as string[],
  permission: null as null | Handler,
  messageBoxes: [] as { buttons: string[]; message: string }[],
  messageBoxAnswer: 0,
  quitted: false,
  errors: [] as string[],
};

let nextId = 1;
function makeContents(): FakeContents {
  const id = nextId++;
  const contents: FakeContents = Object.assign(new EventEmitter(), {
    id,
    mainFrame: { frameTreeNodeId: id * 10 },
    sent: [] as unknown[][],
    send(...args: unknown[]) {
      this.sent.push(args);
    },
    isDestroyed: () => false,
    setWindowOpenHandler(h: (d: { url: string }) => { action: string }) {
      contents.openHandler = h;
    },
  });
  return contents;
}

const app = Object.assign(new EventEmitter(), {
  isPackaged: false,
  requestSingleInstanceLock: () => true,
  whenReady: () => Promise.resolve(),
  quit() {
    const e = { defaultPrevented: false, preventDefault() {
      this.defaultPrevented = true;
    } };
    app.emit('before-quit', e);
    if (!e.defaultPrevented) rec.quitted = true;
  },
  exit: (code: number) => rec.errors.push(`exit ${code}`),
});

class BrowserWindow extends EventEmitter {
  webContents = makeContents();
  loaded: string[] = [];
  constructor(readonly options: { webPreferences: Record<string, unknown> }) {
    super();
    rec.windows.push(this);
    app.emit('web-contents-created', {}, this.webContents);
  }
  loadURL(u: string) {
    this.loaded.push(u);
    return Promise.resolve();
  }
  isMinimized = () => false;
  restore() {}
  focus() {}
  show() {}
}

const fakeElectron = {
  app,
  BrowserWindow,
  protocol: { registerSchemesAsPrivileged: (s: unknown[]) => rec.schemes.push(...s), handle: (scheme: string, h: Handler) => rec.protocols.set(scheme, h) },
  ipcMain: { handle: (ch: string, h: Handler) => rec.ipc.set(ch, h) },
  session: {
    defaultSession: {
      setPermissionRequestHandler: (h: Handler) => (rec.permission = h),
      setPermissionCheckHandler: () => {},
      webRequest: { onHeadersReceived: () => {} },
    },
  },
  Menu: { buildFromTemplate: (t: typeof rec.menu) => t, setApplicationMenu: (m: typeof rec.menu) => (rec.menu = m) },
  dialog: {
    showMessageBox: async (...args: unknown[]) => {
      rec.messageBoxes.push(args[args.length - 1] as { buttons: string[]; message: string });
      return { response: rec.messageBoxAnswer };
    },
    showOpenDialog: async () => ({ canceled: true, filePaths: [] }),
    showErrorBox: (t: string, m: string) => rec.errors.push(`${t}: ${m}`),
  },
  shell: { openExternal: async (u: string) => void rec.opened.push(u) },
};

let home: string;
const ModuleInternals = Module as unknown as { _load: (req: string, ...rest: unknown[]) => unknown };
const realLoad = ModuleInternals._load;

function win() {
  return rec.windows[0]!;
}
function invoke(sender: FakeContents, frame: { url: string; frameTreeNodeId: number; parent: unknown } | null, method: string, req: unknown): Promise<Envelope<unknown>> {
  return rec.ipc.get('flotilla:invoke')!({ sender, senderFrame: frame } as never, method as never, req as never) as Promise<Envelope<unknown>>;
}
function fromMainFrame(method: string, req: unknown = {}) {
  const wc = win().webContents;
  return invoke(wc, { url: 'flotilla://app/index.html', frameTreeNodeId: wc.mainFrame.frameTreeNodeId, parent: null }, method, req);
}

beforeAll(async () => {
  if (!existsSync(mainBundle)) throw new Error('dist/electron/main.js is missing: run `npm run build`');
  home = await makeHome();
  process.env.FLOTILLA_HOME = home;
  // this machine has /dev/kvm but KVM does not work; CI forces TCG the same way
  process.env.FLOTILLA_ACCEL ??= 'tcg';
  ModuleInternals._load = function (req: string, ...rest: unknown[]) {
    return req === 'electron' ? fakeElectron : realLoad.call(this, req, ...rest);
  };
  createRequire(__filename)(mainBundle);
  // boot() is async (it opens the engine); wait for the window to load the app
  for (let i = 0; i < 600 && !win()?.loaded.length; i++) await new Promise((r) => setTimeout(r, 100));
});

afterAll(async () => {
  ModuleInternals._load = realLoad;
  delete process.env.FLOTILLA_HOME;
  if (home) await cleanupHome(home);
});

describe('Electron main process wiring (real main.js bundle, real engine)', () => {
  it('opens one isolated, sandboxed window on the app scheme', () => {
    expect(rec.windows).toHaveLength(1);
    expect(win().options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false });
    expect(String(win().options.webPreferences.preload)).toMatch(/dist\/electron\/preload\.js$/);
    expect(win().loaded).toEqual(['flotilla://app/index.html']);
    expect(rec.schemes).toEqual([{ scheme: 'flotilla', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
  });

  it('serves only the built renderer on flotilla://app, with the CSP header', async () => {
    const serve = rec.protocols.get('flotilla')!;
    const ok = (await serve({ url: 'flotilla://app/index.html' } as never)) as Response;
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(ok.headers.get('content-security-policy')).toContain("default-src 'self'");
    for (const u of ['flotilla://app/%2e%2e/%2e%2e/package.json', 'flotilla://app/..%2f..%2fpackage.json', 'flotilla://other/index.html', 'flotilla://app/nope.js']) {
      expect(((await serve({ url: u } as never)) as Response).status, u).toBe(404);
    }
  });

  it('answers the contract from the main frame, and refuses subframes and foreign contents', async () => {
    expect(await fromMainFrame('vm.list')).toEqual({ ok: true, value: [] });
    const wc = win().webContents;
    const sub = { url: 'flotilla://app/index.html', frameTreeNodeId: 999, parent: {} };
    expect(await invoke(wc, sub, 'vm.list', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    const stranger = makeContents();
    expect(await invoke(stranger, { url: 'flotilla://app/index.html', frameTreeNodeId: stranger.mainFrame.frameTreeNodeId, parent: null }, 'vm.list', {})).toMatchObject({
      ok: false,
      error: { code: 'UNAUTHORIZED' },
    });
    expect(await fromMainFrame('vm.get', { id: '../etc' })).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(await fromMainFrame('host.pickFile', { kind: 'iso' })).toEqual({ ok: true, value: { path: null } });
  });

  it('blocks navigation, popups and permissions; only allowlisted docs links go to the browser', () => {
    const wc = win().webContents;
    let prevented = false;
    wc.emit('will-navigate', { preventDefault: () => (prevented = true) }, 'https://evil.example/');
    expect(prevented).toBe(true);
    expect(wc.openHandler!({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(wc.openHandler!({ url: 'javascript:alert(1)' })).toEqual({ action: 'deny' });
    expect(wc.openHandler!({ url: 'https://github.com/flotilla' })).toEqual({ action: 'deny' });
    expect(rec.opened).toEqual(['https://github.com/flotilla']);
    let granted: boolean | null = null;
    rec.permission!({} as never, 'media' as never, ((g: boolean) => (granted = g)) as never);
    expect(granted).toBe(false);
  });

  it('the New VM menu item sends ui.newVm to the window', () => {
    const file = rec.menu.find((m) => m.label === '&File')!;
    file.submenu!.find((i) => i.label === 'New VM…')!.click!();
    expect(win().webContents.sent).toContainEqual(['flotilla:event', 'ui.newVm', { source: 'menu' }]);
  });

  it('quitting with a running VM asks, and "Stop VMs and quit" stops it before quitting', async () => {
    const created = (await fromMainFrame('vm.create', { config: { name: 'quit-vm', source: { kind: 'default' } } })) as Envelope<VmInfo>;
    expect(created.ok).toBe(true);
    const id = (created as { value: VmInfo }).value.id;
    const started = (await fromMainFrame('vm.start', { id, waitAgent: true })) as Envelope<VmInfo>;
    expect(started, JSON.stringify(started)).toMatchObject({ ok: true, value: { state: 'running' } });
    const pid = (started as { value: VmInfo }).value.pid!;
    expect(existsSync(`/proc/${pid}`)).toBe(true);

    rec.messageBoxAnswer = 0;
    app.quit();
    await expect.poll(() => rec.quitted, { timeout: 120_000 }).toBe(true);
    expect(rec.messageBoxes).toHaveLength(1);
    expect(rec.messageBoxes[0]!.buttons).toEqual(['Stop VMs and quit', 'Keep running in background', 'Cancel']);
    expect(rec.messageBoxes[0]!.message).toBe('1 VM is still running');
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(rec.errors).toEqual([]);
  });
});
