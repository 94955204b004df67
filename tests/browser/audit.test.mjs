// Identity 4) the Audit log page: sign-ins are listed, filtering by actor works, the CSV export
// downloads a file with a header row (of the filtered entries), and the chain check says intact.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';

import { OWNER, apiCall, createOwner, launchBrowser, newPage, screenshot, signInWithPassword, startStack } from './harness.mjs';

let stack;
let browser;

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  await createOwner(stack.baseUrl);
  // Someone else tries to sign in, and fails: a second actor in the log.
  const r = await apiCall(stack.baseUrl, 'POST', '/api/v1/auth/login', { body: { name: 'mallory', password: 'not the password' } });
  assert.equal(r.status, 401, `a wrong sign-in is refused: ${r.text}`);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const rows = (page) =>
  page.locator('[data-testid="audit-table"] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({ actor: tr.dataset.actor, action: tr.dataset.action, outcome: tr.dataset.outcome })),
  );

test('4) the audit page lists sign-ins, filters by actor, exports CSV, and verifies the chain', async () => {
  const { page, context, problems } = await newPage(browser);
  try {
    await page.goto(`${stack.baseUrl}/audit`);
    await page.getByTestId('sign-in-page').waitFor({ timeout: 15_000 });
    await signInWithPassword(page, OWNER.name, OWNER.password);
    // Signing in keeps the address asked for.
    await page.getByTestId('audit-table').waitFor({ timeout: 15_000 });

    let all = await rows(page);
    assert.ok(
      all.some((r) => r.actor === OWNER.name && r.action === 'auth.login' && r.outcome === 'ok'),
      `the owner's sign-in is listed: ${JSON.stringify(all)}`,
    );
    assert.ok(all.some((r) => r.actor === OWNER.name && r.action === 'auth.setup'), 'the first-run setup is listed');
    assert.ok(
      all.some((r) => r.actor === 'mallory' && r.action === 'auth.login' && r.outcome.startsWith('denied')),
      `the refused sign-in is listed: ${JSON.stringify(all)}`,
    );
    await screenshot(page, 'audit');

    await page.getByLabel('Who').fill('mallory');
    await page.getByRole('button', { name: 'Show', exact: true }).click();
    await page.getByTestId('audit-count').filter({ hasText: /^1 entry$/ }).waitFor({ timeout: 10_000 });
    const filtered = await rows(page);
    assert.deepEqual(filtered.map((r) => r.actor), ['mallory'], 'only mallory');
    await screenshot(page, 'audit-filtered');

    // CSV export of the same query: a download with a header row.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
    assert.equal(download.suggestedFilename(), 'keepsake-audit.csv');
    const csv = await readFile(await download.path(), 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    assert.equal(lines[0], 'id,at,actor,action,target,outcome,source,detail', 'a header row');
    assert.equal(lines.length, 2, `the filtered entry only: ${csv}`);
    assert.match(lines[1], /,mallory,auth\.login,/);
    assert.match(await page.getByTestId('export-json').getAttribute('href'), /format=json/);

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="audit-table"] tbody tr').length > 1);
    all = await rows(page);
    assert.ok(all.length >= 3, 'all entries again');

    await page.getByRole('button', { name: 'Check the log' }).click();
    const verdict = page.getByTestId('verify-result');
    await verdict.waitFor({ timeout: 10_000 });
    assert.equal(await verdict.getAttribute('data-ok'), 'true');
    assert.match((await verdict.textContent()) ?? '', /The log is intact\. All \d+ entries were checked/);
    await screenshot(page, 'audit-verified');
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});
