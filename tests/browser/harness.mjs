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
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
 * { baseUrl, tmp, agent, web, stop() }.
 */
export async function startStack() {
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
  ];
  if (process.env.KEEPSAKE_LAB_DOCKER_HOST) agentArgs.push('--docker-host', process.env.KEEPSAKE_LAB_DOCKER_HOST);
  if (process.env.KEEPSAKE_LAB_SYSTEMD_BUS) agentArgs.push('--systemd-bus', process.env.KEEPSAKE_LAB_SYSTEMD_BUS);

  const agent = startProcess('keepsake-agent', agentBin, agentArgs);
  const port = await freePort();
  const web = startProcess('keepsake-web', webBin, [
    '--listen', `127.0.0.1:${port}`,
    '--agent-socket', socket,
    '--assets', distDir,
  ]);
  const baseUrl = `http://127.0.0.1:${port}`;

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
export async function newPage(browser, { width = 1280, height = 900, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme, reducedMotion: 'reduce' });
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

/** GET a JSON API path through the web server. */
export async function getJson(baseUrl, p) {
  const res = await fetch(`${baseUrl}${p}`, { signal: AbortSignal.timeout(10_000) });
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
