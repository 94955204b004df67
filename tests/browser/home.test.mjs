// a) the home page shows live agent status; b) "Check this box" runs a self-check with progress.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  FACILITY_KINDS,
  createOwner,
  eventually,
  getJson,
  launchBrowser,
  newPage,
  screenshot,
  sleep,
  startStack,
} from './harness.mjs';

const STATE_LABELS = { ok: 'Working', degraded: 'Needs attention', missing: 'Not found' };

function expectedSummary(report) {
  if (report.problems === 0) return `All ${report.checks.length} checks passed`;
  return report.problems === 1 ? '1 thing needs attention' : `${report.problems} things need attention`;
}

/** The rows of a facility list: kind, state, label, badge text, remedy text. */
async function readFacilityRows(list) {
  return list.locator('li.facility').evaluateAll((els) =>
    els.map((li) => ({
      kind: li.getAttribute('data-kind'),
      state: li.getAttribute('data-state'),
      name: li.querySelector('.name')?.textContent?.trim() ?? '',
      badge: li.querySelector('.badge')?.textContent?.replace(/\s+/g, ' ').trim() ?? '',
      badgeState: li.querySelector('.badge')?.getAttribute('data-state') ?? '',
      detail: li.querySelector('.detail')?.textContent?.trim() ?? '',
      remedy: li.querySelector('.remedy')?.textContent?.trim() ?? null,
    })),
  );
}

function assertRowsMatch(rows, facilities, what) {
  assert.deepEqual(
    rows.map((r) => r.kind),
    facilities.map((f) => f.kind),
    `${what}: the page lists the facilities the API reports, in order`,
  );
  for (const [i, f] of facilities.entries()) {
    const r = rows[i];
    assert.equal(r.state, f.state, `${what}: ${f.kind} state`);
    assert.equal(r.badgeState, f.state, `${what}: ${f.kind} badge state`);
    assert.match(r.badge, new RegExp(`${STATE_LABELS[f.state]}$`), `${what}: ${f.kind} badge says its state in words`);
    assert.equal(r.name, f.label, `${what}: ${f.kind} label`);
    assert.equal(r.detail, f.detail, `${what}: ${f.kind} detail`);
    if (f.remedy) assert.ok(r.remedy?.includes(f.remedy), `${what}: ${f.kind} shows its remedy`);
    else assert.equal(r.remedy, null, `${what}: ${f.kind} shows no remedy`);
  }
}

