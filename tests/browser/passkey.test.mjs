// Identity 2) passkeys with Chromium's virtual authenticator (DevTools protocol): the owner adds a
// passkey on My account, signs out, and signs in again with only their name and the passkey.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { OWNER, apiCall, newPage, screenshot, signInWithPassword, signOutInPage, useStack } from './harness.mjs';

let stack;
let browser;
let owner;
useStack((s) => ({ stack, browser, owner } = s));

test('2) add a passkey on My account, then sign in with name + passkey', async () => {
  const { page, context, problems } = await newPage(browser, { session: owner });
  try {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
      },
    });

    await page.goto(`${stack.baseUrl}/account`);
    const section = page.getByTestId('passkeys-section');
    await section.getByText('You have no passkeys yet.').waitFor({ timeout: 15_000 });

    await page.getByLabel('Name for the new passkey').fill('Test laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    const list = page.getByTestId('passkey-list');
    await list.locator('strong', { hasText: 'Test laptop' }).waitFor({ timeout: 15_000 });
    await section.getByRole('status').filter({ hasText: 'Passkey “Test laptop” added.' }).waitFor();
    await screenshot(page, 'account-passkey-added');

    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1, 'the virtual authenticator holds one credential');
    const keys = await apiCall(stack.baseUrl, 'GET', '/api/v1/me/passkeys', { session: owner });
    assert.deepEqual(keys.body.passkeys.map((k) => k.name), ['Test laptop'], 'the box stored the passkey');

    // The remove button asks first; cancelling keeps the passkey.
    await list.getByRole('button', { name: 'Remove Test laptop' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove this passkey?' });
    await dialog.waitFor();
    await screenshot(page, 'account-passkey-remove-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await list.locator('strong', { hasText: 'Test laptop' }).count(), 1, 'still there after Cancel');

    await signOutInPage(page);
    await page.getByLabel('Name', { exact: true }).fill(OWNER.name);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.getByTestId('agent-version').waitFor({ timeout: 15_000 });
    assert.equal(new URL(page.url()).pathname, '/', 'home after signing in');
    await screenshot(page, 'signed-in-with-passkey');

    const used = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.ok(used.credentials[0].signCount >= 1, 'the passkey signed the sign-in');
    const me = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
    assert.equal(me.name, OWNER.name, 'signed in as the owner');

    // The passkey as the second factor: with a passkey on the account, a password alone is not
    // enough; the next step asks for the passkey (and no 6-digit code, since there is no app).
    await signOutInPage(page);
    await signInWithPassword(page, OWNER.name, OWNER.password);
    await page.getByRole('heading', { name: 'One more step' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.getByLabel('6-digit code from your authenticator app').count(), 0, 'no code field');
    // (Through Playwright's request API: same cookies, and an expected 401 is no console error.)
    const pending = await page.request.get(`${stack.baseUrl}/api/v1/me`);
    assert.equal(pending.status(), 401, 'the password alone grants nothing');
    await screenshot(page, 'sign-in-passkey-second-factor');
    await page.getByRole('button', { name: 'Use my passkey' }).click();
    await page.getByTestId('agent-version').waitFor({ timeout: 15_000 });
    const after2fa = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.ok(after2fa.credentials[0].signCount > used.credentials[0].signCount, 'the passkey signed again');
    const me2 = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
    assert.equal(me2.name, OWNER.name, 'signed in after password + passkey');
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});
