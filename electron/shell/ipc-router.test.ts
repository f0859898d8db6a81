// The IPC wrapper's sender check and envelopes, with events shaped like Electron's: only the
// main frame of a window the app created, showing the app's own page, reaches the engine.
import { describe, expect, it } from 'vitest';
import { FakeHandler } from '../headless/testing/fake-handler';
import { IPC_EVENT } from './ipc-channels';
import { IpcRouter, type WindowSink } from './ipc-router';
import { isAppUrl, senderRejection, type SenderEvent } from './sender-check';

function fakeWindow(id: number) {
  const sent: unknown[][] = [];
  let destroyed = false;
  const sink: WindowSink & { mainFrame: { frameTreeNodeId: number } } = {
    id,
    mainFrame: { frameTreeNodeId: id * 100 },
    send: (...args: unknown[]) => void sent.push(args),
    isDestroyed: () => destroyed,
  };
  return { sink, sent, destroy: () => (destroyed = true) };
}

type Win = ReturnType<typeof fakeWindow>;

function mainFrameEvent(w: Win, url = 'flotilla://app/index.html'): SenderEvent {
  return { sender: w.sink, senderFrame: { url, frameTreeNodeId: w.sink.mainFrame.frameTreeNodeId, parent: null } };
}
function subFrameEvent(w: Win, url = 'flotilla://app/index.html'): SenderEvent {
  const main = mainFrameEvent(w).senderFrame!;
  return { sender: w.sink, senderFrame: { url, frameTreeNodeId: main.frameTreeNodeId + 1, parent: main } };
}

function setup() {
  const fake = new FakeHandler();
  const logs: string[] = [];
  const router = new IpcRouter(fake, (l) => logs.push(l));
  const ours = fakeWindow(1);
  const detach = router.attach(ours.sink);
  return { fake, router, ours, logs, detach };
}

describe('sender check', () => {
  it('accepts the main frame of our window showing our page', async () => {
    const { router, ours } = setup();
    const env = await router.handle(mainFrameEvent(ours), 'vm.list', {});
    expect(env).toMatchObject({ ok: true, value: [{ name: 'alpha' }] });
  });

  it.each([
    ['a subframe of our window', (w: Win) => subFrameEvent(w)],
    ['a window the app did not create', () => mainFrameEvent(fakeWindow(7))],
    ['our window showing another origin', (w: Win) => mainFrameEvent(w, 'https://evil.example/')],
    ['our window showing a file: URL', (w: Win) => mainFrameEvent(w, 'file:///tmp/x.html')],
    ['a look-alike host on our scheme', (w: Win) => mainFrameEvent(w, 'flotilla://app.evil/index.html')],
    ['credentials in our URL', (w: Win) => mainFrameEvent(w, 'flotilla://x@app/index.html')],
    ['a frame that has gone away', (w: Win) => ({ sender: w.sink, senderFrame: null })],
    ['a frame claiming parent null but not the main frame', (w: Win) => ({ sender: w.sink, senderFrame: { url: 'flotilla://app/', frameTreeNodeId: 5, parent: null } })],
  ] as const)('refuses %s with UNAUTHORIZED and never calls the engine', async (_what, make) => {
    const { router, ours, fake, logs } = setup();
    const calls: string[] = [];
    const orig = fake.handle.bind(fake);
    fake.handle = (async (m: string, p: unknown, c: never) => {
      calls.push(m);
      return orig(m, p, c);
    }) as typeof fake.handle;
    const env = await router.handle(make(ours), 'vm.list', {});
    expect(env).toEqual({ ok: false, error: { code: 'UNAUTHORIZED', message: 'IPC refused: not from the app window' } });
    expect(calls).toEqual([]);
    expect(logs.join('\n')).toMatch(/ipc: refused vm\.list/);
  });

  it('refuses a window after it is detached (closed)', async () => {
    const { router, ours, detach } = setup();
    detach();
    expect(await router.handle(mainFrameEvent(ours), 'vm.list', {})).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
  });

  it('isAppUrl only knows our scheme and host', () => {
    expect(isAppUrl('flotilla://app/index.html')).toBe(true);
    expect(isAppUrl('flotilla://app/assets/x.js?y#z')).toBe(true);
    for (const u of ['flotilla://other/', 'http://app/', 'javascript:alert(1)', '', 'about:blank', 'flotilla:app']) expect(isAppUrl(u)).toBe(false);
  });

  it('names the reason', () => {
    const w = fakeWindow(3);
    expect(senderRejection(subFrameEvent(w), new Set([3]))).toBe('message from a subframe');
    expect(senderRejection(mainFrameEvent(w), new Set([4]))).toMatch(/not created by the app/);
  });
});

describe('envelopes', () => {
  it('validates with the contract schema: bad payload → INVALID_ARGUMENT with fields', async () => {
    const { router, ours } = setup();
    const env = await router.handle(mainFrameEvent(ours), 'vm.get', { id: '../../etc/passwd' });
    expect(env).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', details: { fields: [{ path: 'id', message: expect.any(String) }] } } });
  });

  it('unknown method → UNKNOWN_METHOD', async () => {
    const { router, ours } = setup();
    expect(await router.handle(mainFrameEvent(ours), 'shell.exec', {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_METHOD' } });
  });

  it('engine errors keep their code', async () => {
    const { router, ours } = setup();
    expect(await router.handle(mainFrameEvent(ours), 'vm.get', { id: 'zzzzzzzzzzzz' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });
});

describe('events to the window', () => {
  it('forwards broadcasts and this window’s console stream on the event channel', async () => {
    const { router, ours, fake } = setup();
    await router.handle(mainFrameEvent(ours), 'console.subscribe', { id: 'aaaaaaaaaaaa' });
    fake.broadcast('vm.removed', { host: 'local', id: 'bbbbbbbbbbbb' });
    fake.consoleOut('aaaaaaaaaaaa', 'hello\r\n');
    router.broadcast('ui.newVm', { source: 'menu' });
    expect(ours.sent).toEqual([
      [IPC_EVENT, 'vm.removed', { host: 'local', id: 'bbbbbbbbbbbb' }],
      [IPC_EVENT, 'console.data', { host: 'local', id: 'aaaaaaaaaaaa', data: 'hello\r\n' }],
      [IPC_EVENT, 'ui.newVm', { source: 'menu' }],
    ]);
  });

  it('a reload drops the old page’s subscriptions; closing the window drops everything', async () => {
    const { router, ours, fake, detach } = setup();
    await router.handle(mainFrameEvent(ours), 'console.subscribe', { id: 'aaaaaaaaaaaa' });
    expect(fake.consoleSubs.size).toBe(1);
    router.reset(ours.sink);
    expect(fake.consoleSubs.size).toBe(0);
    expect(fake.listenerCount).toBe(1);
    detach();
    expect(fake.listenerCount).toBe(0);
  });

  it('does not send to a destroyed window', () => {
    const { ours, fake } = setup();
    ours.destroy();
    fake.broadcast('vm.removed', { host: 'local', id: 'bbbbbbbbbbbb' });
    expect(ours.sent).toEqual([]);
  });
});
