// Theme choice: "light", "dark" or "system" (follow the device). Saved in localStorage.
// public/theme-boot.js applies the saved choice before first paint; keep the two in step.

export type ThemeChoice = 'light' | 'dark' | 'system';
export type Theme = 'light' | 'dark';

export const THEME_KEY = 'keepsake.theme';
export const THEME_CHOICES: readonly ThemeChoice[] = ['light', 'dark', 'system'];

export function parseThemeChoice(v: unknown): ThemeChoice {
  return v === 'light' || v === 'dark' || v === 'system' ? v : 'system';
}

/** The theme actually shown for a choice, given whether the device prefers dark. */
export function resolveTheme(choice: ThemeChoice, systemPrefersDark: boolean): Theme {
  if (choice === 'system') return systemPrefersDark ? 'dark' : 'light';
  return choice;
}

/** The value for <html data-theme>: set for an explicit choice, absent (null) for "system". */
export function themeAttribute(choice: ThemeChoice): Theme | null {
  return choice === 'system' ? null : choice;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export function loadThemeChoice(storage: StorageLike | null | undefined): ThemeChoice {
  try {
    return parseThemeChoice(storage?.getItem(THEME_KEY));
  } catch {
    return 'system';
  }
}

export function saveThemeChoice(storage: StorageLike | null | undefined, choice: ThemeChoice): void {
  try {
    storage?.setItem(THEME_KEY, choice);
  } catch {
    /* storage blocked (private mode): the choice lasts until reload */
  }
}

/** Apply a choice to the document. CSS follows prefers-color-scheme when no attribute is set. */
export function applyThemeChoice(root: { setAttribute(n: string, v: string): void; removeAttribute(n: string): void }, choice: ThemeChoice): void {
  const attr = themeAttribute(choice);
  if (attr) root.setAttribute('data-theme', attr);
  else root.removeAttribute('data-theme');
}
