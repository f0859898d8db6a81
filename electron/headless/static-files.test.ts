// The CSP header sent by `flotilla serve` and the app:// protocol must not drift from the
// renderer's meta tag (both apply; the stricter wins, so a drift silently breaks features).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RENDERER_CSP, cacheControlFor, contentTypeFor } from './static-files';

const directives = (csp: string) =>
  Object.fromEntries(
    csp
      .split(';')
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => [d.split(/\s+/)[0]!, d.split(/\s+/).slice(1).sort().join(' ')]),
  );

describe('renderer CSP', () => {
  it('matches the meta tag in renderer/index.html, plus the header-only frame-ancestors', () => {
    const html = readFileSync(join(__dirname, '..', '..', 'renderer', 'index.html'), 'utf8');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    expect(meta, 'renderer/index.html has a CSP meta tag').toBeTruthy();
    const { 'frame-ancestors': fa, ...header } = directives(RENDERER_CSP);
    expect(fa).toBe("'none'");
    expect(header).toEqual(directives(meta!));
  });

  it('limits connections to ourselves and the loopback display proxy', () => {
    expect(directives(RENDERER_CSP)['connect-src']).toBe("'self' ws://127.0.0.1:* ws://localhost:*");
    expect(directives(RENDERER_CSP)['script-src']).toBe("'self'");
  });

  it('knows the content types the renderer build uses', () => {
    expect(contentTypeFor('/x/index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeFor('/x/a.JS')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('/x/a.css')).toBe('text/css; charset=utf-8');
    expect(contentTypeFor('/x/a.woff2')).toBe('font/woff2');
    expect(contentTypeFor('/x/unknown.bin')).toBe('application/octet-stream');
  });
});

describe('cache control', () => {
  it('never stores the page, keeps content-hashed assets for good, checks anything else', () => {
    expect(cacheControlFor('/app/dist/renderer/index.html')).toBe('no-store');
    expect(cacheControlFor('/app/dist/renderer/assets/index-DhwrqbaY.js')).toBe('public, max-age=31536000, immutable');
    expect(cacheControlFor('/app/dist/renderer/assets/vm-view-C9iWSyp9.js')).toBe('public, max-age=31536000, immutable');
    expect(cacheControlFor('/app/dist/renderer/assets/index-APgru_ov.css')).toBe('public, max-age=31536000, immutable');
    expect(cacheControlFor('/app/dist/renderer/favicon.svg')).toBe('no-cache');
    expect(cacheControlFor('/app/dist/renderer/assets/logo.svg')).toBe('no-cache');
  });
});