describe('home page', () => {
  let stack;
  let browser;
  let owner;

  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    // The box needs sign-in: create the owner and open each page with their session.
    owner = await createOwner(stack.baseUrl);
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  test('a) shows live agent status: version and all six facilities with a state badge', async () => {
    const status = await getJson(stack.baseUrl, '/api/v1/status', owner);
    assert.deepEqual(
      status.facilities.map((f) => f.kind),
      FACILITY_KINDS,
      'the agent reports the six facilities',
    );

    const { page, context, problems } = await newPage(browser, { session: owner });
    try {
      await page.goto(`${stack.baseUrl}/`);
      assert.equal(await page.title(), 'Keepsake');
      await assert.doesNotReject(page.getByRole('link', { name: 'Keepsake home' }).waitFor());

      const version = page.getByTestId('agent-version');
      await version.waitFor({ timeout: 15_000 });
      assert.equal((await version.textContent())?.trim(), status.version);

      const list = page.locator('.status-card ul.facilities');
      await list.waitFor();
      const rows = await readFacilityRows(list);
      assert.equal(rows.length, 6, 'six facilities are shown');
      assertRowsMatch(rows, status.facilities, 'status card');

      // The uptime ticks without reloading (its words change every second while under an hour).
      const uptime = page.getByTestId('agent-uptime');
      const first = (await uptime.textContent())?.trim() ?? '';
      const firstSeconds = Number(await uptime.getAttribute('data-seconds'));
      assert.match(first, /^\d+ (second|minute|hour|day)s?(, \d+ (second|minute|hour)s?)?$/);
      assert.ok(Math.abs(firstSeconds - status.uptime_seconds) <= 5, `uptime ${firstSeconds}s matches the API's ${status.uptime_seconds}s`);
      await eventually(async () => Number(await uptime.getAttribute('data-seconds')) >= firstSeconds + 2, {
        timeoutMs: 5000,
        message: `the uptime to tick (stayed at ${firstSeconds}s)`,
      });
      if (firstSeconds < 3000) {
        assert.notEqual((await uptime.textContent())?.trim(), first, 'the uptime words changed');
      }

      // The live connection is up and nothing is broken.
      await eventually(async () => (await page.locator('.live').getAttribute('data-mode')) === 'live', {
        timeoutMs: 10_000,
        message: 'the live event stream to connect',
      });
      assert.equal(await page.getByRole('alert').count(), 0, 'no error banner');
      await screenshot(page, 'home');
      assert.deepEqual(problems, [], 'no console errors or failed requests');
    } finally {
      await context.close();
    }
  });

  test('b) "Check this box" shows a progress bar, then the summary and each check', async () => {
    const { page, context, problems } = await newPage(browser, { session: owner });
    try {
      const [previous] = (await getJson(stack.baseUrl, '/api/v1/jobs?kind=host.self_check&limit=1', owner)).jobs;
      await page.goto(`${stack.baseUrl}/`);
      await page.getByTestId('agent-version').waitFor({ timeout: 15_000 });
      await eventually(async () => (await page.locator('.live').getAttribute('data-mode')) === 'live', {
        timeoutMs: 10_000,
        message: 'the live event stream to connect',
      });

      // Record every state the self-check progress bar is drawn in: the check may be quick.
      await page.evaluate(() => {
        const seen = [];
        window.__progressSeen = seen;
        const record = () => {
          for (const el of document.querySelectorAll('[data-testid="selfcheck-progress"] progress')) {
            const block = el.closest('[data-testid="selfcheck-progress"]');
            seen.push({
              label: el.getAttribute('aria-label'),
              max: el.max,
              value: el.value,
              indeterminate: el.position === -1,
              text: block?.textContent?.replace(/\s+/g, ' ').trim() ?? '',
              jobId: block?.getAttribute('data-job-id'),
            });
          }
        };
        new MutationObserver(record).observe(document.body, {
          subtree: true,
          childList: true,
          attributes: true,
          characterData: true,
        });
      });

      const button = page.getByRole('button', { name: 'Check this box' });
      await button.click();

      // Best effort picture of the running state (it may already be over).
      const progress = page.getByTestId('selfcheck-progress');
      if (await progress.waitFor({ timeout: 3000 }).then(() => true, () => false)) {
        await screenshot(page, 'selfcheck-running').catch(() => {});
      }

      const job = await eventually(
        async () => {
          const [j] = (await getJson(stack.baseUrl, '/api/v1/jobs?kind=host.self_check&limit=1', owner)).jobs;
          return j && (!previous || j.id > previous.id) ? j : null;
        },
        { message: 'a new host.self_check job in the API' },
      );

      const result = page.locator(`[data-testid="selfcheck-result"][data-job-id="${job.id}"]`);
      await result.waitFor({ timeout: 60_000 });

      const seen = await page.evaluate(() => window.__progressSeen);
      assert.ok(seen.length > 0, 'a progress bar was shown while the check ran');
      assert.ok(
        seen.every((s) => s.label === 'Box self-check' && String(s.jobId) === String(job.id)),
        `the progress bar belongs to this check: ${JSON.stringify(seen.slice(0, 3))}`,
      );
      assert.ok(
        seen.every((s) => s.indeterminate || (s.max > 0 && s.value >= 0 && s.value <= s.max)),
        `progress values are sane: ${JSON.stringify(seen.slice(0, 5))}`,
      );

      const done = await getJson(stack.baseUrl, `/api/v1/jobs/${job.id}`, owner);
      assert.equal(done.state, 'succeeded', `the self-check job succeeded: ${JSON.stringify(done.error)}`);
      assert.equal(done.result.kind, 'host.self_check', 'the result says what it is');
      const report = done.result.report;
      assert.equal(report.checks.length, 6, 'the report has six checks');
      assert.equal(
        report.problems,
        report.checks.filter((c) => c.state !== 'ok').length,
        'problems counts the checks that are not ok',
      );

      const summary = (await page.getByTestId('selfcheck-summary').textContent())?.trim();
      assert.equal(summary, expectedSummary(report));
      assert.match(summary ?? '', /^(All 6 checks passed|1 thing needs attention|[2-6] things need attention)$/);

      const rows = await readFacilityRows(result.locator('ul.facilities'));
      assert.equal(rows.length, 6, 'each check is listed');
      assertRowsMatch(rows, report.checks, 'self-check result');

      // The button is usable again, and the job shows as done in the activity list.
      await eventually(() => button.isEnabled(), { timeoutMs: 5000, message: 'the button to be enabled again' });
      const finishedRow = page.locator(`[data-testid="finished-jobs"] li[data-job-id="${job.id}"]`);
      await finishedRow.waitFor({ timeout: 5000 });
      assert.equal(await finishedRow.getAttribute('data-state'), 'succeeded');
      assert.match((await finishedRow.locator('.badge').textContent()) ?? '', /Done/);

      await sleep(200);
      await screenshot(page, 'selfcheck-done');

      // After a reload the most recent result is shown straight away.
      await page.reload();
      await page.locator(`[data-testid="selfcheck-result"][data-job-id="${job.id}"]`).waitFor({ timeout: 15_000 });
      assert.equal((await page.getByTestId('selfcheck-summary').textContent())?.trim(), expectedSummary(report));
      assert.deepEqual(problems, [], 'no console errors or failed requests');
    } finally {
      await context.close();
    }
  });
});
