// Identity 5) Settings → Security: a secret is saved write-only (the page shows "Set", and the value
// appears nowhere in the page afterwards); the security settings are checked and saved; removing a
// secret asks first.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { apiCall, newPage, screenshot, useStack } from './harness.mjs';

let stack;
let browser;
let owner;
useStack((s) => ({ stack, browser, owner } = s));

test('5) set a secret: shown as set, its value nowhere in the page; security settings save', async () => {
  const { page, context, problems } = await newPage(browser, { session: owner });
  const value = `smtp-${randomBytes(12).toString('hex')}`;
  try {
    await page.goto(`${stack.baseUrl}/settings`);
    const item = page.locator('[data-secret="smtp_password"]');
    await item.waitFor({ timeout: 15_000 });
    assert.equal(await item.getAttribute('data-set'), 'false');
    assert.equal((await item.getByTestId('secret-state').textContent())?.trim(), 'Not set');
    await screenshot(page, 'settings');

    const input = item.getByLabel('Value for smtp_password', { exact: true });
    assert.equal(await input.getAttribute('type'), 'password', 'typed out of sight');
    await input.fill(value);
    await item.getByRole('button', { name: 'Save smtp_password' }).click();
    await page.locator('[data-secret="smtp_password"][data-set="true"]').waitFor({ timeout: 10_000 });
    assert.equal((await item.getByTestId('secret-state').textContent())?.trim(), 'Set');
    await item.getByRole('status').waitFor();

    // Write-only: the field is cleared, and the value is nowhere in the page.
    assert.equal(await item.getByLabel('New value for smtp_password').inputValue(), '', 'the field is cleared');
    const html = await page.content();
    assert.ok(!html.includes(value), 'the value is not in the page HTML');
    const everyField = await page.evaluate(() => [...document.querySelectorAll('input, textarea')].map((e) => e.value).join('\n'));
    assert.ok(!everyField.includes(value), 'nor in any field');
    const list = await apiCall(stack.baseUrl, 'GET', '/api/v1/secrets', { session: owner });
    assert.ok(!list.text.includes(value), 'the API never returns it either');
    assert.equal(list.body.secrets.find((s) => s.name === 'smtp_password').set, true);
    await screenshot(page, 'settings-secret-set');

    // Security settings: checked on the page, then saved.
    const days = page.getByLabel('Keep the audit log for (days)');
    await days.fill('10');
    await page.getByRole('button', { name: 'Save security settings' }).click();
    await page.locator('#retention-error[role="alert"]').waitFor();
    assert.match((await page.locator('#retention-error').textContent()) ?? '', /at least 30 days/);
    await days.fill('400');
    await page.getByRole('button', { name: 'Save security settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).first().waitFor();
    const sec = await apiCall(stack.baseUrl, 'GET', '/api/v1/settings/security', { session: owner });
    assert.equal(sec.body.audit_retention_days, 400);

    // Removing asks first.
    await item.getByRole('button', { name: 'Remove smtp_password' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove the secret “smtp_password”?' });
    await dialog.waitFor();
    await screenshot(page, 'settings-secret-remove-confirm');
    await dialog.getByRole('button', { name: 'Remove secret' }).click();
    await page.locator('[data-secret="smtp_password"][data-set="false"]').waitFor({ timeout: 10_000 });
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});
