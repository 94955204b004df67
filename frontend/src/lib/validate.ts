// Form checks done on this page before asking the box (which checks again, and has the last word).
// Each returns null when fine, or a sentence saying what to change.

export const MIN_PASSWORD = 10;
export const MAX_PASSWORD = 1024;

export function checkAccountName(name: string): string | null {
  if (name.length === 0) return 'Enter a name to sign in with.';
  if (name.length > 32) return 'Use at most 32 characters.';
  if (/[A-Z]/.test(name) && /^[A-Za-z0-9._-]+$/.test(name)) return 'Use lowercase letters only, for example “anna”.';
  if (!/^[a-z0-9._-]+$/.test(name)) return 'Use only lowercase letters, digits, dots, dashes or underscores (no spaces).';
  if (!/^[a-z0-9]/.test(name)) return 'Start with a letter or a digit.';
  return null;
}

export function checkNewPassword(password: string, name = ''): string | null {
  const n = [...password].length;
  if (n < MIN_PASSWORD) return `Use at least ${MIN_PASSWORD} characters (a few words make a good password).`;
  if (n > MAX_PASSWORD) return `Use at most ${MAX_PASSWORD} characters.`;
  if (name && password.toLowerCase() === name.toLowerCase()) return 'The password must not be the same as the name.';
  return null;
}

/** An optional email address (empty is fine: none). The box checks the exact pattern. */
export function checkEmail(email: string): string | null {
  const e = email.trim();
  if (!e) return null;
  if (e.length > 254) return 'Use at most 254 characters.';
  if (!/^[^\s@]+@[^\s@]+$/.test(e)) return 'Enter one email address, for example anna@example.org.';
  return null;
}

export function checkPasswordsMatch(password: string, again: string): string | null {
  return password === again ? null : 'The two passwords are not the same.';
}

/** A 6-digit code from an authenticator app (spaces allowed while typing). */
export function normaliseTotp(code: string): string {
  return code.replace(/[\s-]/g, '');
}

export function checkTotpCode(code: string): string | null {
  const c = normaliseTotp(code);
  if (c.length === 0) return 'Enter the 6-digit code from your authenticator app.';
  if (!/^\d{6}$/.test(c)) return 'The code is 6 digits, for example 123 456.';
  return null;
}

export function checkRecoveryCode(code: string): string | null {
  return code.trim().length === 0 ? 'Enter one of your recovery codes.' : null;
}

export const MIN_RETENTION_DAYS = 30;
export const MAX_RETENTION_DAYS = 36500;

export function checkRetentionDays(value: number | string): string | null {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (String(value).trim() === '' || !Number.isInteger(n)) return 'Enter a whole number of days.';
  if (n < MIN_RETENTION_DAYS) return `Keep the audit log for at least ${MIN_RETENTION_DAYS} days.`;
  if (n > MAX_RETENTION_DAYS) return `At most ${MAX_RETENTION_DAYS} days (100 years).`;
  return null;
}

export function checkGroupName(name: string): string | null {
  const n = name.trim();
  if (n.length === 0) return 'Enter a name for the group.';
  if (n.length > 64) return 'Use at most 64 characters.';
  return null;
}

/** Group permissions by area, keeping the catalogue's order of areas and of permissions. */
export function byArea<T extends { area: string }>(items: readonly T[]): { area: string; items: T[] }[] {
  const out: { area: string; items: T[] }[] = [];
  for (const it of items) {
    let g = out.find((x) => x.area === it.area);
    if (!g) out.push((g = { area: it.area, items: [] }));
    g.items.push(it);
  }
  return out;
}
