// Restoring chosen files from a backup drive, end to end and successful: the real agent with
// restore points (the lab's zfs-fuse datasets and a PostgreSQL container standing in for Immich's
// database, as in restore-points.test.mjs, since every restore first makes a pre-restore point)
// and a real exFAT drive on a loop device seen by udev. A drive is enrolled and backed up through
// the API; a photo is then deleted from the box; the owner opens Restore… on the drive's card,
// browses the backup by the original names, ticks the photo, types `restore`, and the dialog
// follows the job to "Done" with the pre-restore point that undoes it. The photo is back, byte for
// byte.
//
// Needs the lab: tests/lab/lab.sh start zfs pgcontainer exfat.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { apiCall, createOwner, eventually, launchBrowser, newPage, repoRoot, screenshot, startStack } from './harness.mjs';

const DRIVE_NAME = 'Drive in the cupboard';
const PHOTO = 'library/admin/2026/12/IMG_2001.jpg';

const pool = process.env.KEEPSAKE_LAB_ZPOOL;
const dockerHost = process.env.KEEPSAKE_LAB_DOCKER_HOST;
const pgScript = process.env.KEEPSAKE_LAB_PG_CONTAINER_SH || path.join(repoRoot, 'tests', 'lab', 'pg_container.sh');
const BUSYBOX = 'keepsake-lab/busybox:1';
const SERVER_IMAGE = 'keepsake-lab/immich-server:v1.136.0';

const rand = randomBytes(3).toString('hex');
const root = `${pool}/drivesui-${rand}`;
const dbContainer = `drivesui-db-${rand}`;
const serverContainer = `drivesui-server-${rand}`;

