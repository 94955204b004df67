// Identity on a phone (360px): the setup, sign-in, My account, Users, Audit log and Settings pages
// have no sideways scrolling, and their navigation entries are in the folded menu.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { OWNER, apiCall, createOwner, horizontalOverflow, newPage, screenshot, useStack } from './harness.mjs';

let stack;
let browser;
useStack((s) => ({ stack, browser } = s), { owner: false });

async function noSidewaysScroll(page, what) {
  const o = await horizontalOverflow(page);
  assert.ok(o.scrollWidth <= o.clientWidth, `${what}: no horizontal scroll at 360px: ${JSON.stringify(o)}`);
}

test('the identity pages fit a 360px phone', async () => {
  // Setup and sign-in pages, before anyone exists.
  const anon = await newPage(browser, { width: 360, height: 740 });
  try {
    await anon.page.goto(`${stack.baseUrl}/`);
    await anon.page.getByTestId('setup-page').waitFor({ timeout: 15_000 });
    await noSidewaysScroll(anon.page, 'setup');
    await screenshot(anon.page, 'mobile-setup');
  } finally {
    await anon.context.close();
  }

  const owner = await createOwner(stack.baseUrl);
  // Something to show on the pages: another person, a group, a secret.
  await apiCall(stack.baseUrl, 'POST', '/api/v1/users', {
    session: owner,
    body: { name: 'grandma.rose', display_name: 'Grandma Rose with a rather long display name', password: 'long enough pw', role: 'operator', groups: [] },
  });
  await apiCall(stack.baseUrl, 'PUT', '/api/v1/secrets/tunnel_token', { session: owner, body: { value: 'x'.repeat(40) } });

  const signedOut = await newPage(browser, { width: 360, height: 740 });
  try {
    await signedOut.page.goto(`${stack.baseUrl}/`);
    await signedOut.page.getByTestId('sign-in-page').waitFor({ timeout: 15_000 });
    await noSidewaysScroll(signedOut.page, 'sign-in');
    await screenshot(signedOut.page, 'mobile-sign-in');
  } finally {
    await signedOut.context.close();
  }

  const { page, context, problems } = await newPage(browser, { width: 360, height: 740, session: owner });
  try {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByTestId('agent-version').waitFor({ timeout: 15_000 });
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.click();
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const name of ['Home', 'Users', 'Audit log', 'Settings']) {
      assert.ok(await nav.getByRole('link', { name }).isVisible(), `${name} is in the phone menu`);
    }
    await page.getByTestId('user-menu-button').click();
    assert.ok(await page.getByRole('link', { name: 'My account' }).isVisible(), 'the user menu works in the phone menu');
    await noSidewaysScroll(page, 'open menus');
    await screenshot(page, 'mobile-menu-signed-in');

    for (const [path, ready, shot] of [
      ['/account', 'sessions-section', 'mobile-account'],
      ['/users', 'users-table', 'mobile-users'],
      ['/audit', 'audit-table', 'mobile-audit'],
      ['/settings', 'secrets-list', 'mobile-settings'],
    ]) {
      await page.goto(`${stack.baseUrl}${path}`);
      await page.getByTestId(ready).waitFor({ timeout: 15_000 });
      await noSidewaysScroll(page, path);
      await screenshot(page, shot);
    }

    // The authenticator set-up step (QR code and key) fits too.
    await page.goto(`${stack.baseUrl}/account`);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.getByTestId('totp-secret').waitFor();
    await noSidewaysScroll(page, 'authenticator set-up');
    await screenshot(page, 'mobile-account-totp');
    assert.equal(OWNER.name, 'owner');
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});
