// A real SMTP server for the browser tests: tests/lab/smtp_sink.py (Debian's python3-aiosmtpd) on
// a free loopback port, writing each message it accepts to a .eml file in a temporary directory.
// Helpers read the messages back: headers, the decoded text, and links in it.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { eventually, freePort, repoRoot } from './harness.mjs';

const PYTHON = process.env.KEEPSAKE_LAB_PYTHON || '/usr/bin/python3';

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
async function listening(port) {
  await eventually(
    () =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      }),
    { timeoutMs: 15_000, intervalMs: 100, message: `the SMTP sink on port ${port}` },
  );
}

/** Starts the sink; returns { port, dir, messages(), waitFor(pred, opts), stop() }. */
export async function startSmtpSink() {
  const script = path.join(repoRoot, 'tests', 'lab', 'smtp_sink.py');
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install -y python3 python3-aiosmtpd`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keepsake-smtp-'));
  const port = await freePort();
  const child = spawn(PYTHON, [script, '--listen', `127.0.0.1:${port}`, '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  child.stdout.on('data', (c) => out.push(String(c)));
  child.stderr.on('data', (c) => out.push(String(c)));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await Promise.race([
      listening(port),
      exited.then((code) => {
        throw new Error(`smtp_sink.py exited (${code}); is python3-aiosmtpd installed?\n${out.join('')}`);
      }),
    ]);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }

  const messages = () =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .sort()
      .map((f) => parseMessage(readFileSync(path.join(dir, f), 'utf8'), f));

  return {
    port,
    dir,
    messages,
    /** The first message (in arrival order) for which pred(message) holds, waiting for it. */
    waitFor: (pred, { timeoutMs = 20_000, message = 'an email' } = {}) =>
      eventually(() => messages().find(pred), { timeoutMs, intervalMs: 250, message: `${message} in ${dir}` }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** RFC 2047 encoded words in a header ("=?utf-8?q?...?=", "=?utf-8?b?...?="), decoded. */
function decodeWords(v) {
  return v.replace(/=\?([^?]+)\?([bq])\?([^?]*)\?=\s*/gi, (_, _cs, enc, text) => {
    if (enc.toLowerCase() === 'b') return Buffer.from(text, 'base64').toString('utf8');
    return Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  });
}

function splitHeaders(raw) {
  const at = raw.search(/\r?\n\r?\n/);
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m) headers[m[1].toLowerCase()] ??= decodeWords(m[2]);
  }
  return { headers, body };
}

function decodeBody(headers, body) {
  const enc = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/** The text of every leaf part of a MIME message, decoded and joined. */
function textOf(headers, body) {
  const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  if (!boundary) return decodeBody(headers, body);
  return body
    .split(`--${boundary}`)
    .slice(1)
    .filter((p) => !p.startsWith('--'))
    .map((p) => {
      const part = splitHeaders(p.replace(/^\r?\n/, ''));
      return textOf(part.headers, part.body);
    })
    .join('\n');
}

/** { file, headers (lowercase names), subject, to (the envelope's), text, raw } */
export function parseMessage(raw, file = '') {
  const { headers, body } = splitHeaders(raw);
  return {
    file,
    headers,
    subject: headers.subject ?? '',
    to: headers['x-lab-rcpt-to'] ?? headers.to ?? '',
    text: textOf(headers, body),
    raw,
  };
}

/** The links in a message's text that start with `prefix`. */
export function linksIn(message, prefix) {
  const esc = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return [...new Set(message.text.match(new RegExp(`${esc}[^\\s"'<>)\\]]*`, 'g')) ?? [])].map((l) => l.replace(/&amp;/g, '&'));
}
