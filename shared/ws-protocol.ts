// What the headless server (electron/headless) and the browser page (renderer/src/api/ws-api.ts)
// must agree on, written once: the WebSocket path and subprotocol, how the per-run token
// travels (a subprotocol entry, never a URL), and the token check a page uses to learn that the
// server refuses its token (a browser cannot see why a WebSocket upgrade failed).
export const WS_PATH = '/api';
export const WS_PROTOCOL = 'flotilla.v1';
export const TOKEN_PROTOCOL_PREFIX = 'flotilla-token.';
/** GET with the token in TOKEN_HEADER: 204 when the server accepts it, 401 when not. */
export const TOKEN_CHECK_PATH = '/api/token-check';
export const TOKEN_HEADER = 'x-flotilla-token';
