// The console's text size: Ctrl+= (or Ctrl++), Ctrl+- and Ctrl+0 in a console make it larger,
// smaller or the default, as terminals zoom; one size for every console of this browser (a
// terminal profile's), remembered in localStorage. A size change refits the terminal, and the
// guest's pty follows its new rows and columns (console-tab.tsx).

import { localStore } from './local-store';

export const CONSOLE_FONT_DEFAULT = 13;
export const CONSOLE_FONT_MIN = 8;
export const CONSOLE_FONT_MAX = 28;
const KEY = 'flotilla.consoleFontSize';

export type Zoom = 'in' | 'out' | 'reset';

/** The zoom a key event asks for, or null. Ctrl alone (Shift allowed for "+"), not Alt or Meta. */
export function zoomKey(e: { key: string; ctrlKey: boolean; altKey: boolean; metaKey: boolean }): Zoom | null {
  if (!e.ctrlKey || e.altKey || e.metaKey) return null;
  if (e.key === '=' || e.key === '+') return 'in';
  if (e.key === '-' || e.key === '_') return 'out';
  if (e.key === '0') return 'reset';
  return null;
}

export function nextFontSize(current: number, zoom: Zoom): number {
  if (zoom === 'reset') return CONSOLE_FONT_DEFAULT;
  return Math.min(CONSOLE_FONT_MAX, Math.max(CONSOLE_FONT_MIN, current + (zoom === 'in' ? 1 : -1)));
}

/** The remembered size; the default when none is, or what is there is not a size in range. */
export function loadConsoleFont(store: Pick<Storage, 'getItem'> | null = localStore()): number {
  let v: string | null = null;
  try {
    v = store?.getItem(KEY) ?? null;
  } catch {
    /* storage refused: the default */
  }
  const n = Number(v);
  return v !== null && Number.isInteger(n) && n >= CONSOLE_FONT_MIN && n <= CONSOLE_FONT_MAX ? n : CONSOLE_FONT_DEFAULT;
}

export function saveConsoleFont(size: number, store: Pick<Storage, 'setItem' | 'removeItem'> | null = localStore()): void {
  try {
    if (size === CONSOLE_FONT_DEFAULT) store?.removeItem(KEY);
    else store?.setItem(KEY, String(size));
  } catch {
    /* not remembered, still applied */
  }
}
