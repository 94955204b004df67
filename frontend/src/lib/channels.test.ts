import { describe, expect, it } from 'vitest';
import type { ChannelInfo } from './api';
import { channelSummary, checkDraft, defaultPort, draftFromChannel, newDraft, parseRecipients, portAfterSecurity, secretToSend, toUpsert } from './channels';

function emailDraft() {
  const d = newDraft('email');
  d.name = 'Family email';
  d.email = { host: 'smtp.example.org', port: 587, security: 'starttls', username: 'box@example.org', from: 'box@example.org', to: 'anna@example.org, ben@example.org\ncarl@example.org', extra_ca_pem: '' };
  d.secret = 'app password';
  return d;
}

const EMAIL_CHANNEL: ChannelInfo = {
  id: 7,
  name: 'Family email',
  enabled: true,
  settings: { kind: 'email', host: 'smtp.example.org', port: 465, security: 'tls', username: 'box', from: 'box@example.org', to: ['anna@example.org'], extra_ca_pem: null },
  secret_set: true,
  notify_on: 'always',
  rules: { 'auth.failed_logins': 'never' },
  weekly_summary: true,
  created_at: '2026-12-01T10:00:00Z',
};

describe('ports', () => {
  it('follows the security choice unless someone typed another port', () => {
    expect(defaultPort('starttls')).toBe(587);
    expect(defaultPort('tls')).toBe(465);
    expect(defaultPort('none')).toBe(25);
    expect(portAfterSecurity(587, 'starttls', 'tls')).toBe(465);
    expect(portAfterSecurity('465', 'tls', 'none')).toBe(25);
    expect(portAfterSecurity('', 'tls', 'starttls')).toBe(587);
    expect(portAfterSecurity(2525, 'starttls', 'tls')).toBe(2525);
  });
});

describe('parseRecipients', () => {
  it('splits on commas, semicolons, spaces and lines', () => {
    expect(parseRecipients(' a@x.org, b@x.org;c@x.org\n\nd@x.org ')).toEqual(['a@x.org', 'b@x.org', 'c@x.org', 'd@x.org']);
    expect(parseRecipients('  ')).toEqual([]);
  });
});

describe('toUpsert', () => {
  it('makes an email channel', () => {
    const body = toUpsert(emailDraft());
    expect(body).toEqual({
      name: 'Family email',
      enabled: true,
      settings: { kind: 'email', host: 'smtp.example.org', port: 587, security: 'starttls', username: 'box@example.org', from: 'box@example.org', to: ['anna@example.org', 'ben@example.org', 'carl@example.org'], extra_ca_pem: null },
      notify_on: 'failure',
      rules: {},
      weekly_summary: true,
      secret: 'app password',
    });
  });

  it('sends no user name when empty, and the PEM when given', () => {
    const d = emailDraft();
    d.email.username = '  ';
    d.secret = '';
    d.email.extra_ca_pem = '  -----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----  ';
    const body = toUpsert(d);
    expect(body.settings).toMatchObject({ username: null, extra_ca_pem: '-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n' });
    expect('secret' in body).toBe(false);
  });

  it('makes ntfy, Discord, Slack and webhook channels', () => {
    const n = newDraft('ntfy');
    n.name = 'Phones';
    n.ntfy.topic = 'keepsake-x1';
    n.ntfy.server = 'https://ntfy.sh/';
    expect(toUpsert(n).settings).toEqual({ kind: 'ntfy', server: 'https://ntfy.sh', topic: 'keepsake-x1' });
    expect(n.ntfy.server).toBe('https://ntfy.sh/');
    expect(newDraft('ntfy').ntfy.server).toBe('https://ntfy.sh');

    const dc = newDraft('discord');
    dc.name = 'Chat';
    dc.secret = 'https://discord.com/api/webhooks/1/abc';
    expect(toUpsert(dc)).toMatchObject({ settings: { kind: 'discord' }, secret: 'https://discord.com/api/webhooks/1/abc', weekly_summary: false });
    expect(toUpsert({ ...dc, kind: 'slack' }).settings).toEqual({ kind: 'slack' });

    const w = newDraft('webhook');
    w.name = 'Hook';
    w.webhook = { url: ' https://example.org/hook ', template: '' };
    expect(toUpsert(w).settings).toEqual({ kind: 'webhook', url: 'https://example.org/hook', template: null });
    w.webhook.template = '{"text": {{title}}}';
    expect(toUpsert(w).settings).toEqual({ kind: 'webhook', url: 'https://example.org/hook', template: '{"text": {{title}}}' });
  });

  it('keeps only the per-rule choices that differ from the default', () => {
    const d = emailDraft();
    d.notify_on = 'always';
    d.rules = { a: 'always', b: 'never', c: 'failure' };
    expect(toUpsert(d).rules).toEqual({ b: 'never', c: 'failure' });
  });

  it('sends the weekly summary only for email', () => {
    const d = newDraft('ntfy');
    d.weekly_summary = true;
    expect(toUpsert(d).weekly_summary).toBe(false);
  });
});

