import { describe, expect, it } from 'vitest';
import {
  applyThemeChoice,
  loadThemeChoice,
  parseThemeChoice,
  resolveTheme,
  saveThemeChoice,
  THEME_KEY,
  themeAttribute,
  type StorageLike,
} from './theme';

function memory(init: Record<string, string> = {}): StorageLike & { data: Record<string, string> } {
  const data = { ...init };
  return {
    data,
    getItem: (k) => (k in data ? data[k] : null),
    setItem: (k, v) => {
      data[k] = v;
    },
  };
}

describe('theme', () => {
  it('resolves system from the device preference', () => {
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
    expect(resolveTheme('dark', false)).toBe('dark');
    expect(resolveTheme('light', true)).toBe('light');
  });

  it('parses only known choices, defaulting to system', () => {
    expect(parseThemeChoice('dark')).toBe('dark');
    expect(parseThemeChoice('purple')).toBe('system');
    expect(parseThemeChoice(null)).toBe('system');
  });

  it('round-trips through storage', () => {
    const s = memory();
    expect(loadThemeChoice(s)).toBe('system');
    saveThemeChoice(s, 'dark');
    expect(s.data[THEME_KEY]).toBe('dark');
    expect(loadThemeChoice(s)).toBe('dark');
    saveThemeChoice(s, 'system');
    expect(loadThemeChoice(s)).toBe('system');
  });

  it('survives storage that throws or is missing', () => {
    const broken: StorageLike = {
      getItem: () => {
        throw new Error('blocked');
      },
      setItem: () => {
        throw new Error('blocked');
      },
    };
    expect(loadThemeChoice(broken)).toBe('system');
    expect(() => saveThemeChoice(broken, 'dark')).not.toThrow();
    expect(loadThemeChoice(null)).toBe('system');
  });

  it('sets data-theme only for an explicit choice', () => {
    expect(themeAttribute('system')).toBeNull();
    const attrs = new Map<string, string>();
    const root = {
      setAttribute: (n: string, v: string) => void attrs.set(n, v),
      removeAttribute: (n: string) => void attrs.delete(n),
    };
    applyThemeChoice(root, 'dark');
    expect(attrs.get('data-theme')).toBe('dark');
    applyThemeChoice(root, 'system');
    expect(attrs.has('data-theme')).toBe(false);
  });
});
