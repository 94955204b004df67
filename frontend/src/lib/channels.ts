// The channel form's model: a draft per kind (email, ntfy, Discord, Slack, webhook), its checks,
// and its conversion to the API's ChannelUpsert (pure logic).
//
// Secrets are write-only. The box says only whether one is set; the form sends `secret` only when
// something was typed (a new value) or "remove" was chosen (`""`); left out, the stored one stays.

import type { ChannelInfo, ChannelKind, ChannelUpsert, NotifyOn, SmtpSecurity } from './api';

export const KINDS: readonly { kind: ChannelKind; label: string }[] = [
  { kind: 'email', label: 'Email' },
  { kind: 'ntfy', label: 'ntfy (phone notifications)' },
  { kind: 'discord', label: 'Discord' },
  { kind: 'slack', label: 'Slack' },
  { kind: 'webhook', label: 'Webhook (JSON)' },
];

export function kindLabel(kind: ChannelKind): string {
  return KINDS.find((k) => k.kind === kind)?.label ?? kind;
}

export const NOTIFY_ON: readonly { value: NotifyOn; label: string }[] = [
  { value: 'failure', label: 'When something goes wrong' },
  { value: 'always', label: 'When it goes wrong and when it is fixed' },
  { value: 'success', label: 'Only when it is fixed' },
  { value: 'never', label: 'Never' },
];

export function notifyOnLabel(v: NotifyOn): string {
  return NOTIFY_ON.find((n) => n.value === v)?.label ?? v;
}

export const SECURITY: readonly { value: SmtpSecurity; label: string; port: number }[] = [
  { value: 'starttls', label: 'STARTTLS (port 587)', port: 587 },
  { value: 'tls', label: 'TLS (port 465)', port: 465 },
  { value: 'none', label: 'None: local server only (port 25)', port: 25 },
];

export function defaultPort(security: SmtpSecurity): number {
  return SECURITY.find((s) => s.value === security)?.port ?? 587;
}

export const NTFY_DEFAULT_SERVER = 'https://ntfy.sh';

/** The placeholders a webhook's template may use (each is filled in as a JSON string). */
export const PLACEHOLDERS: readonly string[] = ['title', 'state', 'severity', 'summary', 'what_to_do', 'link', 'rule', 'subject', 'at', 'key'];

export interface ChannelDraft {
  /** null for a new channel. */
  id: number | null;
  name: string;
  enabled: boolean;
  kind: ChannelKind;
  email: { host: string; port: number | string; security: SmtpSecurity; username: string; from: string; to: string; extra_ca_pem: string };
  ntfy: { server: string; topic: string };
  webhook: { url: string; template: string };
  /** A new secret, typed; empty keeps the stored one. */
  secret: string;
  /** Remove the stored secret (sends `""`). */
  removeSecret: boolean;
  /** Whether the box has a secret stored for this channel. */
  secretSet: boolean;
  notify_on: NotifyOn;
  /** Per rule id, what the channel hears about, where it differs from `notify_on`. */
  rules: Record<string, NotifyOn>;
  weekly_summary: boolean;
}

export function newDraft(kind: ChannelKind = 'email'): ChannelDraft {
  return {
    id: null,
    name: '',
    enabled: true,
    kind,
    email: { host: '', port: 587, security: 'starttls', username: '', from: '', to: '', extra_ca_pem: '' },
    ntfy: { server: NTFY_DEFAULT_SERVER, topic: '' },
    webhook: { url: '', template: '' },
    secret: '',
    removeSecret: false,
    secretSet: false,
    notify_on: 'failure',
    rules: {},
    weekly_summary: kind === 'email',
  };
}

/** A channel the box has, as a draft to edit (its secret stays on the box). */
export function draftFromChannel(c: ChannelInfo): ChannelDraft {
  const d = newDraft(c.settings.kind);
  d.id = c.id;
  d.name = c.name;
  d.enabled = c.enabled;
  d.secretSet = c.secret_set;
  d.notify_on = c.notify_on;
  d.rules = { ...c.rules };
  d.weekly_summary = c.weekly_summary;
  const s = c.settings;
  if (s.kind === 'email') {
    d.email = {
      host: s.host,
      port: s.port,
      security: s.security,
      username: s.username ?? '',
      from: s.from,
      to: s.to.join(', '),
      extra_ca_pem: s.extra_ca_pem ?? '',
    };
  } else if (s.kind === 'ntfy') {
    d.ntfy = { server: s.server, topic: s.topic };
  } else if (s.kind === 'webhook') {
    d.webhook = { url: s.url, template: s.template ?? '' };
  }
  return d;
}

/**
 * The port after choosing another security: the new default when the port was the old one's
 * default (or empty), else the port someone typed.
 */
export function portAfterSecurity(port: number | string, from: SmtpSecurity, to: SmtpSecurity): number | string {
  const p = String(port).trim();
  return p === '' || Number(p) === defaultPort(from) ? defaultPort(to) : port;
}

