// Backup drives end to end, against the real agent and a real exFAT drive: a loop device holding
// an exFAT image (as tests/lab/lab.sh exfat-attach makes them), seen by the real udevd and mounted with
// exfat-fuse. The owner finds the drive among the plugged-in devices on the Backups page (Format
// waits for the device's `erase <label>` phrase typed exactly; the box's own disks have no
// buttons), enrolls
// it (name, trigger), presses "Back up now", sees the job's live progress and then the success:
// the age of the last backup, a history row that succeeded, the files really on the drive; then
// ejects it and the card says it is safe to remove. Restoring chosen files: the drive's backup is
// browsed by the original names, and the button waits for `restore` typed exactly.
// The backup settings: wrong values named by their fields, the passphrase write-only ("set"). A viewer and an operator (backups.view, no
// drives.manage, drives.format or restore.run) see the drive and its history but no action, and
// the agent refuses those routes.
//
// Needs the lab: tests/lab/lab.sh start exfat (it starts udev).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  apiCall,
  apiLogin,
  createOwner,
  eventually,
  horizontalOverflow,
  launchBrowser,
  newPage,
  screenshot,
  startStack,
} from './harness.mjs';

const OPERATOR = { name: 'oscar', display_name: 'Oscar Operator', password: 'operator password 1', role: 'operator', groups: [] };
const VIEWER = { name: 'vera', display_name: 'Vera Viewer', password: 'viewer password 12', role: 'viewer', groups: [] };
const DRIVE_NAME = 'Blue drive in the drawer';

const rand = randomBytes(3).toString('hex');
const imageName = `drivesui-${rand}`;
const label = `KS${rand}`.toUpperCase().slice(0, 11);

