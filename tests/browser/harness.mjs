// Test harness for the browser tests: starts the REAL stack (keepsake-agent on a Unix socket in a
// temporary directory, keepsake-web in front of it serving frontend/dist), drives Debian's
// Chromium through playwright-core (never a downloaded browser), and saves screenshots for people
// to look at in tests/artifacts/browser/.
//
// Environment:
//   KEEPSAKE_BIN_DIR                 where keepsake-agent and keepsake-web are (default target/debug)
//   KEEPSAKE_CHROMIUM                the browser (default /usr/bin/chromium)
//   KEEPSAKE_LAB_DOCKER_HOST         passed to the agent as --docker-host when set
//   KEEPSAKE_LAB_SYSTEMD_BUS         passed to the agent as --systemd-bus when set
//   KEEPSAKE_BROWSER_KEEP_TMP=1      keep the temporary state directories (for debugging)

import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { after, before } from 'node:test';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const frontendDir = path.join(repoRoot, 'frontend');
export const distDir = path.join(frontendDir, 'dist');
export const artifactsDir = path.join(repoRoot, 'tests', 'artifacts', 'browser');
export const binDir = process.env.KEEPSAKE_BIN_DIR
  ? path.resolve(process.env.KEEPSAKE_BIN_DIR)
  : path.join(repoRoot, 'target', 'debug');
export const chromiumPath = process.env.KEEPSAKE_CHROMIUM || '/usr/bin/chromium';

