// The app window and the session rules that make it safe to show our renderer: isolated,
// sandboxed, no Node, no navigation, no popups, no permissions, a strict CSP.
import { BrowserWindow, shell, type Session, type WebContents } from 'electron';
import { RENDERER_CSP } from '../headless/static-files';
import { isAllowedExternalUrl } from './external-links';

export function openIfAllowed(url: string): void {
  // Only allowlisted http(s) documentation links leave the app; everything else is dropped.
  if (isAllowedExternalUrl(url)) void shell.openExternal(url);
}

/** Applied to every webContents the app ever creates (app 'web-contents-created'). */
export function lockDownContents(contents: WebContents): void {
  contents.on('will-navigate', (e, url) => {
    e.preventDefault();
    openIfAllowed(url);
  });
  contents.on('will-redirect', (e) => e.preventDefault());
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    openIfAllowed(url);
    return { action: 'deny' };
  });
}

export function hardenSession(ses: Session): void {
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [RENDERER_CSP] } });
  });
}

export function createMainWindow(preload: string): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 720,
    minHeight: 480,
    show: false,
    title: 'Flotilla',
    backgroundColor: '#0f172a',
    webPreferences: {
      // The preload is reviewed: it exposes only invoke/on for contract names (see preload.ts).
      preload, // eng-disable PRELOAD_JS_CHECK
      // Middle-click would otherwise try to open links in new windows (denied anyway).
      disableBlinkFeatures: 'Auxclick',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  return win;
}
