// Restore points end to end, against the real agent, real ZFS datasets (the lab's zfs-fuse pool)
// and a real PostgreSQL container standing in for Immich's database (tests/lab/pg_container.sh),
// with the lab's busybox image running `sleep` standing in for the Immich server. The owner makes a
// point with a note and watches it complete, pins it, changes the photos and the database, then
// restores everything through the wizard: the impact summary is shown, the Restore button stays
// disabled until the phrase is typed exactly, the job ends with the pre-restore point to undo it,
// and the files and rows are back. An operator (restore_points.manage, no restore.run) sees the
// timeline but no restore or reset controls, and the agent refuses the restore routes. Last, the
// owner resets Immich to empty (the phrase typed) and undoes it from the banner that then shows.
//
// Needs the lab: tests/lab/lab.sh start zfs pgcontainer (docker comes with it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  apiCall,
  createOwner,
  eventually,
  horizontalOverflow,
  launchBrowser,
  newPage,
  repoRoot,
  screenshot,
  signInWithPassword,
  startStack,
} from './harness.mjs';

const OPERATOR = { name: 'oscar', display_name: 'Oscar Operator', password: 'operator password 1', role: 'operator', groups: [] };
const NOTE = 'before the big album tidy-up';

// ---- The lab: datasets and containers

const pool = process.env.KEEPSAKE_LAB_ZPOOL;
const dockerHost = process.env.KEEPSAKE_LAB_DOCKER_HOST;
const pgScript = process.env.KEEPSAKE_LAB_PG_CONTAINER_SH || path.join(repoRoot, 'tests', 'lab', 'pg_container.sh');
const BUSYBOX = 'keepsake-lab/busybox:1';
const SERVER_IMAGE = 'keepsake-lab/immich-server:v1.136.0';

const rand = randomBytes(3).toString('hex');
const root = `${pool}/rp-${rand}`;
const dbContainer = `ks-rp-db-${rand}`;
const serverContainer = `ks-rp-server-${rand}`;

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
  if (!pool) throw new Error('the zfs lab component is not started: run tests/lab/lab.sh start zfs pgcontainer');
  if (!dockerHost) throw new Error('the docker lab component is not started: run tests/lab/lab.sh start pgcontainer');
  for (const image of ['keepsake-lab/postgres:15', BUSYBOX]) {
    const r = spawnSync('docker', ['image', 'inspect', image], { env: { ...process.env, ...dockerEnv }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`image ${image} is missing: run tests/lab/lab.sh start pgcontainer`);
  }
}

let library;
const photo = (name) => path.join(library, 'upload', 'family', name);
const photoNames = () => {
  const dir = path.join(library, 'upload', 'family');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
};
const rows = (table) => Number(psql(`SELECT count(*) FROM ${table}`));