/** The six facilities the agent reports, in its fixed order. */
export const FACILITY_KINDS = ['docker', 'systemd', 'zfs', 'udev', 'nix', 'storage'];

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Build frontend/dist when it is missing (a fresh clone), so the web server has pages to serve. */
export function ensureFrontendBuilt() {
  if (existsSync(path.join(distDir, 'index.html'))) return;
  const run = (args) => {
    const r = spawnSync('npm', args, { cwd: frontendDir, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed in ${frontendDir} (exit ${r.status})`);
  };
  if (!existsSync(path.join(frontendDir, 'node_modules'))) run(['ci', '--no-audit', '--no-fund']);
  run(['run', 'build']);
  if (!existsSync(path.join(distDir, 'index.html'))) throw new Error(`npm run build did not produce ${distDir}/index.html`);
}

function requireBinary(name) {
  const p = path.join(binDir, name);
  if (!existsSync(p)) {
    throw new Error(`${p} is missing: build it first (cargo build in ${repoRoot}) or set KEEPSAKE_BIN_DIR`);
  }
  return p;
}

/** A child process whose output is kept (the last 200 lines) for error messages. */
function startProcess(name, file, args, env = {}) {
  const child = spawn(file, args, {
    cwd: repoRoot,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const keep = (chunk) => {
    for (const l of String(chunk).split('\n')) {
      if (!l) continue;
      lines.push(l);
      if (lines.length > 200) lines.shift();
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.on('error', (e) => lines.push(`spawn error: ${e.message}`));
  return { name, child, lines, exited, output: () => lines.join('\n') };
}

async function stopProcess(p, ms = 5000) {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  let timer;
  const done = await Promise.race([
    p.exited.then(() => true),
    new Promise((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  if (!done) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

/** Poll GET url until it answers 200 with {"status":"ok"}, or fail after timeoutMs. */
export async function waitForHealth(url, { timeoutMs = 30_000, procs = [] } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    for (const p of procs) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) {
        throw new Error(`${p.name} exited early (code ${p.child.exitCode}, signal ${p.child.signalCode}):\n${p.output()}`);
      }
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      const text = await res.text();
      if (res.status === 200) {
        const body = JSON.parse(text);
        if (body.status === 'ok') return body;
      }
      last = `${res.status} ${text.slice(0, 200)}`;
    } catch (e) {
      last = String(e?.cause?.code ?? e?.message ?? e);
    }
    await sleep(200);
  }
  const logs = procs.map((p) => `--- ${p.name} ---\n${p.output()}`).join('\n');
  throw new Error(`${url} did not answer {"status":"ok"} within ${timeoutMs} ms (last: ${last})\n${logs}`);
}

/**
 * Start keepsake-agent and keepsake-web in a fresh temporary directory. Returns
 * { baseUrl, tmp, agent, web, stop() }. The dashboard is browsed at http://localhost:PORT (not
 * 127.0.0.1: WebAuthn refuses IP addresses), and the agent is told so with --public-origin.
 * `agentArgs` are added to the agent's command line (e.g. `--zfs-root DATASET`).
 */
export async function startStack({ agentArgs: extraAgentArgs = [] } = {}) {
  ensureFrontendBuilt();
  const agentBin = requireBinary('keepsake-agent');
  const webBin = requireBinary('keepsake-web');

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'keepsake-browser-'));
  const socket = path.join(tmp, 'agent.sock');
  const stateDir = path.join(tmp, 'state');
  const dataDir = path.join(tmp, 'data');
  mkdirSync(stateDir, { recursive: true });
  mkdirSync(dataDir, { recursive: true });

  const agentArgs = [
    '--socket', socket,
    '--state-dir', stateDir,
    '--data-dir', dataDir,
    '--web-user', String(process.getuid()),
    '--socket-group', String(process.getgid()),
    '--public-origin', 'http://localhost',
  ];
  if (process.env.KEEPSAKE_LAB_DOCKER_HOST) agentArgs.push('--docker-host', process.env.KEEPSAKE_LAB_DOCKER_HOST);
  if (process.env.KEEPSAKE_LAB_SYSTEMD_BUS) agentArgs.push('--systemd-bus', process.env.KEEPSAKE_LAB_SYSTEMD_BUS);
  agentArgs.push(...extraAgentArgs);

  const agent = startProcess('keepsake-agent', agentBin, agentArgs);
  const port = await freePort();
  const web = startProcess('keepsake-web', webBin, [
    '--listen', `127.0.0.1:${port}`,
    '--agent-socket', socket,
    '--assets', distDir,
  ]);
  const baseUrl = `http://localhost:${port}`;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all([stopProcess(web), stopProcess(agent)]);
    if (process.env.KEEPSAKE_BROWSER_KEEP_TMP !== '1') rmSync(tmp, { recursive: true, force: true });
  };

  try {
    await waitForHealth(`${baseUrl}/api/v1/health`, { procs: [agent, web] });
  } catch (e) {
    await stop();
    throw e;
  }
  return { baseUrl, port, tmp, agent, web, stop };
}

/** Launch Debian's Chromium headless with a fresh profile (playwright makes one per launch). */
export async function launchBrowser() {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: apt-get install -y chromium (or set KEEPSAKE_CHROMIUM)`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' },
  });
}

/**
 * A new page that records console errors and failed requests (for assertion messages), with a
 * light colour scheme unless told otherwise.
 */
export async function newPage(browser, { width = 1280, height = 900, colorScheme = 'light', session = null } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme, reducedMotion: 'reduce' });
  if (session) await useSession(context, session);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // EventSource streams are aborted on navigation; that is not a problem.
    if (!r.url().endsWith('/events')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  return { context, page, problems };
}

/** Save a full-page PNG to tests/artifacts/browser/<name>.png and return its path. */
export async function screenshot(page, name) {
  mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** GET a JSON API path through the web server (with a session, when given one). */
export async function getJson(baseUrl, p, session = null) {
  const headers = session ? { Cookie: session.cookie } : {};
  const res = await fetch(`${baseUrl}${p}`, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${p} -> ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

/** Wait until fn() returns a truthy value (polling), or fail with the message. */
export async function eventually(fn, { timeoutMs = 20_000, intervalMs = 200, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}${last ? `: ${last.message ?? last}` : ''}`);
}

// ---- Signing in

export const OWNER = { name: 'owner', display_name: 'Olivia Owner', password: 'correct horse battery' };

/** The `keepsake_session=...` pair from a response's Set-Cookie headers, or null. */
export function sessionCookie(res) {
  const all = typeof res.headers.getSetCookie === 'function' ? res.headers.getSetCookie() : [res.headers.get('set-cookie') ?? ''];
  for (const c of all) {
    const m = c.match(/(?:^|,\s*)(keepsake_session=[^;]*)/);
    if (m && m[1] !== 'keepsake_session=') return m[1];
  }
  return null;
}

/**
 * Call the API as a browser of the dashboard would: same Origin, JSON body, session cookie.
 * Returns { status, body, text, res }.
 */
export async function apiCall(baseUrl, method, p, { body, session = null, origin = baseUrl } = {}) {
  const headers = { Accept: 'application/json', Origin: origin };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (session) headers.Cookie = session.cookie;
  const res = await fetch(`${baseUrl}${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* CSV and such */
  }
  return { status: res.status, body: parsed, text, res };
}

/**
 * Create the owner through the first-run setup API; returns { baseUrl, cookie, name, password, user }.
 */
export async function createOwner(baseUrl, owner = OWNER) {
  const r = await apiCall(baseUrl, 'POST', '/api/v1/auth/setup', { body: owner });
  if (r.status !== 201) throw new Error(`POST /api/v1/auth/setup -> ${r.status}: ${r.text.slice(0, 500)}`);
  const cookie = sessionCookie(r.res);
  if (!cookie) throw new Error(`POST /api/v1/auth/setup set no session cookie: ${JSON.stringify([...r.res.headers])}`);
  return { baseUrl, cookie, name: owner.name, password: owner.password, user: r.body.user };
}

/** Sign in with name and password through the API (no second factor); returns a session. */
export async function apiLogin(baseUrl, name, password) {
  const r = await apiCall(baseUrl, 'POST', '/api/v1/auth/login', { body: { name, password } });
  if (r.status !== 200 || !r.body?.complete) throw new Error(`POST /api/v1/auth/login -> ${r.status}: ${r.text.slice(0, 500)}`);
  return { baseUrl, cookie: sessionCookie(r.res), name, password, user: r.body.user };
}

/** Put a session's cookie into a browser context, as if the person had signed in there. */
export async function useSession(context, session) {
  const [name, value] = session.cookie.split(/=(.*)/s);
  await context.addCookies([{ name, value, url: session.baseUrl, httpOnly: true, sameSite: 'Strict' }]);
}

/** Fill in and submit the sign-in page's name and password. */
export async function signInWithPassword(page, name, password) {
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Sign out through the user menu in the header. */
export async function signOutInPage(page) {
  await page.getByTestId('user-menu-button').click();
  await page.locator('#user-menu').getByRole('button', { name: 'Sign out' }).click();
  await page.getByTestId('sign-in-page').waitFor({ timeout: 10_000 });
}

// ---- TOTP (RFC 6238 over RFC 4226, HMAC-SHA1, 30-second steps, 6 digits)

/** RFC 4648 base32 (padding and spaces ignored) → bytes. */
export function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = s.toUpperCase().replace(/[\s=-]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const v = alphabet.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The 6-digit code for `secret` (base32) at `timeMs`. */
export function totp(secret, timeMs = Date.now(), { step = 30, digits = 6 } = {}) {
  const counter = Math.floor(timeMs / 1000 / step);
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(bin % 10 ** digits).padStart(digits, '0');
}

/**
 * A code that stays valid for a few seconds: when the current 30 s window is about to end, wait
 * for the next one (so the box never sees a code from a window that just closed).
 */
const usedTotpSteps = new Map();

export async function freshTotp(secret) {
  const left = 30_000 - (Date.now() % 30_000);
  if (left < 4000) await sleep(left + 250);
  // The box accepts each code once. After a code of this window was used, take the next window's
  // code, which the box accepts too (it allows one step of clock skew).
  let step = Math.floor(Date.now() / 30_000);
  const last = usedTotpSteps.get(secret);
  if (last !== undefined && step <= last) step = last + 1;
  usedTotpSteps.set(secret, step);
  return totp(secret, step * 30_000);
}

/** Documents whose scroll width exceeds the viewport (sideways scrolling on a phone). */
export async function horizontalOverflow(page) {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  }));
}

/**
 * Starts the real stack and a browser before a test file's tests (and creates the owner unless
 * `{ owner: false }`), stops both after them, and hands `{ stack, browser, owner }` to `assign`.
 */
export function useStack(assign, { owner = true } = {}) {
  const env = {};
  before(async () => {
    env.stack = await startStack();
    env.browser = await launchBrowser();
    if (owner) env.owner = await createOwner(env.stack.baseUrl);
    assign(env);
  });
  after(async () => {
    await env.browser?.close();
    await env.stack?.stop();
  });
}
