import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { consoleResetCommand, isDeadLink, RESET_TOKEN, tokenFromHash } from './reset';
import { MIN_PASSWORD, MAX_PASSWORD } from './validate';

const TOKEN = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_Z';

describe('tokenFromHash', () => {
  it('reads the token from the fragment', () => {
    expect(TOKEN).toHaveLength(43);
    expect(tokenFromHash(`#token=${TOKEN}`)).toBe(TOKEN);
    expect(tokenFromHash(`token=${TOKEN}`)).toBe(TOKEN);
    expect(tokenFromHash(`#other=1&token=${TOKEN}`)).toBe(TOKEN);
  });
  it('is null when missing or malformed', () => {
    expect(tokenFromHash('')).toBeNull();
    expect(tokenFromHash('#')).toBeNull();
    expect(tokenFromHash('#token=')).toBeNull();
    expect(tokenFromHash(`#token=${TOKEN.slice(1)}`)).toBeNull();
    expect(tokenFromHash(`#token=${TOKEN}x`)).toBeNull();
    expect(tokenFromHash(`#token=${TOKEN.slice(1)}=`)).toBeNull();
    expect(tokenFromHash('#token=<script>')).toBeNull();
  });
});

describe('dead links', () => {
  it('are the used, expired and invalid answers', () => {
    expect(isDeadLink('auth.reset_link_used')).toBe(true);
    expect(isDeadLink('auth.reset_link_expired')).toBe(true);
    expect(isDeadLink('auth.reset_link_invalid')).toBe(true);
    expect(isDeadLink('password.too_short')).toBe(false);
    expect(isDeadLink(null)).toBe(false);
  });
  it('says the console command', () => {
    expect(consoleResetCommand()).toBe('keepsake user reset-password NAME');
  });
});

describe('the API document agrees with this page', () => {
  const doc = JSON.parse(readFileSync(new URL('../../../docs/openapi.json', import.meta.url), 'utf8'));
  const confirm = doc.components.schemas.PasswordResetConfirm.properties;
  it('on the token pattern and the password length', () => {
    expect(confirm.token.pattern).toBe(RESET_TOKEN.source);
    expect(confirm.password.minLength).toBe(MIN_PASSWORD);
    expect(confirm.password.maxLength).toBe(MAX_PASSWORD);
  });
});
