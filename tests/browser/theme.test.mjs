// d) switching the theme to dark changes the page colours, and the choice survives a reload.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { newPage, screenshot, useStack } from './harness.mjs';

let stack;
let browser;
let owner;
useStack((s) => ({ stack, browser, owner } = s));

/** Relative luminance (0 black .. 1 white) of a CSS rgb()/rgba() colour. */
function luminance(css) {
  const m = css.match(/rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/);
  assert.ok(m, `a colour: ${css}`);
  const [r, g, b] = m.slice(1, 4).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

const background = (page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);

test('d) the dark theme changes the background and persists across reload', async () => {
  const { page, context, problems } = await newPage(browser, { colorScheme: 'light', session: owner });
  try {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByTestId('agent-version').waitFor({ timeout: 15_000 });

    const light = await background(page);
    assert.ok(luminance(light) > 0.5, `light to start with: ${light}`);
    assert.ok(await page.getByRole('radio', { name: 'System' }).isChecked(), 'system is the default');

    await page.getByRole('radio', { name: 'Dark' }).check();
    const dark = await background(page);
    assert.notEqual(dark, light, 'the background colour changed');
    assert.ok(luminance(dark) < 0.1, `dark now: ${dark}`);
    assert.equal(await page.evaluate(() => localStorage.getItem('keepsake.theme')), 'dark');
    await screenshot(page, 'theme-dark');

    await page.reload();
    await page.getByTestId('agent-version').waitFor({ timeout: 15_000 });
    assert.equal(await background(page), dark, 'still dark after a reload');
    assert.ok(await page.getByRole('radio', { name: 'Dark' }).isChecked(), 'the Dark choice is still selected');
    await screenshot(page, 'theme-dark-reloaded');

    // "System" follows the device's setting, live.
    await page.getByRole('radio', { name: 'System' }).check();
    assert.equal(await background(page), light, 'system + light device = light');
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await background(page), dark, 'system + dark device = dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.getByRole('radio', { name: 'Light' }).check();
    assert.equal(await background(page), light);
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await background(page), light, 'an explicit Light choice ignores the device');
    await screenshot(page, 'theme-light');
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});
