import { describe, expect, it } from 'vitest';
import { CONSOLE_FONT_DEFAULT, CONSOLE_FONT_MAX, CONSOLE_FONT_MIN, loadConsoleFont, nextFontSize, saveConsoleFont, zoomKey } from './console-font';

const key = (k: string, mods: Partial<{ ctrlKey: boolean; altKey: boolean; metaKey: boolean }> = {}) => ({ key: k, ctrlKey: true, altKey: false, metaKey: false, ...mods });

function memory(): Storage {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k), clear: () => m.clear(), key: () => null, get length() { return m.size; } };
}

describe('console text size', () => {
  it('reads Ctrl+= / Ctrl++ / Ctrl+- / Ctrl+0, and nothing else', () => {
    expect(zoomKey(key('='))).toBe('in');
    expect(zoomKey(key('+'))).toBe('in');
    expect(zoomKey(key('-'))).toBe('out');
    expect(zoomKey(key('0'))).toBe('reset');
    expect(zoomKey(key('=', { ctrlKey: false }))).toBeNull();
    expect(zoomKey(key('=', { altKey: true }))).toBeNull();
    expect(zoomKey(key('-', { metaKey: true }))).toBeNull();
    expect(zoomKey(key('c'))).toBeNull();
  });

  it('steps by one within its range; reset is the default', () => {
    expect(nextFontSize(13, 'in')).toBe(14);
    expect(nextFontSize(13, 'out')).toBe(12);
    expect(nextFontSize(CONSOLE_FONT_MAX, 'in')).toBe(CONSOLE_FONT_MAX);
    expect(nextFontSize(CONSOLE_FONT_MIN, 'out')).toBe(CONSOLE_FONT_MIN);
    expect(nextFontSize(20, 'reset')).toBe(CONSOLE_FONT_DEFAULT);
  });

  it('is remembered; a missing, foreign or out-of-range value reads as the default', () => {
    const s = memory();
    expect(loadConsoleFont(s)).toBe(CONSOLE_FONT_DEFAULT);
    saveConsoleFont(17, s);
    expect(loadConsoleFont(s)).toBe(17);
    saveConsoleFont(CONSOLE_FONT_DEFAULT, s);
    expect(s.length).toBe(0);
    for (const bad of ['huge', '99', '3', '12.5', '']) {
      s.setItem('flotilla.consoleFontSize', bad);
      expect(loadConsoleFont(s)).toBe(CONSOLE_FONT_DEFAULT);
    }
    const refusing = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('denied'); }, removeItem: () => undefined };
    expect(loadConsoleFont(refusing)).toBe(CONSOLE_FONT_DEFAULT);
    expect(() => saveConsoleFont(15, refusing)).not.toThrow();
  });
});
