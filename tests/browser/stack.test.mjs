// The Immich page end to end, against the real agent and the real Docker engine of the lab, with
// the stand-in images of Immich's server, machine learning, Valkey and PostgreSQL from the
// loopback registry (the flags crates/keepsake-agent/tests/system/stack.rs uses). The owner
// installs Immich from the page and sees every service healthy; stops machine learning after
// confirming, sees it stopped, starts it again; restarts the job queue after confirming; opens the
// server's log, filters it, follows it and sees the line of a request made meanwhile, then reads
// back to the log's start; removes the server container by hand, sees "changed by hand" and
// repairs it. A viewer sees the page without any action, and the agent refuses their actions
// (403). Every container made here is removed afterwards, even on failure.
//
// Needs the lab's immich component: tests/lab/lab.sh start immich.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  apiCall,
  apiLogin,
  createOwner,
  eventually,
  freePort,
  horizontalOverflow,
  launchBrowser,
  newPage,
  screenshot,
  startStack,
} from './harness.mjs';

const VIEWER = { name: 'vic', display_name: 'Vic Viewer', password: 'viewer password 34', role: 'viewer', groups: [] };
const prefix = `ksui${randomBytes(3).toString('hex')}_`;

let stack;
let browser;
let owner;
let viewer;
let dirs;
let immichPort;

function lab() {
  const need = ['KEEPSAKE_LAB_IMMICH_SERVER_REPO', 'KEEPSAKE_LAB_IMMICH_ML_REPO', 'KEEPSAKE_LAB_IMMICH_REDIS_IMAGE', 'KEEPSAKE_LAB_IMMICH_POSTGRES_IMAGE'];
  const missing = need.filter((k) => !process.env[k]);
  if (missing.length) throw new Error(`the immich lab component is not started (${missing.join(', ')} unset): run tests/lab/lab.sh start immich and load tests/.lab/env`);
  return {
    server: process.env.KEEPSAKE_LAB_IMMICH_SERVER_REPO,
    ml: process.env.KEEPSAKE_LAB_IMMICH_ML_REPO,
    redis: process.env.KEEPSAKE_LAB_IMMICH_REDIS_IMAGE,
    postgres: process.env.KEEPSAKE_LAB_IMMICH_POSTGRES_IMAGE,
  };
}

function docker(args) {
  const env = { ...process.env };
  if (process.env.KEEPSAKE_LAB_DOCKER_HOST) env.DOCKER_HOST = process.env.KEEPSAKE_LAB_DOCKER_HOST;
  return spawnSync('docker', args, { encoding: 'utf8', env, timeout: 60_000 });
}

/** Removes every container (and volume) whose name starts with this test's prefix. */
function removeContainers() {
  const ps = docker(['ps', '-a', '--filter', `name=^${prefix}`, '--format', '{{.Names}}']);
  const names = (ps.stdout ?? '').split('\n').filter((n) => n.startsWith(prefix));
  if (names.length) {
    const rm = docker(['rm', '-f', '-v', ...names]);
    if (rm.status !== 0) console.error(`stack cleanup: docker rm -f ${names.join(' ')}: ${rm.stderr}`);
  }
  const vols = docker(['volume', 'ls', '-q', '--filter', `name=${prefix}`]);
  const vnames = (vols.stdout ?? '').split('\n').filter((n) => n.startsWith(prefix));
  if (vnames.length) docker(['volume', 'rm', '-f', ...vnames]);
}

before(async () => {
  const l = lab();
  dirs = mkdtempSync(path.join(os.tmpdir(), 'keepsake-stackui-'));
  const pg = path.join(dirs, 'postgres');
  const models = path.join(dirs, 'models');
  mkdirSync(pg, { recursive: true });
  mkdirSync(models, { recursive: true });
  immichPort = await freePort();
  const ports = [await freePort(), await freePort(), await freePort()];
  stack = await startStack({
    agentArgs: [
      '--immich-version', 'v3.1.0',
      '--immich-server-repo', l.server,
      '--immich-ml-repo', l.ml,
      '--immich-redis-image', l.redis,
      '--immich-postgres-image', l.postgres,
      '--stack-network', 'host',
      '--stack-container-prefix', prefix,
      '--stack-health-timeout-secs', '120',
      '--stack-stop-grace-secs', '10',
      '--no-container-watch',
      '--immich-port', String(immichPort),
      '--immich-db-port', String(ports[0]),
      '--immich-redis-port', String(ports[1]),
      '--immich-ml-port', String(ports[2]),
      '--immich-postgres-dir', pg,
      '--immich-model-cache-dir', models,
    ],
  });
  browser = await launchBrowser();
  owner = await createOwner(stack.baseUrl);
  const r = await apiCall(stack.baseUrl, 'POST', '/api/v1/users', { session: owner, body: VIEWER });
  assert.equal(r.status, 201, r.text);
  viewer = await apiLogin(stack.baseUrl, VIEWER.name, VIEWER.password);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  removeContainers();
  if (dirs) {
    // The database container may have left files owned by another user: remove what we can.
    try {
      rmSync(dirs, { recursive: true, force: true });
    } catch (e) {
      docker(['run', '--rm', '--network', 'none', '-v', `${dirs}:/d`, process.env.KEEPSAKE_LAB_IMMICH_REDIS_IMAGE, 'sh', '-c', 'rm -rf /d/*']);
      try {
        rmSync(dirs, { recursive: true, force: true });
      } catch {
        console.error(`stack cleanup: could not remove ${dirs}: ${e.message}`);
      }
    }
  }
});

