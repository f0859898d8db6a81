// Decides whether an IPC message may reach the engine: only the main frame of the window
// we created, showing our own page. Pure (type-only electron import) so it is unit tested in
// plain Node with events shaped like Electron's.
import type { IpcMainInvokeEvent } from 'electron';
import { APP_HOST, APP_SCHEME } from './ipc-channels';

/** The part of an IpcMainInvokeEvent the check reads. */
export type SenderEvent = {
  sender: { id: number; mainFrame: { frameTreeNodeId: number } };
  senderFrame: { url: string; frameTreeNodeId: number; parent: unknown } | null;
};

// Compile-time proof that Electron's real event satisfies the shape above.
export type _RealEventFits = IpcMainInvokeEvent extends SenderEvent ? true : never;

export function isAppUrl(raw: string): boolean {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return false;
  }
  return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && u.username === '' && u.password === '';
}

/** null when trusted, else why not (for the log). */
export function senderRejection(ev: SenderEvent, trustedWebContentsIds: ReadonlySet<number>): string | null {
  if (!trustedWebContentsIds.has(ev.sender.id)) return `webContents ${ev.sender.id} was not created by the app`;
  const f = ev.senderFrame;
  if (!f) return 'sender frame is gone';
  if (f.parent !== null || f.frameTreeNodeId !== ev.sender.mainFrame.frameTreeNodeId) return 'message from a subframe';
  if (!isAppUrl(f.url)) return `frame URL is not the app: ${f.url.slice(0, 80)}`;
  return null;
}
