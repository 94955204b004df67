// f) `./install.sh --local --port P` starts Keepsake on this machine and prints its address; on a
// fresh state the page there asks for first-run setup; once the owner is created in the page, it
// shows live agent status; `./install.sh --local --stop` stops it again.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { OWNER, freePort, getJson, launchBrowser, newPage, repoRoot, screenshot, sleep } from './harness.mjs';

// install.sh may build the agent and the frontend first: allow for a slow first build.
const START_TIMEOUT_MS = Number(process.env.KEEPSAKE_INSTALL_TIMEOUT_MS ?? 20 * 60_000);

test('f) install.sh --local serves a working dashboard and --stop stops it', { timeout: START_TIMEOUT_MS + 120_000 }, async () => {
  const script = path.join(repoRoot, 'install.sh');
  assert.ok(existsSync(script), `${script} exists`);

  const localDir = mkdtempSync(path.join(os.tmpdir(), 'keepsake-local-'));
  const env = { ...process.env, KEEPSAKE_LOCAL_DIR: localDir };
  const port = await freePort();

  const child = spawn(script, ['--local', '--port', String(port)], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = [];
  let url = null;
  let urlSeen;
  const urlFound = new Promise((resolve) => (urlSeen = resolve));
  const onData = (chunk) => {
    for (const line of String(chunk).split('\n')) {
      out.push(line);
      const m = line.match(/http:\/\/127\.0\.0\.1:(\d+)\/\S*/);
      if (m && !url) {
        url = m[0];
        urlSeen(url);
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', (c) => out.push(...String(c).split('\n')));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

  let browser;
  try {
    let timer;
    const first = await Promise.race([
      urlFound.then(() => 'url'),
      exited.then((e) => `exit ${e.code ?? e.signal}`),
      new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), START_TIMEOUT_MS))),
    ]);
    clearTimeout(timer); // a pending timer would keep this test file's process alive
    // The script may print the address as its last line and exit: give stdout a moment.
    if (first !== 'url') await sleep(200);
    assert.ok(url, `install.sh printed http://127.0.0.1:${port}/ (${first}). Output:\n${out.join('\n')}`);
    assert.ok(
      out.some((l) => l.includes(`http://localhost:${port}/`)),
      `install.sh mentions http://localhost:${port}/ for passkeys. Output:\n${out.join('\n')}`,
    );
    assert.equal(new URL(url).port, String(port), `the printed address uses the asked-for port: ${url}`);
    const base = new URL(url).origin;

    const health = await getJson(base, '/api/v1/health');
    assert.equal(health.status, 'ok');

    // The state is private, as under the NixOS unit (StateDirectoryMode=0700, UMask=0077): the
    // database holds password hashes and the audit log.
    const mode = (p) => (statSync(path.join(localDir, p)).mode & 0o777).toString(8);
    assert.equal(mode('state'), '700', 'the state folder is 0700');
    assert.equal(mode('state/keepsake.db'), '600', 'keepsake.db is 0600');
    assert.equal(mode('logs'), '700', 'the log folder is 0700');
    assert.equal(mode('logs/agent.log'), '600', 'the agent log is 0600');
    const unsigned = await fetch(`${base}/api/v1/status`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(unsigned.status, 401, 'the status needs sign-in');

    browser = await launchBrowser();
    const { page, context, problems } = await newPage(browser);
    await page.goto(url);

    // A fresh box asks for its first account.
    await page.getByTestId('setup-page').waitFor({ timeout: 15_000 });
    await screenshot(page, 'install-local-setup');
    await page.getByLabel('Name to sign in with').fill(OWNER.name);
    await page.getByLabel('Your name as others see it').fill(OWNER.display_name);
    await page.getByLabel('Password', { exact: true }).fill(OWNER.password);
    await page.getByLabel('Password again').fill(OWNER.password);
    await page.getByRole('button', { name: 'Create the owner account' }).click();

    // The page's session (HttpOnly: read from the browser, not the page) also reads the API.
    const version = page.getByTestId('agent-version');
    await version.waitFor({ timeout: 15_000 });
    const cookie = (await context.cookies(base)).find((c) => c.name === 'keepsake_session');
    assert.ok(cookie?.httpOnly, 'the session cookie is HttpOnly');
    const status = await getJson(base, '/api/v1/status', { cookie: `${cookie.name}=${cookie.value}` });
    assert.equal((await version.textContent())?.trim(), status.version);
    const rows = page.locator('.status-card ul.facilities li.facility');
    assert.equal(await rows.count(), 6, 'six facilities are shown');
    for (let i = 0; i < 6; i++) {
      assert.equal(await rows.nth(i).locator('.badge').count(), 1, 'each facility has a state badge');
    }
    await screenshot(page, 'install-local');
    assert.deepEqual(problems, [], 'no console errors or failed requests');
    await context.close();
  } finally {
    await browser?.close();
    const stop = spawnSync(script, ['--local', '--stop'], { cwd: repoRoot, env, encoding: 'utf8', timeout: 60_000 });
    const stillRunning = child.exitCode === null && child.signalCode === null;
    if (stillRunning) {
      // A foreground install.sh should end once stopped; make sure it does.
      let t;
      const ended = await Promise.race([
        exited.then(() => true),
        new Promise((resolve) => (t = setTimeout(() => resolve(false), 10_000))),
      ]);
      clearTimeout(t);
      if (!ended) child.kill('SIGTERM');
    }
    rmSync(localDir, { recursive: true, force: true });
    assert.equal(stop.status, 0, `install.sh --local --stop succeeded:\n${stop.stdout}\n${stop.stderr}`);
  }

  // Once stopped, nothing answers on the port any more.
  const gone = await fetch(`http://127.0.0.1:${port}/api/v1/health`, { signal: AbortSignal.timeout(3000) }).then(
    () => false,
    () => true,
  );
  assert.ok(gone, `nothing answers on port ${port} after --stop`);
});