function setUpLab() {
  needLab();
  for (const child of ['', '/library', '/postgres', '/state']) zfs('create', '-p', `${root}${child}`);
  library = mountpoint(`${root}/library`);
  mkdirSync(path.join(library, 'upload', 'family'), { recursive: true });
  for (const name of ['IMG_0001.jpg', 'IMG_0002.jpg', 'IMG_0003.jpg']) writeFileSync(photo(name), randomBytes(64 * 1024));

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
      console.error(`restore-points cleanup: ${e.message}`);
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

// ---- The stack

let stack;
let browser;
let owner;

before(async () => {
  setUpLab();
  stack = await startStack({
    agentArgs: ['--zfs-root', root, '--immich-db-container', dbContainer, '--immich-server-container', serverContainer],
  });
  browser = await launchBrowser();
  owner = await createOwner(stack.baseUrl);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  tearDownLab();
});

async function points(session = owner) {
  const r = await apiCall(stack.baseUrl, 'GET', '/api/v1/restore-points', { session });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

/** The timeline row of a point. */
const row = (page, id) => page.locator(`[data-testid="timeline"] [data-point="${id}"]`);

test('restore points: make one with a note, pin it, restore everything through the wizard', async () => {
  const { page, context, problems } = await newPage(browser, { session: owner });
  try {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Restore points' }).click();
    await page.getByRole('heading', { name: 'Restore points', level: 1 }).waitFor({ timeout: 15_000 });
    await page.getByTestId('timeline').waitFor({ timeout: 15_000 });
    const before = await points();
    assert.equal(before.points.filter((p) => p.source === 'keepsake').length, 0, 'no points of our own yet');

    // Which live progress bars ever showed, however briefly (the jobs take seconds here).
    await page.evaluate(() => {
      window.__seen = new Set();
      const look = () => {
        if (document.querySelector('[data-testid="create-progress"] progress')) window.__seen.add('create');
        if (document.querySelector('[data-testid="restore-outcome"] progress')) window.__seen.add('restore');
      };
      new MutationObserver(look).observe(document.body, { childList: true, subtree: true });
    });
    const progressSeen = () => page.evaluate(() => [...window.__seen].sort());

    // 1) Create now, with a note; the job is followed live until the point is complete.
    const create = page.getByTestId('create-card');
    await create.getByLabel('Note (optional)').fill(NOTE);
    await create.getByRole('button', { name: 'Create now' }).click();
    const done = create.getByTestId('create-done');
    await done.waitFor({ timeout: 180_000 });
    const pointId = ((await done.textContent()) ?? '').match(/restore point (\S+) is ready/)?.[1];
    assert.ok(pointId, `the card names the new point: ${await done.textContent()}`);

    assert.deepEqual(await progressSeen(), ['create'], 'the job’s progress bar was shown while it ran');
    const made = (await points()).points.find((p) => p.id === pointId);
    assert.ok(made, `GET /restore-points lists ${pointId}`);
    assert.equal(made.state, 'complete');
    assert.equal(made.source, 'keepsake');
    assert.equal(made.kind, 'manual');
    assert.equal(made.note, NOTE);
    assert.ok(made.scopes.includes('instance'), `it can restore everything: ${made.scopes}`);
    const mine = row(page, pointId);
    await mine.waitFor({ timeout: 10_000 });
    assert.equal(await mine.getAttribute('data-state'), 'complete');
    assert.match((await mine.textContent()) ?? '', new RegExp(NOTE), 'the note is on the timeline');
    assert.match((await mine.textContent()) ?? '', /Made by hand/, 'the kind is a word');
    await page.getByRole('heading', { name: 'Today', level: 3 }).waitFor();

    // 2) Pin it: the row says so, the box agrees, and it can no longer be deleted.
    await mine.getByRole('button', { name: /^Pin/ }).click();
    await page.locator(`[data-point="${pointId}"][data-pinned="true"]`).waitFor({ timeout: 10_000 });
    assert.equal((await points()).points.find((p) => p.id === pointId).pinned, true);
    assert.equal(await mine.getByRole('button', { name: /^Delete/ }).count(), 0, 'a pinned point has no Delete button');
    assert.match((await mine.getByTestId('kept').textContent()) ?? '', /it is pinned/);

    // 3) Change things after the point: a photo added, one deleted, a row added.
    writeFileSync(photo('IMG_9999.jpg'), randomBytes(16 * 1024));
    rmSync(photo('IMG_0002.jpg'));
    psql(`INSERT INTO asset ("originalFileName") VALUES ('IMG_9999.jpg')`);
    assert.deepEqual(photoNames(), ['IMG_0001.jpg', 'IMG_0003.jpg', 'IMG_9999.jpg']);
    assert.equal(rows('asset'), 4);

    // 4) The wizard: what to restore (the point's own scopes), then what will happen.
    await mine.getByRole('button', { name: /^Restore…/ }).click();
    const wizard = page.getByRole('dialog', { name: /^Restore from/ });
    await wizard.waitFor();
    for (const scope of made.scopes) {
      const label = { instance: 'Everything', database: 'The database only', library: 'Every photo and video file', files: 'Chosen files or folders' }[scope];
      assert.equal(await wizard.getByRole('radio', { name: new RegExp(`^${label}`) }).count(), 1, `${scope} is offered`);
    }
    const everything = wizard.getByRole('radio', { name: /^Everything/ });
    await everything.check();
    // "Chosen files" asks for paths, and refuses ones outside the library before asking the box.
    if (made.scopes.includes('files')) {
      await wizard.getByRole('radio', { name: /^Chosen files/ }).check();
      await wizard.getByLabel('Files or folders to restore, one per line').fill('/etc/passwd\nupload/../../x');
      await wizard.getByRole('button', { name: 'Next: what will happen' }).click();
      const errors = (await wizard.locator('#wizard-paths-error').textContent()) ?? '';
      assert.match(errors, /Line 1: .*relative/);
      assert.match(errors, /Line 2: .*“\.\.”/);
      // Or picked from the point's own library, as it was then: IMG_0002 is there, though deleted since.
      const paths = wizard.getByLabel('Files or folders to restore, one per line');
      await paths.fill('');
      await wizard.getByText('Browse the photos as they were at this point').click();
      const browser = wizard.getByTestId('file-browser');
      await browser.getByRole('button', { name: 'upload/ (open folder)' }).click();
      await wizard.locator('[data-testid="file-browser"][data-path="upload"]').waitFor({ timeout: 15_000 });
      await browser.getByRole('button', { name: 'family/ (open folder)' }).click();
      await wizard.locator('[data-testid="file-browser"][data-path="upload/family"]').waitFor({ timeout: 15_000 });
      await browser.getByRole('button', { name: 'Add upload/family/IMG_0002.jpg' }).click();
      assert.equal(await paths.inputValue(), 'upload/family/IMG_0002.jpg');
      assert.equal(await browser.locator('[data-entry="upload/family/IMG_0002.jpg"]').getByText('Added').count(), 1);
      await screenshot(page, 'restore-points-wizard-files');
      await everything.check();
    }
    await screenshot(page, 'restore-points-wizard-choose');
    await wizard.getByRole('button', { name: 'Next: what will happen' }).click();

    const impact = wizard.getByTestId('impact');
    await impact.waitFor({ timeout: 30_000 });
    const plan = (await apiCall(stack.baseUrl, 'POST', `/api/v1/restore-points/${encodeURIComponent(pointId)}/plan`, {
      session: owner,
      body: { scope: 'instance' },
    })).body;
    assert.ok(plan?.confirmation, `the box's plan has a phrase: ${JSON.stringify(plan)}`);
    assert.ok(plan.impact.length > 0, 'the plan says what will happen');
    const shown = await impact.getByTestId('impact-list').locator('li').allTextContents();
    assert.deepEqual(shown, plan.impact, 'the impact summary is the box’s, sentence by sentence');
    assert.equal(await impact.getByTestId('pre-restore').count(), plan.makes_pre_restore_point ? 1 : 0, 'the pre-restore point is mentioned');
    assert.equal(await impact.getByTestId('stops-immich').count(), plan.stops_immich ? 1 : 0, 'Immich stopping is mentioned');
    assert.equal(plan.makes_pre_restore_point, true, 'a restore always makes a pre-restore point first');
    await screenshot(page, 'restore-points-wizard-impact');
    await wizard.getByRole('button', { name: 'Continue' }).click();

    // 5) The typed confirmation: the button works only for exactly the phrase.
    const phrase = wizard.getByLabel(/^Type .* to confirm$/);
    await phrase.waitFor();
    assert.match((await wizard.locator('label[for="wizard-confirm"]').textContent()) ?? '', new RegExp(plan.confirmation));
    const restoreButton = wizard.getByRole('button', { name: 'Restore', exact: true });
    assert.equal(await restoreButton.isDisabled(), true, 'disabled before anything is typed');
    await phrase.fill(plan.confirmation.slice(0, -1));
    assert.equal(await restoreButton.isDisabled(), true, 'disabled for part of the phrase');
    await phrase.fill(`${plan.confirmation} `);
    assert.equal(await restoreButton.isDisabled(), true, 'disabled for a phrase that is not exact');
    await phrase.fill(plan.confirmation);
    assert.equal(await restoreButton.isDisabled(), false, 'enabled once the phrase is typed exactly');
    await screenshot(page, 'restore-points-wizard-confirm');
    assert.deepEqual(photoNames(), ['IMG_0001.jpg', 'IMG_0003.jpg', 'IMG_9999.jpg'], 'nothing changed before the button');
    await restoreButton.click();

    // 6) The job runs live and ends with the point that undoes it.
    const outcome = wizard.getByTestId('restore-outcome');
    await outcome.waitFor({ timeout: 15_000 });
    await eventually(async () => ['succeeded', 'failed', 'cancelled'].includes(await outcome.getAttribute('data-state')), {
      timeoutMs: 300_000,
      intervalMs: 500,
      message: 'the restore job to end',
    });
    const doneText = (await outcome.textContent()) ?? '';
    assert.equal(await outcome.getAttribute('data-state'), 'succeeded', `the restore succeeded: ${doneText}`);
    assert.match(doneText, /Done\. To undo this restore, restore the pre-restore point \S+\./);
    const undo = (await wizard.getByTestId('restore-done').locator('.point-id').textContent())?.trim();
    assert.ok(undo, `the pre-restore point is named: ${doneText}`);
    assert.deepEqual(await progressSeen(), ['create', 'restore'], 'the restore’s progress bar was shown while it ran');
    await screenshot(page, 'restore-points-wizard-done');

    const afterList = await points();
    const pre = afterList.points.find((p) => p.id === undo);
    assert.ok(pre, `the pre-restore point ${undo} is on the timeline`);
    assert.equal(pre.kind, 'pre_restore');
    assert.ok(pre.expires_at, 'a safety point has an expiry');

    // What was restored is really back, and what was added since is gone.
    assert.deepEqual(photoNames(), ['IMG_0001.jpg', 'IMG_0002.jpg', 'IMG_0003.jpg'], 'the library is as it was');
    assert.equal(rows('asset'), 3, 'the database is as it was');
    assert.equal(rows('album'), 1);
    if (plan.stops_immich) {
      await eventually(() => docker('inspect', '-f', '{{.State.Running}}', serverContainer).trim() === 'true', {
        timeoutMs: 30_000,
        message: 'the Immich server container to run again',
      });
    }

    await wizard.getByRole('button', { name: 'Close' }).click();
    await wizard.waitFor({ state: 'hidden' });
    await row(page, undo).waitFor({ timeout: 15_000 });
    assert.match((await row(page, undo).textContent()) ?? '', /Before a restore/);
    assert.match((await row(page, undo).getByTestId('kept').textContent()) ?? '', /Expires/);

    // The drill card runs a drill and shows how it went.
    const drill = page.getByTestId('drill-card');
    await drill.getByRole('button', { name: 'Run a drill now' }).click();
    await drill.locator('[data-testid="drill-result"], [data-testid="drill-job-failed"]').first().waitFor({ timeout: 180_000 });

    // Schedule and keeping: a wrong number is named next to its field and nothing is saved; a
    // right one is saved, and the plain words follow it.
    const settings = page.getByTestId('rp-settings');
    const saved = (await apiCall(stack.baseUrl, 'GET', '/api/v1/restore-points/settings', { session: owner })).body;
    await settings.getByLabel('Safety points (days)').fill('0');
    await settings.getByRole('button', { name: 'Save schedule and keeping' }).click();
    await settings.locator('#rp-safety_days-error').filter({ hasText: 'at least 1 day' }).waitFor();
    assert.equal(await settings.getByLabel('Safety points (days)').getAttribute('aria-invalid'), 'true');
    assert.deepEqual((await apiCall(stack.baseUrl, 'GET', '/api/v1/restore-points/settings', { session: owner })).body, saved);
    await settings.getByLabel('Safety points (days)').fill(String(saved.retention.safety_days));
    await settings.getByLabel('Days', { exact: true }).fill('10');
    await settings.getByLabel('Make a point every day at').selectOption({ label: '02:00' });
    await settings.getByRole('button', { name: 'Save schedule and keeping' }).click();
    await settings.getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: 10_000 });
    const now = (await apiCall(stack.baseUrl, 'GET', '/api/v1/restore-points/settings', { session: owner })).body;
    assert.equal(now.retention.keep_daily, 10);
    assert.equal(now.daily_at_hour, 2);
    const words = (await settings.getByTestId('retention-words').textContent()) ?? '';
    assert.match(words, /every day at 02:00/);
    assert.match(words, /each of the last 10 days/);

    // Deleting a point asks first, then it is gone.
    const doomed = row(page, undo);
    await doomed.getByRole('button', { name: /^Delete/ }).click();
    const ask = page.getByRole('dialog', { name: 'Delete this restore point?' });
    await ask.waitFor();
    await ask.getByRole('button', { name: 'Cancel' }).click();
    await ask.waitFor({ state: 'hidden' });
    assert.equal(await doomed.count(), 1, 'Cancel keeps it');
    await doomed.getByRole('button', { name: /^Delete/ }).click();
    await ask.getByRole('button', { name: 'Delete restore point' }).click();
    await doomed.waitFor({ state: 'detached', timeout: 15_000 });
    assert.equal((await points()).points.some((p) => p.id === undo), false, 'the box no longer lists it');

    // The page, light and dark, for people to look at; no sideways scroll on a phone.
    await screenshot(page, 'restore-points-light');
    const dark = await newPage(browser, { session: owner, colorScheme: 'dark' });
    try {
      await dark.page.goto(`${stack.baseUrl}/restore-points`);
      await row(dark.page, pointId).waitFor({ timeout: 15_000 });
      await screenshot(dark.page, 'restore-points-dark');
      await dark.page.setViewportSize({ width: 360, height: 740 });
      const o = await horizontalOverflow(dark.page);
      assert.ok(o.scrollWidth <= o.clientWidth, `no horizontal scroll at 360px: ${JSON.stringify(o)}`);
      await screenshot(dark.page, 'restore-points-dark-phone');
      assert.deepEqual(dark.problems, [], 'no console errors or failed requests (dark)');
    } finally {
      await dark.context.close();
    }
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});

test('restore points: an operator sees the timeline but cannot restore or reset', async () => {
  const made = await apiCall(stack.baseUrl, 'POST', '/api/v1/users', { session: owner, body: OPERATOR });
  assert.equal(made.status, 201, made.text);
  const list = await points();
  const point = list.points.find((p) => p.source === 'keepsake' && p.state === 'complete');
  assert.ok(point, 'the first test left a point');

  const { page, context, problems } = await newPage(browser);
  try {
    await page.goto(`${stack.baseUrl}/restore-points`);
    await page.getByTestId('sign-in-page').waitFor({ timeout: 15_000 });
    await signInWithPassword(page, OPERATOR.name, OPERATOR.password);
    await page.getByRole('heading', { name: 'Restore points', level: 1 }).waitFor({ timeout: 15_000 });
    await row(page, point.id).waitFor({ timeout: 15_000 });

    // What an operator may do (restore_points.manage) is there; restoring and resetting are not.
    assert.equal(await page.getByTestId('create-card').count(), 1, 'an operator can make points');
    assert.ok((await row(page, point.id).getByRole('button', { name: /^(Pin|Unpin)/ }).count()) === 1, 'and pin them');
    assert.equal(await page.getByRole('button', { name: /^Restore…/ }).count(), 0, 'no Restore button on any point');
    assert.equal(await page.getByTestId('restore-wizard').count(), 0, 'no restore wizard');
    assert.equal(await page.getByTestId('reset-card').count(), 0, 'no reset section');
    assert.equal(await page.getByRole('button', { name: /Reset Immich/ }).count(), 0);
    await screenshot(page, 'restore-points-operator');

    // And the agent, which decides, refuses.
    const operator = { baseUrl: stack.baseUrl, cookie: (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ') };
    const id = encodeURIComponent(point.id);
    for (const [p, body] of [
      [`/api/v1/restore-points/${id}/plan`, { scope: 'instance' }],
      [`/api/v1/restore-points/${id}/restore`, { scope: 'instance', confirm: 'anything' }],
      ['/api/v1/instance/reset', { confirm: 'reset everything' }],
      ['/api/v1/instance/reset/undo', { confirm: 'undo reset' }],
    ]) {
      const r = await apiCall(stack.baseUrl, 'POST', p, { session: operator, body });
      assert.equal(r.status, 403, `POST ${p} as an operator: ${r.status} ${r.text}`);
      assert.equal(r.body?.code, 'auth.permission_missing', `POST ${p}: ${r.text}`);
    }
    // While the same routes are there for the owner (the plan changes nothing).
    const plan = await apiCall(stack.baseUrl, 'POST', `/api/v1/restore-points/${id}/plan`, { session: owner, body: { scope: point.scopes[0] } });
    assert.equal(plan.status, 200, plan.text);
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});

test('restore points: the owner resets Immich to empty, then undoes it from the banner', async () => {
  const { page, context, problems } = await newPage(browser, { session: owner });
  try {
    const photosBefore = photoNames();
    const assetsBefore = rows('asset');
    assert.ok(photosBefore.length > 0 && assetsBefore > 0, 'there is something to reset');
    await page.goto(`${stack.baseUrl}/restore-points`);
    const card = page.getByTestId('reset-card');
    await card.waitFor({ timeout: 15_000 });
    assert.match((await card.textContent()) ?? '', /pre-reset point/, 'the card says a pre-reset point is made first');
    assert.equal(await page.getByTestId('undo-reset').count(), 0, 'no undo banner before a reset');

    await card.getByRole('button', { name: 'Reset Immich…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Reset Immich to empty?' });
    await dialog.waitFor();
    const go = dialog.getByRole('button', { name: 'Reset Immich', exact: true });
    assert.equal(await go.isDisabled(), true, 'disabled before the phrase is typed');
    await dialog.getByLabel('Type reset everything to confirm').fill('reset');
    assert.equal(await go.isDisabled(), true);
    await dialog.getByLabel('Type reset everything to confirm').fill('reset everything');
    await go.click();
    await dialog.waitFor({ state: 'hidden' });

    // The job ends, the timeline is read again, and the banner offers the undo.
    const banner = page.getByTestId('undo-reset');
    await banner.waitFor({ timeout: 180_000 });
    assert.match((await banner.textContent()) ?? '', /Immich was reset on .*It can be undone until/s);
    assert.deepEqual(photoNames(), [], 'the library is empty');
    assert.equal(Number(psql(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`)), 0, 'the database is empty');
    const list = await points();
    assert.ok(list.undo_reset, 'the box says the reset can be undone');
    assert.equal(list.points.find((p) => p.id === list.undo_reset.point_id)?.kind, 'pre_reset');
    await screenshot(page, 'restore-points-reset');

    await banner.getByRole('button', { name: 'Undo reset…' }).click();
    const undo = page.getByRole('dialog', { name: 'Undo the reset?' });
    await undo.getByLabel('Type undo reset to confirm').fill('undo reset');
    await undo.getByRole('button', { name: 'Undo reset', exact: true }).click();
    await banner.waitFor({ state: 'detached', timeout: 180_000 });
    assert.equal((await points()).undo_reset ?? null, null, 'nothing left to undo');
    assert.deepEqual(photoNames(), photosBefore, 'the photos are back');
    assert.equal(rows('asset'), assetsBefore, 'the rows are back');
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});