/** Addresses typed one per line or separated by commas, semicolons or spaces. */
export function parseRecipients(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** What the channel's secret is called, for each kind; null for a kind without one. */
export function secretLabel(kind: ChannelKind): string {
  switch (kind) {
    case 'email':
      return 'Password';
    case 'ntfy':
      return 'Access token';
    case 'discord':
    case 'slack':
      return 'Webhook address';
    case 'webhook':
      return 'Bearer token';
  }
}

/** Whether the kind cannot work without its secret (the webhook address of Discord and Slack). */
export function secretRequired(kind: ChannelKind): boolean {
  return kind === 'discord' || kind === 'slack';
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;
const URL_RE = /^https?:\/\/[^\s]+$/i;

export type DraftErrors = Partial<Record<'name' | 'host' | 'port' | 'from' | 'to' | 'server' | 'topic' | 'url' | 'template' | 'secret', string>>;

/** This page's checks before asking the box (which checks again and has the last word). */
export function checkDraft(d: ChannelDraft): DraftErrors {
  const e: DraftErrors = {};
  if (!d.name.trim()) e.name = 'Give the channel a name, for example “Family email”.';
  else if (d.name.trim().length > 64) e.name = 'Use at most 64 characters.';
  if (d.kind === 'email') {
    if (!d.email.host.trim()) e.host = 'Enter the mail server’s name, for example smtp.example.com.';
    else if (/[\s/:]/.test(d.email.host.trim())) e.host = 'Only the server’s name, without “smtp://” or a port.';
    const port = Number(String(d.email.port).trim());
    if (!Number.isInteger(port) || port < 1 || port > 65535) e.port = 'A port is a whole number from 1 to 65535.';
    if (!EMAIL.test(d.email.from.trim())) e.from = 'Enter the sender’s address, for example keepsake@example.com.';
    const to = parseRecipients(d.email.to);
    if (to.length === 0) e.to = 'Enter at least one address to send alerts to.';
    else if (to.some((a) => !EMAIL.test(a))) e.to = `Not an email address: ${to.find((a) => !EMAIL.test(a))}`;
  } else if (d.kind === 'ntfy') {
    if (!URL_RE.test(d.ntfy.server.trim())) e.server = 'Enter the server’s address, starting with https://.';
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(d.ntfy.topic.trim())) e.topic = 'A topic is letters, digits, - and _ (at most 64).';
  } else if (d.kind === 'webhook') {
    if (!URL_RE.test(d.webhook.url.trim())) e.url = 'Enter the address to send to, starting with https:// or http://.';
    const t = d.webhook.template.trim();
    if (t) {
      try {
        // Placeholders are filled in as JSON strings, so the template is JSON once they are.
        JSON.parse(t.replace(/\{\{\s*\w+\s*\}\}/g, '""'));
      } catch {
        e.template = 'The template must be JSON, with placeholders such as {{title}} where a value goes (without quotes around them).';
      }
    }
  }
  if (secretRequired(d.kind) && !d.secretSet && !d.secret.trim()) {
    e.secret = `Paste the ${d.kind === 'discord' ? 'Discord' : 'Slack'} webhook address.`;
  } else if (secretRequired(d.kind) && d.secret.trim() && !URL_RE.test(d.secret.trim())) {
    e.secret = 'A webhook address starts with https://.';
  }
  return e;
}

/** What to send for the secret: a new value, `""` to remove it, or undefined to keep it. */
export function secretToSend(d: Pick<ChannelDraft, 'secret' | 'removeSecret' | 'kind'>): string | undefined {
  const typed = d.secret.trim();
  if (typed) return typed;
  if (d.removeSecret && !secretRequired(d.kind)) return '';
  return undefined;
}

function optional(s: string): string | null {
  const t = s.trim();
  return t ? t : null;
}

/** The draft as the API's ChannelUpsert. */
export function toUpsert(d: ChannelDraft): ChannelUpsert {
  let settings: ChannelUpsert['settings'];
  switch (d.kind) {
    case 'email':
      settings = {
        kind: 'email',
        host: d.email.host.trim(),
        port: Number(String(d.email.port).trim()),
        security: d.email.security,
        username: optional(d.email.username),
        from: d.email.from.trim(),
        to: parseRecipients(d.email.to),
        extra_ca_pem: d.email.extra_ca_pem.trim() ? d.email.extra_ca_pem.trim() + '\n' : null,
      };
      break;
    case 'ntfy':
      settings = { kind: 'ntfy', server: d.ntfy.server.trim().replace(/\/+$/, ''), topic: d.ntfy.topic.trim() };
      break;
    case 'webhook':
      settings = { kind: 'webhook', url: d.webhook.url.trim(), template: optional(d.webhook.template) };
      break;
    case 'discord':
    case 'slack':
      settings = { kind: d.kind };
      break;
  }
  const rules: Record<string, NotifyOn> = {};
  for (const [rule, on] of Object.entries(d.rules)) if (on !== d.notify_on) rules[rule] = on;
  const body: ChannelUpsert = {
    name: d.name.trim(),
    enabled: d.enabled,
    settings,
    notify_on: d.notify_on,
    rules,
    weekly_summary: d.kind === 'email' && d.weekly_summary,
  };
  const secret = secretToSend(d);
  if (secret !== undefined) body.secret = secret;
  return body;
}

/** One line saying where a channel delivers. */
export function channelSummary(c: Pick<ChannelInfo, 'settings'>): string {
  const s = c.settings;
  switch (s.kind) {
    case 'email':
      return `Email to ${s.to.join(', ')} through ${s.host}:${s.port}`;
    case 'ntfy':
      return `ntfy topic “${s.topic}” on ${s.server}`;
    case 'discord':
      return 'Discord webhook';
    case 'slack':
      return 'Slack webhook';
    case 'webhook':
      return `JSON to ${s.url}`;
  }
}
