// This browser's localStorage, or null where it is blocked (a sandboxed frame, storage turned
// off): what the UI remembers (theme, console text size) then still works, just not remembered.
export function localStore(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