/** Runs a command; returns its stdout, or throws with what it printed. */
function run(file, args, { env = {}, input } = {}) {
  const r = spawnSync(file, args, { encoding: 'utf8', input, env: { ...process.env, ...env }, timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} -> exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout || r.error?.message || '').trim()}`);
  }
  return r.stdout;
}

const dockerEnv = dockerHost ? { DOCKER_HOST: dockerHost } : {};
const docker = (...args) => run('docker', args, { env: dockerEnv });
const zfs = (...args) => run('zfs', args);
const psql = (sql) => run(pgScript, ['psql', dbContainer, sql], { env: dockerEnv }).trim();
const mountpoint = (ds) => zfs('get', '-H', '-o', 'value', 'mountpoint', ds).trim();

/** Fails naming the lab component that is missing, as every lab test does. */
function needLab() {
  if (!pool) throw new Error('the zfs lab component is not started: run tests/lab/lab.sh start zfs pgcontainer exfat');
  if (process.env.KEEPSAKE_LAB_EXFAT !== '1' || process.env.KEEPSAKE_LAB_UDEV !== '1') {
    throw new Error('the exfat lab component is not started: run tests/lab/lab.sh start exfat (it starts udev too)');
  }
  if (!dockerHost) throw new Error('the docker lab component is not started: run tests/lab/lab.sh start pgcontainer');
  for (const image of ['keepsake-lab/postgres:15', BUSYBOX]) {
    const r = spawnSync('docker', ['image', 'inspect', image], { env: { ...process.env, ...dockerEnv }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`image ${image} is missing: run tests/lab/lab.sh start pgcontainer`);
  }
}

function setUpLab() {
  needLab();
  for (const child of ['', '/library', '/postgres', '/state']) zfs('create', '-p', `${root}${child}`);

  run(pgScript, ['start', dbContainer, mountpoint(`${root}/postgres`)], { env: dockerEnv });
  // A few of Immich's own tables (their current, singular names), with a few rows.
  psql(`CREATE TABLE "user" (id serial PRIMARY KEY, name text NOT NULL);
        CREATE TABLE asset (id serial PRIMARY KEY, "originalFileName" text NOT NULL);
        CREATE TABLE album (id serial PRIMARY KEY, "albumName" text NOT NULL);
        INSERT INTO "user" (name) VALUES ('Olivia');
        INSERT INTO asset ("originalFileName") VALUES ('IMG_0001.jpg'), ('IMG_0002.jpg'), ('IMG_0003.jpg');
        INSERT INTO album ("albumName") VALUES ('Summer 2026')`);

  // The server stand-in is tagged like Immich's image: the agent reads the version from the tag. It
  // stops on SIGTERM at once, as Immich's server does (a bare `sleep` as PID 1 ignores it, and every
  // stop would wait out Docker's timeout).
  docker('tag', BUSYBOX, SERVER_IMAGE);
  docker('run', '-d', '--name', serverContainer, '--network', 'none', SERVER_IMAGE, 'sh', '-c', "trap 'exit 0' TERM; while :; do sleep 1; done");
}

function tearDownLab() {
  const quiet = (fn) => {
    try {
      fn();
    } catch (e) {
      console.error(`drives-restore cleanup: ${e.message}`);
    }
  };
  quiet(() => spawnSync('docker', ['rm', '-f', serverContainer], { env: { ...process.env, ...dockerEnv } }));
  quiet(() => {
    const r = spawnSync(pgScript, ['stop', dbContainer], { env: { ...process.env, ...dockerEnv }, encoding: 'utf8' });
    if (r.status !== 0) spawnSync('docker', ['rm', '-f', dbContainer], { env: { ...process.env, ...dockerEnv } });
  });
  if (!pool) return;
  // zfs-fuse can say "busy" for a moment after a rollback or an unmount: try again.
  quiet(() => {
    for (let i = 0; ; i++) {
      const r = spawnSync('zfs', ['destroy', '-R', root], { encoding: 'utf8' });
      if (r.status === 0 || /does not exist/.test(r.stderr)) return;
      if (i >= 10) throw new Error(`zfs destroy -R ${root}: ${r.stderr.trim()}`);
      spawnSync('sleep', ['1']);
    }
  });
}


let drive = null;

/** "Plugs in" a USB drive: an exFAT image on a loop device, which udev announces like any disk. */
function attachDrive() {
  const dir = process.env.KEEPSAKE_LAB_EXFAT_DIR || os.tmpdir();
  mkdirSync(dir, { recursive: true });
  const img = path.join(dir, `drivesui-restore-${rand}.img`);
  run('truncate', ['-s', '128M', img]);
  run('mkfs.exfat', ['-L', `KR${rand}`.toUpperCase().slice(0, 11), img]);
  const uuid = run('blkid', ['-p', '-o', 'value', '-s', 'UUID', img]).trim();
  const dev = run('losetup', ['-f', '--show', img]).trim();
  return { dev, uuid, img };
}

function detachDrive(d) {
  const mounts = spawnSync('findmnt', ['-n', '-o', 'TARGET', '-S', d.dev], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  const r = spawnSync('losetup', ['-d', d.dev], { encoding: 'utf8' });
  if (r.status !== 0) console.error(`drives-restore cleanup: losetup -d ${d.dev}: ${r.stderr.trim()}`);
  rmSync(d.img, { force: true });
}

let stack;
let browser;
let owner;
let data;

before(async () => {
  setUpLab();
  drive = attachDrive();
  stack = await startStack({
    agentArgs: ['--zfs-root', root, '--immich-db-container', dbContainer, '--immich-server-container', serverContainer],
  });
  // On the appliance Immich's upload folder (what backups copy) is the library dataset (where
  // restores write); the harness gives the agent a folder of its own, so make it that dataset.
  data = mountpoint(`${root}/library`);
  rmSync(path.join(stack.tmp, 'data'), { recursive: true, force: true });
  symlinkSync(data, path.join(stack.tmp, 'data'));
  mkdirSync(path.join(data, path.dirname(PHOTO)), { recursive: true });
  for (let i = 0; i < 5; i++) writeFileSync(path.join(data, 'library/admin/2026/12', `IMG_${2000 + i}.jpg`), randomBytes(256 * 1024));
  browser = await launchBrowser();
  owner = await createOwner(stack.baseUrl);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  if (drive) detachDrive(drive);
  tearDownLab();
});

async function jobEnd(id) {
  return eventually(
    async () => {
      const j = (await apiCall(stack.baseUrl, 'GET', `/api/v1/jobs/${id}`, { session: owner })).body;
      return ['succeeded', 'failed', 'cancelled'].includes(j?.state) ? j : null;
    },
    { timeoutMs: 180_000, intervalMs: 500, message: `job ${id} to end` },
  );
}

test('drives: restore a deleted photo from a drive through the dashboard, undoably', async () => {
  // A drive, enrolled and backed up (the page's own enrol and backup are in drives.test.mjs).
  await eventually(async () => (await apiCall(stack.baseUrl, 'GET', '/api/v1/drives', { session: owner })).body?.attached?.some((d) => d.fs_uuid === drive.uuid), {
    timeoutMs: 30_000,
    message: 'udev to announce the drive',
  });
  const enrolled = await apiCall(stack.baseUrl, 'POST', '/api/v1/drives', {
    session: owner,
    body: { uuid: drive.uuid, config: { name: DRIVE_NAME, trigger: 'manual' } },
  });
  assert.equal(enrolled.status, 201, enrolled.text);
  const started = await apiCall(stack.baseUrl, 'POST', `/api/v1/drives/${encodeURIComponent(drive.uuid)}/backup`, { session: owner, body: {} });
  assert.equal(started.status, 202, started.text);
  const backup = await jobEnd(started.body.id);
  assert.equal(backup.state, 'succeeded', JSON.stringify(backup));

  // A mistake: the photo is deleted from the box.
  const original = readFileSync(path.join(data, PHOTO));
  rmSync(path.join(data, PHOTO));

  const { page, context, problems } = await newPage(browser, { session: owner });
  try {
    await page.goto(`${stack.baseUrl}/backups`);
    const c = page.locator(`[data-testid="drive-card"][data-uuid="${drive.uuid}"]`);
    await c.waitFor({ timeout: 15_000 });
    await c.getByRole('button', { name: 'Restore…' }).click();
    const dialog = page.getByRole('dialog', { name: `Restore from “${DRIVE_NAME}”` });
    await dialog.waitFor();
    const files = dialog.getByTestId('drive-files');
    await files.locator('[data-entry="library"]').waitFor({ timeout: 30_000 });
    let here = '';
    for (const folder of PHOTO.split('/').slice(0, -1)) {
      await files.getByRole('button', { name: `${folder}/ (open folder)` }).click();
      here = here ? `${here}/${folder}` : folder;
      await dialog.locator(`[data-testid="drive-files"][data-path="${here}"]`).waitFor({ timeout: 15_000 });
    }
    await files.getByLabel(`Restore ${PHOTO}`).check();
    await dialog.getByLabel('Type restore to confirm').fill('restore');
    await dialog.getByRole('button', { name: 'Restore', exact: true }).click();

    const outcome = dialog.getByTestId('drive-restore-outcome');
    await outcome.waitFor({ timeout: 30_000 });
    await eventually(async () => ['succeeded', 'failed', 'cancelled'].includes(await outcome.getAttribute('data-state')), {
      timeoutMs: 180_000,
      intervalMs: 500,
      message: 'the restore job to end',
    });
    const said = ((await outcome.textContent()) ?? '').trim();
    assert.equal(await outcome.getAttribute('data-state'), 'succeeded', said);
    assert.match(said, /Done: 1 file \(\d+ KB\) put back/);
    const undo = said.match(/restore the point (\S+) on the Restore points page/)?.[1];
    assert.ok(undo, `the pre-restore point is named: ${said}`);
    await screenshot(page, 'drives-restore-done');

    assert.ok(existsSync(path.join(data, PHOTO)), 'the photo is back');
    assert.ok(readFileSync(path.join(data, PHOTO)).equals(original), 'byte for byte');
    const points = (await apiCall(stack.baseUrl, 'GET', '/api/v1/restore-points', { session: owner })).body;
    assert.equal(points.points.find((p) => p.id === undo)?.kind, 'pre_restore', 'the point that undoes it is on the timeline');
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});
