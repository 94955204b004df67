// Identity 6) a wrong password six times on the sign-in page: the box slows sign-in down, and the
// page says so with the box's message (how long to wait).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { OWNER, createOwner, launchBrowser, newPage, screenshot, signInWithPassword, startStack } from './harness.mjs';

let stack;
let browser;

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  await createOwner(stack.baseUrl);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('6) six wrong passwords show the backoff message', async () => {
  const { page, context } = await newPage(browser);
  try {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByTestId('sign-in-page').waitFor({ timeout: 15_000 });
    const banner = page.getByRole('alert');
    const codes = [];
    for (let i = 1; i <= 6; i++) {
      const before = await banner.count();
      await signInWithPassword(page, OWNER.name, `wrong password ${i}`);
      // Wait for this attempt's answer (the button is busy while it is asked).
      await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
      await page.waitForFunction(() => !document.querySelector('[data-testid="sign-in-page"] button[type="submit"]')?.disabled);
      await banner.first().waitFor();
      assert.ok((await banner.count()) >= Math.min(before, 1));
      codes.push(await page.locator('.banner[data-code]').getAttribute('data-code'));
      if (i === 1) {
        assert.match((await banner.textContent()) ?? '', /That did not work/);
        await screenshot(page, 'sign-in-wrong-password');
      }
    }
    assert.deepEqual(codes.slice(0, 5), Array(5).fill('auth.bad_credentials'), `the first five are plain refusals: ${codes}`);
    assert.equal(codes[5], 'auth.too_many_attempts', `the sixth is the backoff: ${codes}`);
    const text = (await banner.textContent()) ?? '';
    assert.match(text, /Please wait before trying again/);
    assert.match(text, /try again in \d+ seconds/, `says how long to wait: ${text}`);
    await screenshot(page, 'sign-in-backoff');

    // Even the right password must wait now.
    await signInWithPassword(page, OWNER.name, OWNER.password);
    await page.waitForFunction(() => !document.querySelector('[data-testid="sign-in-page"] button[type="submit"]')?.disabled);
    assert.equal(await page.locator('.banner[data-code]').getAttribute('data-code'), 'auth.too_many_attempts');
    assert.equal(await page.getByTestId('agent-version').count(), 0, 'still not signed in');
  } finally {
    await context.close();
  }
});
