import { describe, expect, it } from 'vitest';
import {
  byArea,
  checkAccountName,
  checkEmail,
  checkGroupName,
  checkNewPassword,
  checkPasswordsMatch,
  checkRecoveryCode,
  checkRetentionDays,
  checkTotpCode,
  normaliseTotp,
} from './validate';

describe('account names (as the box checks them)', () => {
  it('accepts lowercase letters, digits, . _ - starting with a letter or digit', () => {
    for (const ok of ['anna', 'a', 'anna.smith', 'anna_1', 'x-y', '1st', 'a'.repeat(32)]) expect(checkAccountName(ok)).toBeNull();
  });
  it('explains what is wrong', () => {
    expect(checkAccountName('')).toMatch(/Enter a name/);
    expect(checkAccountName('Anna')).toMatch(/lowercase/);
    expect(checkAccountName('anna smith')).toMatch(/no spaces/);
    expect(checkAccountName('änna')).toMatch(/only lowercase/);
    expect(checkAccountName('.anna')).toMatch(/Start with a letter or a digit/);
    expect(checkAccountName('a'.repeat(33))).toMatch(/at most 32/);
  });
});

describe('passwords', () => {
  it('needs at least 10 characters, counted as characters not bytes', () => {
    expect(checkNewPassword('123456789')).toMatch(/at least 10/);
    expect(checkNewPassword('1234567890')).toBeNull();
    expect(checkNewPassword('ééééééééé')).toMatch(/at least 10/);
  });
  it('must not be the name', () => {
    expect(checkNewPassword('annasmith1', 'AnnaSmith1')).toMatch(/not be the same as the name/);
  });
  it('must be typed the same twice', () => {
    expect(checkPasswordsMatch('a', 'a')).toBeNull();
    expect(checkPasswordsMatch('a', 'b')).toMatch(/not the same/);
  });
});

describe('email addresses', () => {
  it('are optional, one address, at most 254 characters', () => {
    expect(checkEmail('')).toBeNull();
    expect(checkEmail('  ')).toBeNull();
    expect(checkEmail('anna@example.org')).toBeNull();
    expect(checkEmail('anna')).toMatch(/email address/);
    expect(checkEmail('anna@example.org ben@example.org')).toBeTruthy();
    expect(checkEmail(`${'a'.repeat(250)}@x.org`)).toMatch(/254/);
  });
});

describe('codes', () => {
  it('takes 6 digits, with spaces or a dash while typing', () => {
    expect(normaliseTotp(' 123 456 ')).toBe('123456');
    expect(normaliseTotp('123-456')).toBe('123456');
    expect(checkTotpCode('123 456')).toBeNull();
    expect(checkTotpCode('')).toMatch(/Enter the 6-digit code/);
    expect(checkTotpCode('12345')).toMatch(/6 digits/);
    expect(checkTotpCode('12345a')).toMatch(/6 digits/);
  });
  it('needs some recovery code', () => {
    expect(checkRecoveryCode('  ')).toMatch(/recovery codes/);
    expect(checkRecoveryCode('abcd-efgh')).toBeNull();
  });
});

describe('settings', () => {
  it('keeps the audit log 30 to 36500 whole days', () => {
    expect(checkRetentionDays(30)).toBeNull();
    expect(checkRetentionDays('36500')).toBeNull();
    expect(checkRetentionDays(29)).toMatch(/at least 30/);
    expect(checkRetentionDays(36501)).toMatch(/At most 36500/);
    expect(checkRetentionDays('')).toMatch(/whole number/);
    expect(checkRetentionDays('12.5')).toMatch(/whole number/);
  });
  it('names groups 1 to 64 characters', () => {
    expect(checkGroupName(' ')).toMatch(/Enter a name/);
    expect(checkGroupName('x'.repeat(65))).toMatch(/at most 64/);
    expect(checkGroupName('helpers')).toBeNull();
  });
});

describe('byArea', () => {
  it('groups permissions by area in the catalogue order', () => {
    const g = byArea([
      { name: 'host.view', area: 'host settings' },
      { name: 'jobs.view', area: 'jobs' },
      { name: 'host.check', area: 'host settings' },
    ]);
    expect(g.map((x) => [x.area, x.items.map((i) => i.name)])).toEqual([
      ['host settings', ['host.view', 'host.check']],
      ['jobs', ['jobs.view']],
    ]);
  });
});
