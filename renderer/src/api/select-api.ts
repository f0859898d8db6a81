// Chooses the transport once at startup: the preload bridge inside Electron, WebSocket in a
// browser talking to `flotilla serve`.
import { BridgeApi } from './bridge-api';
import { takeToken } from './token';
import type { Transport } from './transport';
import { WsApi, apiUrl, checkTokenOverHttp } from './ws-api';

export type ApiChoice = { ok: true; api: Transport } | { ok: false; reason: string };

export function selectApi(win: Window = window): ApiChoice {
  if (win.flotillaBridge && win.flotillaBridge.shell === 'electron') return { ok: true, api: new BridgeApi(win.flotillaBridge) };
  const token = takeToken(win.location, win.history, win.sessionStorage);
  if (!token) {
    return {
      ok: false,
      reason: 'This page needs the access token from `flotilla serve`. Open the URL it printed (it ends in #token=…).',
    };
  }
  return { ok: true, api: new WsApi({ url: apiUrl(win.location), token, checkToken: (t) => checkTokenOverHttp(t, win.location) }) };
}
