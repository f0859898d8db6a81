// Maps a request path to a file inside the built renderer (dist/renderer), for the headless
// HTTP server and Electron's app:// protocol alike. Anything that could escape the root
// (encoded "..", backslashes, NUL, symlinks pointing out) resolves to null.
import { realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeFor(file: string): string {
  return TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** The renderer's Content-Security-Policy: the meta tag in renderer/index.html plus frame-ancestors, which only works as a header. */
/** Vite's build output: `assets/<name>-<8-char content hash>.<ext>`; a new build gives new names. */
const HASHED_ASSET = /(?:^|\/)assets\/[^/]+-[A-Za-z0-9_-]{8}\.[a-z0-9]+$/;

/**
 * How long a browser may keep a file. The page (index.html) is never stored: it names the assets
 * of the current build. Content-hashed assets never change under their name, so they are kept for
 * good and a new tab runs them from the cache (and Chromium's code cache) instead of fetching and
 * compiling them again: without a validator, `no-cache` made every tab download all the renderer's
 * JS (issue 15, firstTileMs). Anything else is checked every time.
 */
export function cacheControlFor(file: string): string {
  if (file.endsWith('.html')) return 'no-store';
  if (HASHED_ASSET.test(file.split(sep).join('/'))) return 'public, max-age=31536000, immutable';
  return 'no-cache';
}

export const RENDERER_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self' ws://127.0.0.1:* ws://localhost:*",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

/** Absolute path of the file to serve, or null (not found, a directory, or outside root). */
export async function resolveStatic(root: string, urlPath: string): Promise<string | null> {
  const path = urlPath.split('?')[0]!.split('#')[0]!;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return null;
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) return null;
  const parts = decoded.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '..' || p === '.')) return null;
  const rel = parts.length === 0 ? ['index.html'] : parts;
  try {
    const realRoot = await realpath(root);
    const file = await realpath(join(realRoot, ...rel));
    if (!file.startsWith(realRoot + sep)) return null;
    return (await stat(file)).isFile() ? file : null;
  } catch {
    return null;
  }
}
