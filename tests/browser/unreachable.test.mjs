// g) when the agent stops answering, the page says so plainly and offers to try again; the page
// recovers by itself once the agent is back.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { newPage, screenshot, useStack } from './harness.mjs';

let stack;
let browser;
let owner;
useStack((s) => ({ stack, browser, owner } = s));

test('g) an unreachable agent shows an error banner with a retry button', async () => {
  const { page, context } = await newPage(browser, { session: owner });
  try {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByTestId('agent-version').waitFor({ timeout: 15_000 });
    assert.equal(await page.getByRole('alert').count(), 0, 'no banner while all is well');

    // Stop the agent; the web server stays up and answers /api/ with an error.
    stack.agent.child.kill('SIGTERM');
    await stack.agent.exited;

    await page.reload();
    const banner = page.getByRole('alert').filter({ hasText: "Can't reach your Keepsake box" });
    await banner.waitFor({ timeout: 15_000 });
    const text = (await banner.textContent()) ?? '';
    assert.ok(text.length > 40, `the banner explains what happened: ${text}`);
    const retry = banner.getByRole('button', { name: 'Try again' });
    assert.ok(await retry.isVisible(), 'the banner has a retry button');
    await screenshot(page, 'unreachable');

    await retry.click();
    await banner.waitFor({ timeout: 15_000 });
  } finally {
    await context.close();
  }
});
