// The theme switch: system (follow the OS), light or dark, remembered in localStorage. The
// choice is resolved to light or dark here and set as <html data-theme>, which app.css keys its
// colours on; "system" follows prefers-color-scheme live.
import { localStore } from './local-store';

export type ThemeChoice = 'system' | 'light' | 'dark';
export const THEME_CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];
const KEY = 'flotilla.theme';

export function isThemeChoice(v: unknown): v is ThemeChoice {
  return typeof v === 'string' && (THEME_CHOICES as readonly string[]).includes(v);
}

/** The remembered choice; anything unreadable or unknown is "system". */
export function loadTheme(store: Pick<Storage, 'getItem'> | null): ThemeChoice {
  try {
    const v = store?.getItem(KEY);
    return isThemeChoice(v) ? v : 'system';
  } catch {
    return 'system'; // storage blocked: still a working switch, just not remembered
  }
}

export function saveTheme(store: Pick<Storage, 'setItem' | 'removeItem'> | null, choice: ThemeChoice): void {
  try {
    if (choice === 'system') store?.removeItem(KEY);
    else store?.setItem(KEY, choice);
  } catch {
    /* not remembered, still applied */
  }
}

export function resolveTheme(choice: ThemeChoice, prefersDark: boolean): 'light' | 'dark' {
  return choice === 'system' ? (prefersDark ? 'dark' : 'light') : choice;
}

const darkQuery = (): MediaQueryList | null => (typeof window.matchMedia === 'function' ? window.matchMedia('(prefers-color-scheme: dark)') : null);

export function applyTheme(choice: ThemeChoice, root: HTMLElement = document.documentElement): void {
  const resolved = resolveTheme(choice, darkQuery()?.matches ?? false);
  root.dataset.theme = resolved;
  root.style.colorScheme = resolved;
}

/**
 * Apply the remembered theme now (before the first render, so there is no flash) and follow the
 * OS while the choice is "system". `current` reads the live choice; returns the remembered one.
 */
export function initTheme(current: () => ThemeChoice): ThemeChoice {
  const choice = loadTheme(localStore());
  applyTheme(choice);
  darkQuery()?.addEventListener('change', () => applyTheme(current()));
  return choice;
}

export function rememberTheme(choice: ThemeChoice): void {
  saveTheme(localStore(), choice);
  applyTheme(choice);
}
