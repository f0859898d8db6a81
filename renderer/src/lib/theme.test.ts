import { describe, expect, it } from 'vitest';
import { loadTheme, resolveTheme, saveTheme } from './theme';

function memoryStorage(): Storage {
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, v),
    removeItem: (k) => void m.delete(k),
    clear: () => m.clear(),
    key: (i) => [...m.keys()][i] ?? null,
    get length() {
      return m.size;
    },
  };
}

describe('theme choice', () => {
  it('is remembered, and "system" is the default and clears the memory', () => {
    const st = memoryStorage();
    expect(loadTheme(st)).toBe('system');
    saveTheme(st, 'dark');
    expect(loadTheme(st)).toBe('dark');
    saveTheme(st, 'system');
    expect(st.length).toBe(0);
    expect(loadTheme(st)).toBe('system');
  });

  it('ignores a stored value it does not know, and storage that throws', () => {
    const st = memoryStorage();
    st.setItem('flotilla.theme', 'neon');
    expect(loadTheme(st)).toBe('system');
    const broken = { getItem: () => { throw new Error('denied'); } };
    expect(loadTheme(broken)).toBe('system');
  });

  it('resolves system by the OS preference, and an explicit choice regardless of it', () => {
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('dark', false)).toBe('dark');
  });
});