describe('secrets are write-only', () => {
  it('keeps the stored one when nothing is typed (no `secret` at all)', () => {
    const d = draftFromChannel(EMAIL_CHANNEL);
    expect(d.secret).toBe('');
    expect(d.secretSet).toBe(true);
    expect('secret' in toUpsert(d)).toBe(false);
    expect(secretToSend(d)).toBeUndefined();
  });
  it('replaces it with what was typed', () => {
    const d = draftFromChannel(EMAIL_CHANNEL);
    d.secret = ' new one ';
    expect(toUpsert(d).secret).toBe('new one');
  });
  it('removes it with "" only when asked to', () => {
    const d = draftFromChannel(EMAIL_CHANNEL);
    d.removeSecret = true;
    expect(toUpsert(d).secret).toBe('');
  });
  it('never removes the webhook address of Discord or Slack (they cannot work without it)', () => {
    expect(secretToSend({ kind: 'discord', secret: '', removeSecret: true })).toBeUndefined();
    expect(secretToSend({ kind: 'slack', secret: '', removeSecret: true })).toBeUndefined();
  });
  it('a new channel without a secret sends none', () => {
    const d = newDraft('webhook');
    expect(secretToSend(d)).toBeUndefined();
  });
});

describe('draftFromChannel', () => {
  it('round-trips a channel through the form', () => {
    const d = draftFromChannel(EMAIL_CHANNEL);
    expect(d.id).toBe(7);
    expect(d.email.to).toBe('anna@example.org');
    const body = toUpsert(d);
    expect(body.settings).toEqual(EMAIL_CHANNEL.settings);
    expect(body.rules).toEqual(EMAIL_CHANNEL.rules);
    expect(body.notify_on).toBe('always');
    expect(body.weekly_summary).toBe(true);
  });
});

describe('checkDraft', () => {
  it('passes a good email channel', () => {
    expect(checkDraft(emailDraft())).toEqual({});
  });
  it('names each wrong field', () => {
    const d = emailDraft();
    d.name = ' ';
    d.email.host = 'smtp://mail.example.org';
    d.email.port = 70000;
    d.email.from = 'nobody';
    d.email.to = 'anna@example.org, not an address';
    expect(Object.keys(checkDraft(d)).sort()).toEqual(['from', 'host', 'name', 'port', 'to']);
    d.email.to = '';
    expect(checkDraft(d).to).toMatch(/at least one/);
  });
  it('checks ntfy topics and webhook templates', () => {
    const n = newDraft('ntfy');
    n.name = 'x';
    n.ntfy.topic = 'has space';
    expect(checkDraft(n).topic).toBeTruthy();
    const w = newDraft('webhook');
    w.name = 'x';
    w.webhook.url = 'https://example.org';
    w.webhook.template = '{"text": {{title}}, "sev": {{ severity }}}';
    expect(checkDraft(w)).toEqual({});
    w.webhook.template = '{"text": "{{title}}"';
    expect(checkDraft(w).template).toBeTruthy();
  });
  it('asks for the Discord or Slack address unless one is stored', () => {
    const d = newDraft('discord');
    d.name = 'x';
    expect(checkDraft(d).secret).toMatch(/Discord/);
    d.secretSet = true;
    expect(checkDraft(d)).toEqual({});
    d.secret = 'not a url';
    expect(checkDraft(d).secret).toBeTruthy();
  });
});

describe('channelSummary', () => {
  it('says where a channel delivers', () => {
    expect(channelSummary(EMAIL_CHANNEL)).toBe('Email to anna@example.org through smtp.example.org:465');
    expect(channelSummary({ settings: { kind: 'ntfy', server: 'https://ntfy.sh', topic: 't' } })).toBe('ntfy topic “t” on https://ntfy.sh');
  });
});
