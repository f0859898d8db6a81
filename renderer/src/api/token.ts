// The headless server prints a URL with `#token=<hex>`. We move the token into sessionStorage
// at once and strip it from the address bar, so it never appears in later URLs, history
// entries, bookmarks or Referer headers. A reload in the same tab still finds it.
const KEY = 'flotilla.token';
const TOKEN_RE = /^[0-9a-f]{32,128}$/i;

export function takeToken(loc: Location = window.location, hist: History = window.history, store: Storage = window.sessionStorage): string | null {
  const hash = loc.hash.startsWith('#') ? loc.hash.slice(1) : loc.hash;
  const fromHash = new URLSearchParams(hash).get('token');
  if (fromHash !== null) {
    hist.replaceState(hist.state, '', loc.pathname + loc.search);
    if (TOKEN_RE.test(fromHash)) {
      store.setItem(KEY, fromHash);
      return fromHash;
    }
  }
  const saved = store.getItem(KEY);
  return saved && TOKEN_RE.test(saved) ? saved : null;
}

export function forgetToken(store: Storage = window.sessionStorage): void {
  store.removeItem(KEY);
}