/** Runs a command; returns its stdout, or throws with what it printed. */
function run(file, args) {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} -> exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout || r.error?.message || '').trim()}`);
  }
  return r.stdout;
}

/** Fails naming the lab component that is missing, as every lab test does. */
function needLab() {
  if (process.env.KEEPSAKE_LAB_EXFAT !== '1' || process.env.KEEPSAKE_LAB_UDEV !== '1') {
    throw new Error('the exfat lab component is not started: run tests/lab/lab.sh start exfat (it starts udev too)');
  }
}

/**
 * "Plugs in" a USB drive: an exFAT image on a loop device, which udev announces like any disk
 * (what tests/lab/lab.sh exfat-attach does, here with the image where this test can remove it).
 */
function attachDrive() {
  const dir = process.env.KEEPSAKE_LAB_EXFAT_DIR || os.tmpdir();
  mkdirSync(dir, { recursive: true });
  const img = path.join(dir, `${imageName}.img`);
  run('truncate', ['-s', '256M', img]);
  run('mkfs.exfat', ['-L', label, img]);
  const uuid = run('blkid', ['-p', '-o', 'value', '-s', 'UUID', img]).trim();
  const dev = run('losetup', ['-f', '--show', img]).trim();
  return { dev, uuid, img };
}

/** "Pulls it out": unmounts whatever still has it mounted, detaches the loop device, removes the image. */
function detachDrive(d) {
  const mounts = spawnSync('findmnt', ['-n', '-o', 'TARGET', '-S', d.dev], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  const r = spawnSync('losetup', ['-d', d.dev], { encoding: 'utf8' });
  if (r.status !== 0) console.error(`drives cleanup: losetup -d ${d.dev}: ${r.stderr.trim()}`);
  rmSync(d.img, { force: true });
}

let stack;
let browser;
let owner;
/** The attached drive: { dev, uuid, img }. */
let drive = null;
let mountCheck = null;

before(async () => {
  needLab();
  drive = attachDrive();
  assert.ok(drive.dev.startsWith('/dev/loop') && drive.uuid, `a loop device with an exFAT UUID: ${JSON.stringify(drive)}`);
  stack = await startStack();
  // Something to back up: a few photos and a profile picture, in Immich's folders.
  const data = path.join(stack.tmp, 'data');
  for (const dir of ['library/admin/2026/12', 'upload/upload/ab', 'profile/admin']) mkdirSync(path.join(data, dir), { recursive: true });
  for (let i = 0; i < 40; i++) writeFileSync(path.join(data, 'library/admin/2026/12', `IMG_${1000 + i}.jpg`), randomBytes(512 * 1024));
  writeFileSync(path.join(data, 'upload/upload/ab', 'pending.heic'), randomBytes(64 * 1024));
  writeFileSync(path.join(data, 'profile/admin', 'me.jpg'), randomBytes(8 * 1024));
  browser = await launchBrowser();
  owner = await createOwner(stack.baseUrl);
  for (const u of [OPERATOR, VIEWER]) {
    const r = await apiCall(stack.baseUrl, 'POST', '/api/v1/users', { session: owner, body: u });
    assert.equal(r.status, 201, r.text);
  }
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  if (mountCheck) rmSync(mountCheck, { recursive: true, force: true });
  if (drive) detachDrive(drive);
});

async function drives(session = owner) {
  const r = await apiCall(stack.baseUrl, 'GET', '/api/v1/drives', { session });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

const card = (page) => page.locator(`[data-testid="drive-card"][data-uuid="${drive.uuid}"]`);

test('drives: enroll a plugged-in drive, back up with live progress, see the history, eject it', async () => {
  const { page, context, problems } = await newPage(browser, { session: owner });
  try {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Backups' }).click();
    await page.getByRole('heading', { name: 'Backups', level: 1 }).waitFor({ timeout: 15_000 });
    await page.getByTestId('no-drives').waitFor({ timeout: 15_000 });

    // 1) The drive shows among the plugged-in devices (udev saw the loop device), with Enroll.
    const row = page.locator(`[data-testid="attached-devices"] [data-uuid="${drive.uuid}"]`);
    await row.waitFor({ timeout: 30_000 });
    assert.match((await row.textContent()) ?? '', /exfat/);
    await screenshot(page, 'drives-attached');
    // The box's own disks are listed but can be neither enrolled nor formatted.
    for (const sys of await page.locator('[data-testid="attached-devices"] li').filter({ hasText: 'Part of the box' }).all()) {
      assert.equal(await sys.getByRole('button').count(), 0, `no action on a system disk: ${await sys.textContent()}`);
    }

    // Format asks for the device's own phrase, typed exactly, since the drive holds a filesystem.
    const listed = (await drives()).attached.find((d) => d.fs_uuid === drive.uuid);
    assert.equal(listed?.has_data, true, JSON.stringify(listed));
    assert.equal(listed.format_confirmation, `erase ${label}`);
    await row.getByRole('button', { name: /^Format/ }).click();
    const fmt = page.getByRole('dialog', { name: 'Format this drive' });
    await fmt.waitFor();
    assert.match((await fmt.getByTestId('format-erases').textContent()) ?? '', /erases everything/);
    const formatButton = fmt.getByRole('button', { name: 'Format drive' });
    const typed = fmt.getByLabel(`Type erase ${label} to confirm`);
    assert.equal(await formatButton.isDisabled(), true, 'disabled before the phrase');
    await typed.fill(`erase ${label.toLowerCase()}`);
    assert.equal(await formatButton.isDisabled(), true, 'disabled for another spelling');
    await typed.fill(`erase ${label}`);
    assert.equal(await formatButton.isDisabled(), false, 'enabled for the phrase');
    await fmt.getByLabel('New label').fill('BAD/LABEL');
    assert.equal(await formatButton.isDisabled(), true, 'disabled for a label exFAT refuses');
    await screenshot(page, 'drives-format');
    await fmt.getByRole('button', { name: 'Cancel' }).click();
    await fmt.waitFor({ state: 'hidden' });

    await row.getByRole('button', { name: /^Enroll/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Use this drive for backups' });
    await dialog.waitFor();
    assert.equal(await dialog.getByLabel('Name').inputValue(), label, 'the name starts as the drive’s label');
    // A name is required, and said next to the field.
    await dialog.getByLabel('Name').fill('');
    await dialog.getByRole('button', { name: 'Enroll drive' }).click();
    await dialog.locator('#enroll-name-error').waitFor();
    await dialog.getByLabel('Name').fill(DRIVE_NAME);
    await dialog.getByRole('radio', { name: /^Only when I press/ }).check();
    await dialog.getByRole('button', { name: 'Enroll drive' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 15_000 });

    const c = card(page);
    await c.waitFor({ timeout: 15_000 });
    assert.match((await c.getByRole('heading', { level: 2 }).textContent()) ?? '', new RegExp(DRIVE_NAME));
    assert.equal(await c.getByTestId('drive-trigger').textContent(), 'Only when I press “Back up now”');
    assert.match((await c.getByTestId('drive-age').textContent()) ?? '', /Never/, 'no backup yet');
    const enrolled = (await drives()).drives.find((d) => d.uuid === drive.uuid);
    assert.ok(enrolled, 'the box lists the drive as enrolled');
    assert.equal(enrolled.name, DRIVE_NAME);
    assert.equal(enrolled.trigger, 'manual');
    await row.waitFor({ state: 'detached', timeout: 15_000 });

    // 2) Back up now: the job's progress shows while it runs, then the success.
    await page.evaluate(() => {
      window.__seen = false;
      const look = () => {
        if (document.querySelector('[data-testid="drive-progress"]')) window.__seen = true;
      };
      new MutationObserver(look).observe(document.body, { childList: true, subtree: true });
    });
    await c.getByRole('button', { name: 'Back up now' }).click();
    await eventually(async () => (await c.getByTestId('drive-age').getAttribute('data-tone')) === 'ok', {
      timeoutMs: 300_000,
      intervalMs: 500,
      message: 'the card to show a recent successful backup',
    });
    assert.equal(await page.evaluate(() => window.__seen), true, 'the live progress was shown while the backup ran');
    assert.match((await c.getByTestId('drive-age').textContent()) ?? '', /just now|seconds? ago|minutes? ago/);
    assert.match((await c.getByTestId('drive-space').textContent()) ?? '', /free of/);
    const after = (await drives()).drives.find((d) => d.uuid === drive.uuid);
    assert.ok(after.last_success_at, 'the box has a last successful backup');
    assert.equal(after.last_run?.outcome, 'succeeded', JSON.stringify(after.last_run));
    assert.ok(after.last_run.files_total >= 42, `the backup holds the photos: ${JSON.stringify(after.last_run)}`);

    // 3) The history lists the run.
    await c.getByText('History', { exact: true }).click();
    const history = c.getByTestId('drive-history');
    await history.waitFor();
    await screenshot(page, 'drives-history');
    await history.locator('tr[data-outcome="succeeded"]').first().waitFor({ timeout: 15_000 });
    assert.match((await history.textContent()) ?? '', /Copied \d+ files/);
    await screenshot(page, 'drives-after-backup');

    // 4) Eject: the card says it is safe to remove, and the drive is not mounted any more.
    const eject = c.getByRole('button', { name: 'Eject' });
    if ((await eject.count()) > 0) await eject.click();
    await c.getByTestId('safe-to-remove').waitFor({ timeout: 30_000 });
    assert.match((await c.getByTestId('safe-to-remove').textContent()) ?? '', /Safe to remove/);
    const mounts = spawnSync('findmnt', ['-n', '-S', drive.dev], { encoding: 'utf8' });
    assert.equal(mounts.stdout.trim(), '', `${drive.dev} is not mounted after the eject`);

    // The backup is really on the drive, as plain files any computer reads.
    mountCheck = mkdtempSync(path.join(os.tmpdir(), 'drivesui-mnt-'));
    run('mount.exfat-fuse', ['-o', 'ro', drive.dev, mountCheck]);
    try {
      const entries = readdirSync(mountCheck);
      assert.ok(entries.includes('.keepsake'), `the drive has Keepsake's manifest folder: ${entries}`);
      const photos = spawnSync('find', [mountCheck, '-name', 'IMG_1000.jpg'], { encoding: 'utf8' }).stdout.trim();
      assert.ok(photos, 'a photo is on the drive');
    } finally {
      spawnSync('umount', [mountCheck]);
    }

    // The page on a phone: no sideways scroll.
    await page.setViewportSize({ width: 360, height: 740 });
    await screenshot(page, 'drives-phone');
    const o = await horizontalOverflow(page);
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
        .slice(-3)
        .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} "${(e.textContent ?? '').trim().slice(0, 40)}"`),
    );
    assert.ok(o.scrollWidth <= o.clientWidth, `no horizontal scroll at 360px: ${JSON.stringify(o)}; too wide: ${wide.join(' | ')}`);
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});

test('drives: restore chosen files from the drive, browsing its backup by the original names', async () => {
  const { page, context, problems } = await newPage(browser, { session: owner });
  try {
    await page.goto(`${stack.baseUrl}/backups`);
    const c = card(page);
    await c.waitFor({ timeout: 15_000 });
    await c.getByRole('button', { name: 'Restore…' }).click();
    const dialog = page.getByRole('dialog', { name: `Restore from “${DRIVE_NAME}”` });
    await dialog.waitFor();

    // The backup's folders, as Immich named them; open one and tick a photo.
    const files = dialog.getByTestId('drive-files');
    await files.locator('[data-entry="library"]').waitFor({ timeout: 30_000 });
    await files.getByRole('button', { name: 'library/ (open folder)' }).click();
    await dialog.locator('[data-testid="drive-files"][data-path="library"]').waitFor({ timeout: 15_000 });
    for (const folder of ['admin', '2026', '12']) {
      const here = (await files.getAttribute('data-path')) ?? '';
      await files.getByRole('button', { name: `${folder}/ (open folder)` }).click();
      await dialog.locator(`[data-testid="drive-files"][data-path="${here}/${folder}"]`).waitFor({ timeout: 15_000 });
    }
    const photo = 'library/admin/2026/12/IMG_1003.jpg';
    await files.locator(`[data-entry="${photo}"]`).waitFor({ timeout: 15_000 });
    await files.getByLabel(`Restore ${photo}`).check();
    assert.match((await dialog.getByTestId('chosen-count').textContent()) ?? '', /^1 chosen/);
    await screenshot(page, 'drives-restore-files');

    // The button works only once `restore` is typed exactly.
    const go = dialog.getByRole('button', { name: 'Restore', exact: true });
    const phrase = dialog.getByLabel('Type restore to confirm');
    assert.equal(await go.isDisabled(), true, 'disabled before anything is typed');
    await phrase.fill('Restore');
    assert.equal(await go.isDisabled(), true, 'disabled for another spelling');
    await phrase.fill('restore');
    assert.equal(await go.isDisabled(), false, 'enabled for the phrase');
    // Whole-instance restores say what they replace first.
    await dialog.getByRole('radio', { name: /^Everything/ }).check();
    assert.match((await dialog.getByTestId('instance-warning').textContent()) ?? '', /everything on the box is replaced/);
    await dialog.getByRole('radio', { name: /^Chosen photos/ }).check();
    assert.match((await dialog.getByTestId('chosen-count').textContent()) ?? '', /^1 chosen/, 'the choice is kept');
    await go.click();

    // The box runs it (a restore point of the box is made first; without restore points this box
    // says so) and the dialog says how it ended, in words.
    const outcome = dialog.locator('[data-testid="drive-restore-outcome"], [role="alert"]').first();
    await outcome.waitFor({ timeout: 30_000 });
    if ((await outcome.getAttribute('data-testid')) === 'drive-restore-outcome') {
      await eventually(async () => ['succeeded', 'failed', 'cancelled'].includes(await outcome.getAttribute('data-state')), {
        timeoutMs: 120_000,
        intervalMs: 500,
        message: 'the restore job to end',
      });
    }
    const said = ((await outcome.textContent()) ?? '').trim();
    assert.match(said, /Done: \d+ files?|The restore failed\.\s*\S|The restore did not start.*\S/s, `a clear outcome: ${said}`);
    await screenshot(page, 'drives-restore-outcome');
    await dialog.getByRole('button', { name: /^(Close|Cancel)$/ }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.deepEqual(problems.filter((p) => !/status of 4\d\d/.test(p)), [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});

test('drives: backup settings, with a write-only passphrase that only says it is set', async () => {
  const { page, context, problems } = await newPage(browser, { session: owner });
  try {
    await page.goto(`${stack.baseUrl}/backups`);
    const card = page.getByTestId('backup-settings');
    await card.waitFor({ timeout: 15_000 });
    assert.equal(await card.getByTestId('passphrase-set').count(), 0, 'no passphrase yet');
    // Wrong values are named next to their fields, and nothing is saved.
    await card.getByLabel('Keep deleted photos on the drive for (days)').fill('0');
    await card.getByLabel(/^Passphrase/).fill('short');
    await card.getByRole('button', { name: 'Save backup settings' }).click();
    await card.locator('#bk-keep-error').waitFor();
    await card.locator('#bk-pass-error').waitFor();
    const before = (await apiCall(stack.baseUrl, 'GET', '/api/v1/drives/settings', { session: owner })).body;
    assert.equal(before.bundle_passphrase_set, false);
    await card.getByLabel('Keep deleted photos on the drive for (days)').fill('45');
    await card.getByLabel(/^Passphrase/).fill('correct horse battery staple');
    await card.getByRole('radio', { name: 'Every file (slow)' }).check();
    await card.getByRole('button', { name: 'Save backup settings' }).click();
    await card.getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: 10_000 });
    const r = await apiCall(stack.baseUrl, 'GET', '/api/v1/drives/settings', { session: owner });
    assert.equal(r.body.keep_deleted_days, 45);
    assert.equal(r.body.verify_depth, 'full');
    assert.equal(r.body.bundle_passphrase_set, true);
    assert.ok(!r.text.includes('correct horse battery staple'), 'the passphrase is never sent back');
    await card.getByTestId('passphrase-set').waitFor();
    assert.equal(await card.getByLabel(/^Passphrase/).inputValue(), '', 'the field is empty again');
    assert.match((await card.getByTestId('backup-policy').textContent()) ?? '', /for 45 days.*every file.*locked with a passphrase/s);
    // Saving again without typing it keeps the one set.
    const put = page.waitForResponse((res) => res.url().endsWith('/api/v1/drives/settings') && res.request().method() === 'PUT');
    await card.getByRole('button', { name: 'Save backup settings' }).click();
    const sent = await put;
    assert.equal(sent.status(), 200);
    assert.equal(JSON.parse(sent.request().postData() ?? '{}').bundle_passphrase, null, 'an empty field sends no passphrase');
    assert.equal((await apiCall(stack.baseUrl, 'GET', '/api/v1/drives/settings', { session: owner })).body.bundle_passphrase_set, true);
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});

test('drives: a viewer or an operator sees the drive, its age and history, but no action', async () => {
  for (const [who, user] of [
    ['viewer', VIEWER],
    ['operator', OPERATOR],
  ]) {
    const session = await apiLogin(stack.baseUrl, user.name, user.password);
    const { page, context, problems } = await newPage(browser, { session });
    try {
      await page.goto(`${stack.baseUrl}/backups`);
      await page.getByRole('heading', { name: 'Backups', level: 1 }).waitFor({ timeout: 15_000 });
      const c = card(page);
      await c.waitFor({ timeout: 15_000 });
      assert.equal(await c.getByTestId('drive-age').getAttribute('data-tone'), 'ok', `${who}: sees the recent backup`);
      for (const name of [/^Enroll/, /^Format/, /^Restore/, /^Forget/, /^Settings…/, /^Back up now/, /^Eject/, /check$/]) {
        assert.equal(await page.getByRole('button', { name }).count(), 0, `${who}: no ${name} button`);
      }
      assert.equal(await page.getByRole('button', { name: 'Save backup settings' }).count(), 0, `${who}: settings are read-only`);
      await c.getByText('History', { exact: true }).click();
      await c.getByTestId('drive-history').locator('tr[data-outcome="succeeded"]').first().waitFor({ timeout: 15_000 });
      await screenshot(page, `drives-${who}`);

      // And the agent, which decides, refuses.
      const uuid = encodeURIComponent(drive.uuid);
      for (const [method, p, body] of [
        ['POST', '/api/v1/drives', { uuid: drive.uuid, config: { name: 'x', trigger: 'manual' } }],
        ['POST', `/api/v1/drives/${uuid}/backup`, {}],
        ['POST', '/api/v1/drives/format', { device: drive.dev, label: 'X', confirm: null }],
      ]) {
        const r = await apiCall(stack.baseUrl, method, p, { session, body });
        assert.equal(r.status, 403, `${who} ${method} ${p}: ${r.status} ${r.text}`);
        assert.equal(r.body?.code, 'auth.permission_missing', `${who} ${method} ${p}: ${r.text}`);
      }
      assert.deepEqual(problems, [], `${who}: no console errors or failed requests`);
    } finally {
      await context.close();
    }
  }
});
