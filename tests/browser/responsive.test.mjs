// c) at phone width (360px) the navigation folds into a menu button and nothing scrolls sideways.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { newPage, screenshot, useStack } from './harness.mjs';

let stack;
let browser;
let owner;
useStack((s) => ({ stack, browser, owner } = s));

async function horizontalOverflow(page) {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    bodyScrollWidth: document.body.scrollWidth,
  }));
}

test('c) at 360px the nav collapses into a menu and the page has no horizontal scroll', async () => {
  const { page, context, problems } = await newPage(browser, { width: 360, height: 740, session: owner });
  try {
    await page.goto(`${stack.baseUrl}/`);
    await page.locator('.status-card ul.facilities').waitFor({ timeout: 15_000 });

    const menu = page.getByRole('button', { name: 'Menu' });
    const home = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Home' });
    assert.ok(await menu.isVisible(), 'the menu button is shown');
    assert.equal(await menu.getAttribute('aria-expanded'), 'false');
    assert.equal(await home.isVisible(), false, 'the nav links are folded away');

    let o = await horizontalOverflow(page);
    assert.ok(o.scrollWidth <= o.clientWidth, `no horizontal scroll: ${JSON.stringify(o)}`);
    await screenshot(page, 'mobile');

    await menu.click();
    assert.equal(await menu.getAttribute('aria-expanded'), 'true');
    assert.ok(await home.isVisible(), 'the menu opens the nav');
    assert.ok(await page.getByText('Photos & updates').isVisible(), 'coming-soon entries are listed');
    assert.ok(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Backups' }).isVisible(), 'Backups is a page');
    assert.ok(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Restore points' }).isVisible(), 'Restore points is a page');
    assert.ok(await page.getByRole('radio', { name: 'Dark' }).isVisible(), 'the theme switch is in the menu');
    o = await horizontalOverflow(page);
    assert.ok(o.scrollWidth <= o.clientWidth, `no horizontal scroll with the menu open: ${JSON.stringify(o)}`);
    await screenshot(page, 'mobile-menu');

    await page.keyboard.press('Escape');
    assert.equal(await home.isVisible(), false, 'Escape closes the menu');

    // A finished self-check adds long text: still no sideways scroll.
    await page.getByRole('button', { name: 'Check this box' }).click();
    await page.getByTestId('selfcheck-result').waitFor({ timeout: 60_000 });
    o = await horizontalOverflow(page);
    assert.ok(o.scrollWidth <= o.clientWidth, `no horizontal scroll after a self-check: ${JSON.stringify(o)}`);
    await screenshot(page, 'mobile-selfcheck');

    // And at desktop width the nav is shown inline, without the menu button.
    await page.setViewportSize({ width: 1280, height: 900 });
    assert.equal(await menu.isVisible(), false, 'no menu button on a wide screen');
    assert.ok(await home.isVisible(), 'the nav is shown inline on a wide screen');
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});
