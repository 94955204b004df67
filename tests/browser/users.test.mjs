// Identity 3) the Users page: the owner creates a viewer (and a group, and deletes an account after
// typing its name); the viewer, signed in elsewhere, sees no Users/Audit/Settings entries, and those
// addresses say politely that they lack permission instead of breaking.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  apiCall,
  createOwner,
  launchBrowser,
  newPage,
  screenshot,
  signInWithPassword,
  startStack,
} from './harness.mjs';

let stack;
let browser;
let owner;

const VIEWER = { name: 'victor', display_name: 'Victor Viewer', password: 'viewer password 1' };

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  owner = await createOwner(stack.baseUrl);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function addPerson(page, { name, display_name, password, role }) {
  const form = page.getByTestId('new-user-form');
  await form.getByLabel('Name to sign in with').fill(name);
  await form.getByLabel('Name as others see it').fill(display_name);
  await form.getByLabel('First password').fill(password);
  await form.getByLabel('Role').selectOption(role);
  await form.getByRole('button', { name: 'Create account' }).click();
  await page.locator(`tr[data-user="${name}"]`).waitFor({ timeout: 10_000 });
}

test('3) create a viewer; the viewer sees only what they may, and a polite refusal elsewhere', async () => {
  const { page, context, problems } = await newPage(browser, { session: owner });
  try {
    await page.goto(`${stack.baseUrl}/`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.waitForURL('**/users');
    await page.getByTestId('users-table').waitFor({ timeout: 15_000 });

    await addPerson(page, { ...VIEWER, role: 'viewer' });
    const row = page.locator(`tr[data-user="${VIEWER.name}"]`);
    assert.equal((await row.locator('td.role').textContent())?.trim(), 'viewer');

    // A group, with its permissions chosen by area.
    await page.getByRole('button', { name: 'New group' }).click();
    const form = page.getByTestId('group-form');
    await form.getByLabel('Group name').fill('helpers');
    assert.ok((await form.locator('fieldset.area legend').count()) >= 5, 'permissions are grouped by area');
    await form.locator('fieldset.area', { hasText: 'jobs' }).getByLabel('jobs.cancel').check();
    await screenshot(page, 'users-group-form');
    await form.getByRole('button', { name: 'Save group' }).click();
    await page.getByTestId('groups-list').getByText('helpers', { exact: true }).waitFor();
    const groups = await apiCall(stack.baseUrl, 'GET', '/api/v1/groups', { session: owner });
    assert.deepEqual(groups.body.groups.map((g) => [g.name, g.permissions]), [['helpers', ['jobs.cancel']]]);

    // Deleting asks for the name to be typed first.
    await addPerson(page, { name: 'temp', display_name: 'Temporary', password: 'temporary pass', role: 'operator' });
    await page.getByRole('button', { name: 'Delete temp' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete the account “temp”?' });
    await dialog.waitFor();
    const confirm = dialog.getByRole('button', { name: 'Delete account' });
    assert.equal(await confirm.isDisabled(), true, 'not before the name is typed');
    await dialog.getByLabel('Type temp to confirm').fill('tem');
    assert.equal(await confirm.isDisabled(), true, 'not with a wrong name');
    await dialog.getByLabel('Type temp to confirm').fill('temp');
    await screenshot(page, 'users-delete-confirm');
    await confirm.click();
    await page.locator('tr[data-user="temp"]').waitFor({ state: 'detached' });
    await screenshot(page, 'users');
    const users = await apiCall(stack.baseUrl, 'GET', '/api/v1/users', { session: owner });
    assert.deepEqual(users.body.users.map((u) => u.name).sort(), ['owner', 'victor']);
    assert.deepEqual(problems, [], 'no console errors or failed requests (owner)');
  } finally {
    await context.close();
  }

  // The viewer, in a browser of their own, signs in on the sign-in page.
  const v = await newPage(browser);
  try {
    await v.page.goto(`${stack.baseUrl}/`);
    await v.page.getByTestId('sign-in-page').waitFor({ timeout: 15_000 });
    await signInWithPassword(v.page, VIEWER.name, VIEWER.password);
    await v.page.getByTestId('agent-version').waitFor({ timeout: 15_000 });

    const nav = v.page.getByRole('navigation', { name: 'Main' });
    assert.equal(await nav.getByRole('link', { name: 'Home' }).count(), 1, 'Home is there');
    for (const name of ['Users', 'Audit log', 'Settings']) {
      assert.equal(await nav.getByRole('link', { name }).count(), 0, `no ${name} entry for a viewer`);
    }
    assert.match((await v.page.getByTestId('user-menu-button').textContent()) ?? '', /Victor Viewer/);
    await screenshot(v.page, 'viewer-home');

    for (const [path, shot] of [['/users', 'viewer-users'], ['/audit', 'viewer-audit'], ['/settings', 'viewer-settings']]) {
      await v.page.goto(`${stack.baseUrl}${path}`);
      const refusal = v.page.getByTestId('no-permission');
      await refusal.waitFor({ timeout: 15_000 });
      assert.match((await refusal.textContent()) ?? '', /You don't have permission to see this page/, `${path} says so politely`);
      assert.equal(await v.page.getByRole('link', { name: 'Back to Home' }).count(), 1, `${path} offers a way back`);
      await screenshot(v.page, shot);
    }
    // The box agrees: the viewer really may not read these.
    const viewer = { baseUrl: stack.baseUrl, cookie: (await v.context.cookies(stack.baseUrl)).map((c) => `${c.name}=${c.value}`).join('; ') };
    for (const p of ['/api/v1/users', '/api/v1/audit', '/api/v1/settings/security']) {
      const r = await apiCall(stack.baseUrl, 'GET', p, { session: viewer });
      assert.equal(r.status, 403, `GET ${p} as a viewer: ${r.status} ${r.text}`);
    }
    assert.deepEqual(v.problems, [], 'no console errors or failed requests (viewer)');
  } finally {
    await v.context.close();
  }
});
