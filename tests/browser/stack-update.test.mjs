// Updating Immich and going back, end to end: the real agent with restore points on ZFS datasets
// of the lab pool (what crates/keepsake-agent/tests/system/stack.rs `TestBox::with_restore_points`
// sets up), the real Docker engine and the stand-in images of Immich from the loopback registry.
// The agent runs as a Keepsake release of v3.2.0 while v3.1.0 is installed (from the API, faster):
// the page offers v3.2.0; the owner updates through the dialog, sees the steps and then success
// with v3.2.0 in the summary; the history lists v3.1.0; the owner goes back to it typing
// `roll back` (a wrong phrase keeps the button disabled), sees success and v3.1.0 again. A viewer
// sees the panel and the history without any button. Containers and datasets made here are
// removed afterwards, even on failure.
//
// Needs the lab's immich and zfs components: tests/lab/lab.sh start immich zfs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { apiCall, apiLogin, createOwner, eventually, freePort, horizontalOverflow, launchBrowser, newPage, screenshot, startStack } from './harness.mjs';

const VIEWER = { name: 'vic', display_name: 'Vic Viewer', password: 'viewer password 34', role: 'viewer', groups: [] };
const prefix = `ksupd${randomBytes(3).toString('hex')}_`;
const pool = process.env.KEEPSAKE_LAB_ZPOOL;
const root = pool ? `${pool}/${prefix.replace(/_$/, '')}` : null;

let stack;
let browser;
let owner;
let viewer;
let dirs;