const card = (page, service) => page.getByTestId(`service-${service}`);

test('stack: the owner installs Immich, stops and starts machine learning, and follows the server log', async () => {
  const { page, context, problems } = await newPage(browser, { session: owner });
  try {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Immich' }).click();
    await page.getByRole('heading', { name: 'Immich', level: 1 }).waitFor({ timeout: 15_000 });
    const summary = page.getByTestId('stack-summary');
    await summary.waitFor({ timeout: 15_000 });
    assert.equal(await summary.getAttribute('data-installed'), 'false');
    assert.equal(await card(page, 'server').getAttribute('data-state'), 'missing');
    await screenshot(page, 'stack-not-installed');

    // 1) Install: the job shows live, then every service is running and healthy.
    await page.getByRole('button', { name: 'Install Immich' }).click();
    await page.getByTestId('install-job').waitFor({ timeout: 15_000 });
    await eventually(async () => (await summary.getAttribute('data-healthy')) === 'true', {
      timeoutMs: 300_000,
      intervalMs: 1000,
      message: 'the summary to say Immich is installed and healthy',
    });
    assert.equal(await summary.getAttribute('data-installed'), 'true');
    assert.equal(await page.getByTestId('stack-version').textContent(), 'v3.1.0');
    await eventually(async () => (await page.getByTestId('install-job').locator('[data-state]').first().getAttribute('data-state')) === 'succeeded', {
      timeoutMs: 30_000,
      message: 'the install job to show as done',
    });
    assert.ok((await page.getByTestId('install-log').locator('li').count()) > 0, 'the install job shows its log lines');
    for (const s of ['database', 'redis', 'machine_learning', 'server']) {
      const c = card(page, s);
      assert.equal(await c.getAttribute('data-state'), 'running', `${s} runs`);
      const health = await c.getAttribute('data-health');
      assert.ok(health === 'healthy' || health === 'none', `${s} is healthy (or has no health check): ${health}`);
      assert.match((await c.textContent()) ?? '', /Running/, `${s} says Running in words`);
    }
    assert.equal(await card(page, 'server').getAttribute('data-health'), 'healthy');
    assert.match((await card(page, 'server').textContent()) ?? '', /Healthy/);
    assert.match((await card(page, 'server').getByTestId('uptime').textContent()) ?? '', /second|minute/);
    await screenshot(page, 'stack-healthy');

    // 2) Stop machine learning: asked first, then stopped; Start brings it back.
    const ml = card(page, 'machine_learning');
    await ml.getByRole('button', { name: 'Stop machine learning' }).click();
    const dialog = page.getByRole('dialog', { name: 'Stop the machine learning?' });
    await dialog.waitFor();
    assert.match((await dialog.textContent()) ?? '', /unavailable until you start it again/);
    await screenshot(page, 'stack-confirm-stop');
    await dialog.getByRole('button', { name: 'Stop', exact: true }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 60_000 });
    await eventually(async () => (await ml.getAttribute('data-state')) === 'exited', { timeoutMs: 30_000, message: 'machine learning to show as stopped' });
    assert.match((await ml.textContent()) ?? '', /Stopped/);
    assert.equal(await summary.getAttribute('data-healthy'), 'false', 'the stack is not healthy with a service stopped');
    const s1 = await apiCall(stack.baseUrl, 'GET', '/api/v1/stack', { session: owner });
    assert.equal(s1.body.services.find((v) => v.service === 'machine_learning').state, 'exited', 'the engine agrees');
    await ml.getByRole('button', { name: 'Start machine learning' }).click();
    await eventually(async () => (await ml.getAttribute('data-state')) === 'running', { timeoutMs: 60_000, message: 'machine learning to run again' });

    // Restart asks too, and the service runs again afterwards.
    const redis = card(page, 'redis');
    await redis.getByRole('button', { name: 'Restart job queue (Valkey)' }).click();
    const again = page.getByRole('dialog', { name: 'Restart the job queue (Valkey)?' });
    await again.waitFor();
    assert.match((await again.textContent()) ?? '', /Immich is unavailable for a moment/);
    await again.getByRole('button', { name: 'Restart', exact: true }).click();
    await again.waitFor({ state: 'hidden', timeout: 60_000 });
    await eventually(async () => (await redis.getAttribute('data-state')) === 'running', { timeoutMs: 60_000, message: 'the job queue to run again' });

    // 3) The server's log: lines with times, a filter, and Follow shows a new line live.
    const server = card(page, 'server');
    await server.getByRole('button', { name: 'Show log' }).click();
    const log = page.getByTestId('log-server');
    await eventually(async () => (await log.locator('li').count()) > 0, { timeoutMs: 15_000, message: 'the server log to show lines' });
    assert.match((await log.locator('time').first().textContent()) ?? '', /\d\d:\d\d:\d\d/);
    await log.getByLabel('Filter').fill('server/version');
    await log.getByLabel('Follow').check();
    await eventually(async () => (await log.getByTestId('follow-state').getAttribute('data-state')) === 'live', { timeoutMs: 15_000, message: 'the follow stream to open' });
    await eventually(async () => {
      const texts = await log.locator('li .text').allTextContents();
      return texts.every((t) => t.toLowerCase().includes('server/version'));
    }, { timeoutMs: 15_000, message: 'the filter to apply' });
    const before = await log.locator('li').count();
    const res = await fetch(`http://127.0.0.1:${immichPort}/api/server/version`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    await eventually(async () => (await log.locator('li').count()) > before, { timeoutMs: 20_000, message: 'the new line to appear while following' });
    assert.match((await log.locator('li .text').last().textContent()) ?? '', /\/api\/server\/version/);
    await screenshot(page, 'stack-log-follow');
    await log.getByLabel('Follow').uncheck();
    await eventually(async () => (await log.getByTestId('follow-state').getAttribute('data-state')) === 'off', { message: 'Follow to stop' });
    // Reading back: the page before the oldest line read; this short log then says where it starts.
    await log.getByLabel('Filter').fill('');
    await eventually(async () => (await log.locator('li').count()) > before + 1, { timeoutMs: 15_000, message: 'the unfiltered lines to come back' });
    const shown = await log.locator('li').count();
    // Page back until the start (a page is 200 lines; this log is short, so one or two).
    await eventually(async () => {
      if (await log.getByText('Start of the log.').count()) return true;
      const older = log.getByRole('button', { name: 'Load older' });
      if ((await older.count()) && !(await older.isDisabled())) await older.click();
      return false;
    }, { timeoutMs: 30_000, intervalMs: 500, message: 'reading back to the start of the log' });
    assert.ok((await log.locator('li').count()) >= shown, 'reading back keeps the lines already shown');
    assert.equal(await log.getByRole('alert').count(), 0, 'no error reading back');

    // 4) A container removed by hand: the card says so, and Repair makes it again.
    const rm = docker(['rm', '-f', `${prefix}server`]);
    assert.equal(rm.status, 0, rm.stderr);
    await eventually(async () => (await server.getAttribute('data-state')) === 'missing', { timeoutMs: 20_000, message: 'the server to show as missing' });
    const drift = server.getByTestId('drift');
    await drift.waitFor({ timeout: 10_000 });
    assert.match((await drift.textContent()) ?? '', /Changed by hand/);
    await screenshot(page, 'stack-drift');
    await drift.getByRole('button', { name: 'Repair', exact: true }).click();
    await eventually(async () => (await summary.getAttribute('data-healthy')) === 'true' && (await server.getAttribute('data-state')) === 'running', {
      timeoutMs: 180_000,
      intervalMs: 1000,
      message: 'Repair to bring the server back, healthy',
    });
    assert.equal(await server.getByTestId('drift').count(), 0, 'no drift after the repair');

    // Phone width: no sideways scrolling.
    await page.setViewportSize({ width: 360, height: 740 });
    const o = await horizontalOverflow(page);
    assert.ok(o.scrollWidth <= o.clientWidth, `no horizontal overflow at 360 px: ${JSON.stringify(o)}`);
    await screenshot(page, 'stack-phone');
    assert.deepEqual(problems.filter((p) => !p.includes('/logs/follow')), []);
  } finally {
    await context.close();
  }
});

test('stack: a viewer sees the page without any action, and the agent refuses their actions', async () => {
  const { page, context } = await newPage(browser, { session: viewer, colorScheme: 'dark' });
  try {
    await page.goto(`${stack.baseUrl}/stack`);
    await page.getByTestId('stack-summary').waitFor({ timeout: 15_000 });
    await card(page, 'server').waitFor();
    for (const name of [/^Install/, /^Repair/, /^Start/, /^Stop/, /^Restart/]) {
      assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} button for a viewer`);
    }
    // The log is theirs to read.
    await card(page, 'server').getByRole('button', { name: 'Show log' }).click();
    await eventually(async () => (await page.getByTestId('log-server').locator('li').count()) > 0, { timeoutMs: 15_000, message: 'the viewer to read the server log' });
    await screenshot(page, 'stack-viewer-dark');
    const act = await apiCall(stack.baseUrl, 'POST', '/api/v1/stack/services/machine_learning/action', { session: viewer, body: { action: 'stop' } });
    assert.equal(act.status, 403, act.text);
    const inst = await apiCall(stack.baseUrl, 'POST', '/api/v1/stack/install', { session: viewer, body: {} });
    assert.equal(inst.status, 403, inst.text);
  } finally {
    await context.close();
  }
});
