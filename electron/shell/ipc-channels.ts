// Names of the two IPC channels between main and preload. Every contract method travels on
// INVOKE (the method name is an argument, checked against `Methods`), every event on EVENT.
// Two fixed channels keep the preload's allowlist trivial: it never forwards a channel name
// that came from the page.
export const IPC_INVOKE = 'flotilla:invoke';
export const IPC_EVENT = 'flotilla:event';

/** The origin the renderer is served from in Electron (a privileged custom scheme; see main.ts). */
export const APP_SCHEME = 'flotilla';
export const APP_HOST = 'app';
export const APP_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;