function lab() {
  const need = ['KEEPSAKE_LAB_IMMICH_SERVER_REPO', 'KEEPSAKE_LAB_IMMICH_ML_REPO', 'KEEPSAKE_LAB_IMMICH_REDIS_IMAGE', 'KEEPSAKE_LAB_IMMICH_POSTGRES_IMAGE', 'KEEPSAKE_LAB_ZPOOL'];
  const missing = need.filter((k) => !process.env[k]);
  if (missing.length) throw new Error(`the immich or zfs lab component is not started (${missing.join(', ')} unset): run tests/lab/lab.sh start immich zfs and load tests/.lab/env`);
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

function zfs(...args) {
  const r = spawnSync('zfs', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`zfs ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}
const mountpoint = (ds) => zfs('get', '-H', '-o', 'value', 'mountpoint', ds).trim();

/** Removes every container (and volume) whose name starts with this test's prefix. */
function removeContainers() {
  const ps = docker(['ps', '-a', '--filter', `name=^${prefix}`, '--format', '{{.Names}}']);
  const names = (ps.stdout ?? '').split('\n').filter((n) => n.startsWith(prefix));
  if (names.length) {
    const rm = docker(['rm', '-f', '-v', ...names]);
    if (rm.status !== 0) console.error(`stack-update cleanup: docker rm -f ${names.join(' ')}: ${rm.stderr}`);
  }
  const vols = docker(['volume', 'ls', '-q', '--filter', `name=${prefix}`]);
  const vnames = (vols.stdout ?? '').split('\n').filter((n) => n.startsWith(prefix));
  if (vnames.length) docker(['volume', 'rm', '-f', ...vnames]);
}

/** zfs-fuse can say "busy" for a moment after a container let go of a dataset: try again. */
function destroyDatasets() {
  if (!root) return;
  for (let i = 0; ; i++) {
    const r = spawnSync('zfs', ['destroy', '-R', root], { encoding: 'utf8' });
    if (r.status === 0 || /does not exist/.test(r.stderr)) return;
    if (i >= 20) {
      console.error(`stack-update cleanup: zfs destroy -R ${root}: ${r.stderr.trim()}`);
      return;
    }
    spawnSync('sleep', ['1']);
  }
}

before(async () => {
  const l = lab();
  dirs = mkdtempSync(path.join(os.tmpdir(), 'keepsake-updateui-'));
  const models = path.join(dirs, 'models');
  mkdirSync(models, { recursive: true });
  for (const ds of [root, `${root}/library`, `${root}/postgres`]) zfs('create', ds);
  const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  stack = await startStack({
    agentArgs: [
      // The version this Keepsake release runs: v3.1.0 is installed below, so v3.2.0 is offered.
      '--immich-version', 'v3.2.0',
      '--immich-server-repo', l.server,
      '--immich-ml-repo', l.ml,
      '--immich-redis-image', l.redis,
      '--immich-postgres-image', l.postgres,
      '--stack-network', 'host',
      '--stack-container-prefix', prefix,
      '--stack-health-timeout-secs', '45',
      '--stack-stop-grace-secs', '10',
      '--no-container-watch',
      '--immich-port', String(ports[0]),
      '--immich-db-port', String(ports[1]),
      '--immich-redis-port', String(ports[2]),
      '--immich-ml-port', String(ports[3]),
      '--zfs-root', root,
      '--immich-library-dir', mountpoint(`${root}/library`),
      '--immich-postgres-dir', mountpoint(`${root}/postgres`),
      '--immich-db-container', `${prefix}postgres`,
      '--immich-server-container', `${prefix}server`,
      '--pool-poll-secs', '0',
      '--immich-model-cache-dir', models,
    ],
  });
  browser = await launchBrowser();
  owner = await createOwner(stack.baseUrl);
  const r = await apiCall(stack.baseUrl, 'POST', '/api/v1/users', { session: owner, body: VIEWER });
  assert.equal(r.status, 201, r.text);
  viewer = await apiLogin(stack.baseUrl, VIEWER.name, VIEWER.password);

  // Install v3.1.0 from the API, and wait for the job.
  const inst = await apiCall(stack.baseUrl, 'POST', '/api/v1/stack/install', { session: owner, body: { version: 'v3.1.0', machine_learning: null } });
  assert.equal(inst.status, 202, inst.text);
  await eventually(async () => {
    const j = await apiCall(stack.baseUrl, 'GET', `/api/v1/jobs/${inst.body.id}`, { session: owner });
    if (j.body.state === 'failed' || j.body.state === 'cancelled') throw new Error(`install ${j.body.state}: ${j.body.error}`);
    return j.body.state === 'succeeded';
  }, { timeoutMs: 300_000, intervalMs: 1000, message: 'the install of v3.1.0' });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  removeContainers();
  destroyDatasets();
  if (dirs) rmSync(dirs, { recursive: true, force: true });
});

test('stack update: the owner updates to v3.2.0 through the dialog, then goes back to v3.1.0 typing "roll back"', async () => {
  const { page, context, problems } = await newPage(browser, { session: owner });
  try {
    await page.goto(`${stack.baseUrl}/stack`);
    const summary = page.getByTestId('stack-summary');
    const panel = page.getByTestId('update-panel');
    await panel.waitFor({ timeout: 15_000 });
    assert.equal(await page.getByTestId('stack-version').textContent(), 'v3.1.0');

    // Check now asks the registry again; v3.2.0 is offered with its release notes.
    await panel.getByRole('button', { name: 'Check now' }).click();
    await eventually(async () => (await panel.getAttribute('data-offer')) === 'available', { timeoutMs: 30_000, message: 'the panel to offer an update' });
    assert.match((await panel.getByTestId('update-available').textContent()) ?? '', /v3\.2\.0 is available/);
    const notes = panel.getByRole('link', { name: /What is new in v3\.2\.0/ });
    assert.equal(await notes.getAttribute('target'), '_blank');
    assert.match((await notes.getAttribute('rel')) ?? '', /noopener/);
    assert.match((await notes.getAttribute('href')) ?? '', /\/tag\/v3\.2\.0$/);
    await screenshot(page, 'stack-update-offered');

    // The confirmation says what happens, then the job shows its steps and ends in success.
    await panel.getByRole('button', { name: 'Update to v3.2.0' }).click();
    const dialog = page.getByRole('dialog', { name: 'Update Immich to v3.2.0?' });
    await dialog.waitFor();
    const said = (await dialog.textContent()) ?? '';
    assert.match(said, /restore point/);
    assert.match(said, /unavailable for a few minutes/);
    assert.match(said, /goes back to the version before by itself/);
    await screenshot(page, 'stack-update-confirm');
    await dialog.getByRole('button', { name: 'Update to v3.2.0' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 30_000 });
    const change = page.getByTestId('change-job');
    await change.waitFor({ timeout: 15_000 });
    assert.equal(await change.getAttribute('data-kind'), 'stack.update');
    // The steps are listed while it runs (it may already be past the first by now).
    if ((await change.getAttribute('data-state')) !== 'succeeded') {
      await eventually(async () => (await change.getByTestId('change-step').count()) === 4 || (await change.getAttribute('data-state')) === 'succeeded', {
        message: 'the steps of the update',
      });
      await screenshot(page, 'stack-update-running');
    }
    await eventually(async () => {
      const st = await change.getAttribute('data-state');
      if (st === 'failed') throw new Error(`the update failed: ${await change.textContent()}`);
      return st === 'succeeded';
    }, { timeoutMs: 300_000, intervalMs: 1000, message: 'the update to succeed' });
    const outcome = change.getByTestId('change-outcome');
    assert.match((await outcome.textContent()) ?? '', /Immich v3\.2\.0 is running/);
    assert.match((await outcome.textContent()) ?? '', /Restore point \S+ holds the box as it was on v3\.1\.0/);
    assert.ok((await change.getByTestId('change-log').locator('li').count()) > 0, 'the update shows its log lines');
    await eventually(async () => (await page.getByTestId('stack-version').textContent()) === 'v3.2.0', { timeoutMs: 30_000, message: 'the summary to say v3.2.0' });
    await eventually(async () => (await panel.getAttribute('data-offer')) === 'none', { timeoutMs: 30_000, message: 'the panel to offer nothing more' });
    await screenshot(page, 'stack-update-done');

    // The history lists v3.1.0; going back needs `roll back` typed exactly.
    const history = page.getByTestId('version-history');
    const old = history.locator('[data-version="v3.1.0"]');
    await old.waitFor({ timeout: 30_000 });
    assert.match((await old.textContent()) ?? '', /Left /);
    assert.equal(await history.locator('[data-version="v3.2.0"]').getAttribute('data-current'), 'true');
    await old.getByRole('button', { name: 'Go back to Immich v3.1.0' }).click();
    const back = page.getByRole('dialog', { name: 'Go back to Immich v3.1.0?' });
    await back.waitFor();
    const text = (await back.textContent()) ?? '';
    assert.match(text, /restore point of now/);
    assert.match(text, /database goes back to the restore point/);
    assert.match(text, /undone/);
    const go = back.getByRole('button', { name: 'Go back to v3.1.0' });
    assert.ok(await go.isDisabled(), 'disabled before typing');
    await back.getByLabel(/to confirm/).fill('rollback');
    assert.ok(await go.isDisabled(), 'disabled with a wrong phrase');
    await back.getByLabel(/to confirm/).fill('Roll Back');
    assert.ok(await go.isDisabled(), 'disabled with the wrong case');
    await back.getByLabel(/to confirm/).fill('roll back');
    assert.ok(await go.isEnabled(), 'enabled with the phrase');
    await screenshot(page, 'stack-rollback-confirm');
    await go.click();
    await back.waitFor({ state: 'hidden', timeout: 30_000 });
    await eventually(async () => (await change.getAttribute('data-kind')) === 'stack.rollback', { timeoutMs: 15_000, message: 'the rollback job to show' });
    await eventually(async () => {
      const st = await change.getAttribute('data-state');
      if (st === 'failed') throw new Error(`the rollback failed: ${await change.textContent()}`);
      return st === 'succeeded';
    }, { timeoutMs: 300_000, intervalMs: 1000, message: 'the rollback to succeed' });
    assert.match((await change.getByTestId('change-outcome').textContent()) ?? '', /Immich v3\.1\.0 is running again/);
    await eventually(async () => (await page.getByTestId('stack-version').textContent()) === 'v3.1.0', { timeoutMs: 30_000, message: 'the summary to say v3.1.0' });
    await eventually(async () => (await summary.getAttribute('data-healthy')) === 'true', { timeoutMs: 60_000, message: 'Immich healthy again' });
    await eventually(async () => (await history.locator('[data-version="v3.2.0"]').count()) === 1 && (await history.locator('[data-version="v3.1.0"]').getAttribute('data-current')) === 'true', {
      timeoutMs: 30_000,
      message: 'the history to list v3.2.0 as left and v3.1.0 as running',
    });
    await screenshot(page, 'stack-rollback-done');

    await page.setViewportSize({ width: 360, height: 740 });
    const o = await horizontalOverflow(page);
    assert.ok(o.scrollWidth <= o.clientWidth, `no horizontal overflow at 360 px: ${JSON.stringify(o)}`);
    await screenshot(page, 'stack-update-phone');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('stack update: a viewer sees the panel and the history without any button, and the agent refuses them', async () => {
  const { page, context } = await newPage(browser, { session: viewer, colorScheme: 'dark' });
  try {
    await page.goto(`${stack.baseUrl}/stack`);
    const panel = page.getByTestId('update-panel');
    await panel.waitFor({ timeout: 15_000 });
    await page.getByTestId('version-history').locator('[data-testid="version"]').first().waitFor({ timeout: 15_000 });
    assert.equal(await page.getByRole('button', { name: /^Update to/ }).count(), 0, 'no Update button for a viewer');
    assert.equal(await page.getByRole('button', { name: /^Go back/ }).count(), 0, 'no Go back button for a viewer');
    await screenshot(page, 'stack-update-viewer-dark');
    const up = await apiCall(stack.baseUrl, 'POST', '/api/v1/stack/update', { session: viewer, body: { version: 'v3.2.0' } });
    assert.equal(up.status, 403, up.text);
    const rb = await apiCall(stack.baseUrl, 'POST', '/api/v1/stack/rollback', { session: viewer, body: { version: 'v3.2.0', confirm: 'roll back' } });
    assert.equal(rb.status, 403, rb.text);
  } finally {
    await context.close();
  }
});
