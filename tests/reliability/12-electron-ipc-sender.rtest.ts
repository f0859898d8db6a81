// Check 12 (Electron, without an Electron binary): the IPC wrapper refuses calls from a
// subframe, from a window the app did not create, from a frame showing anything but our
// page; navigation and window.open are denied for every URL, and only allowlisted https
// docs links ever reach shell.openExternal (never file: or javascript:). The `_electron`
// Playwright spec (e2e/) covers the real app where a binary exists.
import { describe, expect, it, vi } from 'vitest';
import type { CallContext, ContractHandler } from '../../shared/contract';
import { IpcRouter, type WindowSink } from '../../electron/shell/ipc-router';
import type { SenderEvent } from '../../electron/shell/sender-check';
import { FakeHandler } from '../../electron/headless/testing/fake-handler';
import { reportFigure, scale } from './fixtures/figures';

const opened: string[] = [];
vi.mock('electron', () => ({
  BrowserWindow: class {},
  shell: { openExternal: (url: string) => (opened.push(url), Promise.resolve()) },
}));

const ROUNDS = scale(20, 200);
const APP = 'flotilla://app/index.html';
const FOREIGN_URLS = [
  'http://evil.example/',
  'https://evil.example/index.html',
  'file:///etc/passwd',
  'flotilla://evil/index.html',
  'flotilla://app@evil/index.html',
  'flotilla://user:pw@app/index.html',
  'data:text/html,<script>1</script>',
  'about:blank',
  'javascript:alert(1)',
  'devtools://devtools/bundled/inspector.html',
  'chrome://gpu',
  'http://127.0.0.1:3000/',
  '',
  'not a url',
];

function win(id: number): WindowSink & { mainFrame: { frameTreeNodeId: number } } {
  return { id, mainFrame: { frameTreeNodeId: id * 100 }, send: () => undefined, isDestroyed: () => false };
}

describe('check 12: Electron IPC sender check, navigation and popups', () => {
  it('refuses IPC from subframes, foreign windows and foreign pages', async () => {
    const fake = new FakeHandler();
    let reached = 0;
    const counting: ContractHandler = {
      handle: (m, p, ctx: CallContext) => {
        reached++;
        return fake.handle(m, p, ctx);
      },
      onEvent: (l) => fake.onEvent(l),
    };
    const router = new IpcRouter(counting);
    const ours = win(1);
    router.attach(ours);
    const stranger = win(2); // a webContents the app never attached (a devtools or popup window)
    const closed = win(3);
    router.attach(closed)();
    const events: SenderEvent[] = [];
    const main = (w: ReturnType<typeof win>, url: string): SenderEvent => ({ sender: w, senderFrame: { url, frameTreeNodeId: w.mainFrame.frameTreeNodeId, parent: null } });
    for (const url of [APP, ...FOREIGN_URLS]) {
      events.push(main(stranger, url), main(closed, url));
      const top = main(ours, APP).senderFrame!;
      events.push({ sender: ours, senderFrame: { url, frameTreeNodeId: top.frameTreeNodeId + 7, parent: top } });
      events.push({ sender: ours, senderFrame: { url, frameTreeNodeId: top.frameTreeNodeId + 9, parent: null } });
      // a frame with a parent is a subframe even if it reports the main frame's node id
      events.push({ sender: ours, senderFrame: { url, frameTreeNodeId: top.frameTreeNodeId, parent: top } });
      if (url !== APP) events.push(main(ours, url));
    }
    events.push({ sender: ours, senderFrame: null });
    let refused = 0;
    for (let r = 0; r < ROUNDS; r++) {
      for (const ev of events) {
        const env = await router.handle(ev, 'vm.list', {});
        if (!env.ok && env.error.code === 'UNAUTHORIZED') refused++;
      }
    }
    // the app's own main frame still gets through
    expect(await router.handle(main(ours, APP), 'vm.list', {})).toMatchObject({ ok: true });
    const tried = ROUNDS * events.length;
    reportFigure({ check: 12, title: 'Electron IPC sender check', load: `${ROUNDS} rounds × ${events.length} forged senders`, faults: 0, badInputs: tried, lost: tried - refused + (reached - 1) });
    expect(refused).toBe(tried);
    expect(reached).toBe(1);
  });

  it('denies every navigation and window.open; only allowlisted docs links open externally', async () => {
    const { lockDownContents } = await import('../../electron/shell/window');
    const handlers = new Map<string, (e: { preventDefault(): void }, url: string) => void>();
    let openHandler: ((d: { url: string }) => { action: string }) | null = null;
    const contents = {
      on: (name: string, cb: (e: { preventDefault(): void }, url: string) => void) => void handlers.set(name, cb),
      setWindowOpenHandler: (h: (d: { url: string }) => { action: string }) => void (openHandler = h),
    };
    lockDownContents(contents as never);
    const urls = [...FOREIGN_URLS, APP, 'https://www.debian.org/doc/', 'https://www.debian.org@evil.example/', 'https://www.debian.org:8443/'];
    let denied = 0;
    let tried = 0;
    for (const url of urls) {
      for (const ev of ['will-navigate', 'will-redirect']) {
        let prevented = false;
        handlers.get(ev)!({ preventDefault: () => (prevented = true) }, url);
        tried++;
        if (prevented) denied++;
      }
      tried++;
      if (openHandler!({ url }).action === 'deny') denied++;
    }
    expect(denied).toBe(tried);
    expect(opened.every((u) => u.startsWith('https://www.debian.org/'))).toBe(true);
    expect(opened.some((u) => /^(file|javascript|data):/.test(u))).toBe(false);
    reportFigure({ check: 12, title: 'Electron navigation and window.open', load: `${urls.length} URLs × 3 entry points`, faults: 0, badInputs: tried, lost: tried - denied });
  });
});
