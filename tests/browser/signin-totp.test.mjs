// Identity 1) first run and two-step sign-in: on a fresh box, the owner is created on the Setup
// page; they turn on an authenticator app on My account (the code is computed here with RFC 6238),
// save their recovery codes, sign out, and sign in again with password + code.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { OWNER, apiCall, freshTotp, newPage, screenshot, signInWithPassword, signOutInPage, totp, useStack } from './harness.mjs';

let stack;
let browser;
useStack((s) => ({ stack, browser } = s), { owner: false });

test('the TOTP helper matches the RFC 6238 test vectors (SHA-1)', () => {
  // RFC 6238 appendix B: the ASCII secret "12345678901234567890", 8 digits.
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  assert.equal(totp(secret, 59_000, { digits: 8 }), '94287082');
  assert.equal(totp(secret, 1_111_111_109_000, { digits: 8 }), '07081804');
  assert.equal(totp(secret, 1_234_567_890_000, { digits: 8 }), '89005924');
  assert.equal(totp(secret, 20_000_000_000_000, { digits: 8 }), '65353130');
  assert.equal(totp(secret, 59_000), '287082', '6 digits are the last six');
});

test('1) setup page → owner; TOTP on My account; sign out; sign in with password and code', async () => {
  const state = await apiCall(stack.baseUrl, 'GET', '/api/v1/auth/state');
  assert.equal(state.body.setup_required, true, 'a fresh box needs setup');

  const { page, context, problems } = await newPage(browser);
  try {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByTestId('setup-page').waitFor({ timeout: 15_000 });
    await screenshot(page, 'setup');

    // The page checks the form before asking the box, and says what to change.
    await page.getByLabel('Name to sign in with').fill('Anna Smith');
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Create the owner account' }).click();
    const alerts = page.getByRole('alert');
    await alerts.first().waitFor();
    const words = (await alerts.allTextContents()).join(' ');
    assert.match(words, /lowercase/i, `the name problem is explained: ${words}`);
    assert.match(words, /at least 10 characters/, `the password problem is explained: ${words}`);
    assert.equal(await page.getByLabel('Name to sign in with').getAttribute('aria-invalid'), 'true');
    await screenshot(page, 'setup-errors');

    await page.getByLabel('Name to sign in with').fill(OWNER.name);
    await page.getByLabel('Your name as others see it').fill(OWNER.display_name);
    await page.getByLabel('Password', { exact: true }).fill(OWNER.password);
    await page.getByLabel('Password again').fill(OWNER.password);
    await page.getByRole('button', { name: 'Create the owner account' }).click();

    // Straight into the dashboard, signed in.
    await page.getByTestId('agent-version').waitFor({ timeout: 15_000 });
    assert.match((await page.getByTestId('user-menu-button').textContent()) ?? '', /Olivia Owner/);
    const again = await apiCall(stack.baseUrl, 'GET', '/api/v1/auth/state');
    assert.equal(again.body.setup_required, false, 'setup happens only once');

    // My account, through the user menu.
    await page.getByTestId('user-menu-button').click();
    await page.getByRole('link', { name: 'My account' }).click();
    await page.waitForURL('**/account');
    await page.getByRole('heading', { name: 'My account' }).waitFor();
    await screenshot(page, 'account');

    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const secretEl = page.getByTestId('totp-secret');
    await secretEl.waitFor();
    const secret = ((await secretEl.textContent()) ?? '').trim();
    assert.match(secret, /^[A-Z2-7]{16,}=*$/, `a base32 secret is shown as text: ${secret}`);
    const qr = await page.getByRole('img', { name: /QR code/ }).getAttribute('src');
    assert.match(qr ?? '', /^data:image\/png;base64,/, 'the QR code is shown as an image');
    await screenshot(page, 'account-totp-setup');

    // A malformed code is caught before asking the box, with a message; the page stays on the step.
    await page.locator('#totp-code').fill('12345');
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.locator('#totp-code-error').waitFor();

    await page.locator('#totp-code').fill(await freshTotp(secret));
    await page.getByRole('button', { name: 'Turn on' }).click();

    // Recovery codes: shown once; "Done" only after saying they are saved.
    const codes = page.getByTestId('recovery-codes').locator('li');
    await codes.first().waitFor({ timeout: 10_000 });
    assert.equal(await codes.count(), 10, 'ten recovery codes');
    const done = page.getByRole('button', { name: 'Done' });
    assert.equal(await done.isDisabled(), true, 'Done waits for "I have saved these codes"');
    await screenshot(page, 'account-recovery-codes');
    await page.getByLabel('I have saved these codes somewhere safe').check();
    await done.click();
    await page.getByTestId('recovery-codes').waitFor({ state: 'detached' });
    await page.getByTestId('recovery-left').waitFor();
    assert.match((await page.getByTestId('recovery-left').textContent()) ?? '', /10/);

    // Sign out, then back in: password first, then the code.
    await signOutInPage(page);
    await screenshot(page, 'sign-in');
    await signInWithPassword(page, OWNER.name, OWNER.password);
    await page.locator('[data-testid="sign-in-page"][data-step="second"]').waitFor({ timeout: 15_000 });
    await screenshot(page, 'sign-in-totp');
    await page.getByLabel('6-digit code from your authenticator app').fill(await freshTotp(secret));
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.getByTestId('agent-version').waitFor({ timeout: 15_000 });
    await page.locator('.status-card ul.facilities li.facility').first().waitFor();
    assert.equal(await page.locator('.status-card ul.facilities li.facility').count(), 6, 'home shows the status');
    await screenshot(page, 'signed-in-with-totp');
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});
