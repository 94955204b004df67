// Forgotten passwords end to end, against the real agent and a real SMTP server
// (tests/lab/smtp_sink.py): with an email channel and an address on the account, "Forgot your
// password?" mails a link; the link (its token in the fragment) sets a new password that signs in;
// the same link again says it was used; a link past its time says it expired. Without an email
// channel, the page gives the console command instead.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { apiCall, newPage, screenshot, signInWithPassword, useStack } from './harness.mjs';
import { linksIn, startSmtpSink } from './smtp-sink.mjs';

let stack;
let browser;
let owner;
useStack((s) => ({ stack, browser, owner } = s));

let sink;
before(async () => {
  sink = await startSmtpSink();
});
after(async () => {
  await sink?.stop();
});

const ANNA = { name: 'anna', display_name: 'Anna', password: 'first password 1', email: 'anna@example.org' };
const BEN = { name: 'ben', display_name: 'Ben', password: 'first password 2', role: 'viewer', email: 'ben@example.org' };

/** The reset link mailed to `to`, with the agent's --public-origin swapped for the test's server. */
async function resetLinkFor(to, seen = new Set()) {
  const mail = await sink.waitFor((m) => !seen.has(m.file) && m.to.includes(to), { message: `the reset email to ${to}` });
  seen.add(mail.file);
  const links = linksIn(mail, 'http://localhost/reset-password#token=');
  assert.equal(links.length, 1, `one reset link in the email: ${mail.text}`);
  const url = new URL(links[0]);
  assert.match(url.hash, /^#token=[A-Za-z0-9_-]{43}$/, 'the token is in the fragment');
  return `${stack.baseUrl}${url.pathname}${url.hash}`;
}

/** Opens a reset link and submits a new password (twice); returns the page. */
async function useLink(page, link, password) {
  await page.goto(link);
  await page.getByTestId('reset-page').waitFor({ timeout: 15_000 });
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('New password again').fill(password);
  await page.getByRole('button', { name: 'Set new password' }).click();
}

/** Runs SQL on the agent's state database (sqlite3's command line, else python3's module). */
function sql(statement) {
  const db = path.join(stack.tmp, 'state', 'keepsake.db');
  const r = existsSync('/usr/bin/sqlite3')
    ? spawnSync('/usr/bin/sqlite3', [db, statement], { encoding: 'utf8' })
    : spawnSync('/usr/bin/python3', ['-c', 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()', db, statement], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${statement}: ${r.stderr}`);
}

test('password reset by email: ask, open the link, choose a password, sign in; used and expired links say so', async () => {
  const seen = new Set();
  // The box can send email, and Anna has an address (given on the Users page).
  const channel = await apiCall(stack.baseUrl, 'POST', '/api/v1/alerts/channels', {
    session: owner,
    body: {
      name: 'Mail',
      settings: { kind: 'email', host: '127.0.0.1', port: sink.port, security: 'none', from: 'keepsake@example.org', to: ['family@example.org'] },
      notify_on: 'failure',
    },
  });
  assert.equal(channel.status, 201, channel.text);
  const admin = await newPage(browser, { session: owner });
  try {
    await admin.page.goto(`${stack.baseUrl}/users`);
    const form = admin.page.getByTestId('new-user-form');
    await form.waitFor({ timeout: 15_000 });
    await form.getByLabel('Name to sign in with').fill(ANNA.name);
    await form.getByLabel('Name as others see it').fill(ANNA.display_name);
    await form.getByLabel('Email address').fill('not an address');
    await form.getByLabel('First password').fill(ANNA.password);
    await form.getByRole('button', { name: 'Create account' }).click();
    await form.locator('#nu-email-error').waitFor();
    await form.getByLabel('Email address').fill(ANNA.email);
    await form.getByRole('button', { name: 'Create account' }).click();
    await admin.page.locator(`tr[data-user="${ANNA.name}"]`).getByText(ANNA.email).waitFor({ timeout: 10_000 });
  } finally {
    await admin.context.close();
  }

  const { page, context, problems } = await newPage(browser);
  try {
    // Ask for a link from the sign-in page.
    await page.goto(`${stack.baseUrl}/`);
    await page.getByTestId('sign-in-page').waitFor({ timeout: 15_000 });
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.waitForURL('**/forgot-password');
    await page.getByLabel('Name or email address').fill(ANNA.name);
    await screenshot(page, 'forgot-password');
    await page.getByRole('button', { name: 'Send me a link' }).click();
    const answer = await page.getByTestId('reset-requested').textContent();
    assert.match(answer ?? '', /If this account exists/, 'the same neutral answer for any name');
    const link = await resetLinkFor(ANNA.email, seen);

    // The link: the token leaves the address bar; the two passwords must match.
    await page.goto(link);
    await page.getByTestId('reset-page').waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => location.hash === '');
    assert.equal(new URL(page.url()).hash, '', 'the token is removed from the address bar');
    await page.getByLabel('New password', { exact: true }).fill('a new password 1');
    await page.getByLabel('New password again').fill('a new password 2');
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.locator('#reset-again-error').waitFor();
    await page.getByLabel('New password again').fill('a new password 1');
    await screenshot(page, 'reset-password');
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.getByTestId('reset-done').waitFor({ timeout: 10_000 });

    // Sign in with it.
    await page.getByRole('link', { name: 'Sign in with your new password' }).click();
    await page.getByTestId('sign-in-page').waitFor();
    await signInWithPassword(page, ANNA.name, 'a new password 1');
    await page.getByTestId('user-menu-button').waitFor({ timeout: 10_000 });

    // The same link again: already used.
    const again = await newPage(browser);
    try {
      await useLink(again.page, link, 'another password 1');
      const banner = again.page.locator('[data-code="auth.reset_link_used"]');
      await banner.waitFor({ timeout: 10_000 });
      assert.match((await banner.textContent()) ?? '', /already used/);
      assert.ok(await again.page.getByTestId('reset-dead-link').getByRole('link', { name: 'Ask for a new link' }).isVisible());
      await screenshot(again.page, 'reset-password-used');

      // A made-up token: not valid.
      await again.page.goto(`${stack.baseUrl}/`);
      await useLink(again.page, `${stack.baseUrl}/reset-password#token=${randomBytes(32).toString('base64url')}`, 'another password 1');
      await again.page.locator('[data-code="auth.reset_link_invalid"]').waitFor({ timeout: 10_000 });

      // No token at all.
      await again.page.goto(`${stack.baseUrl}/reset-password`);
      await again.page.getByTestId('reset-no-token').waitFor({ timeout: 10_000 });
    } finally {
      await again.context.close();
    }

    // An expired link (one for Ben, whose link is made to have expired in the database).
    const ben = await apiCall(stack.baseUrl, 'POST', '/api/v1/users', { session: owner, body: BEN });
    assert.equal(ben.status, 201, ben.text);
    const asked = await apiCall(stack.baseUrl, 'POST', '/api/v1/auth/password-reset/request', { body: { name: BEN.email } });
    assert.equal(asked.status, 202, asked.text);
    const benLink = await resetLinkFor(BEN.email, seen);
    sql("UPDATE password_resets SET expires_at = '2000-01-01T00:00:00.000000Z'");
    const late = await newPage(browser);
    try {
      await useLink(late.page, benLink, 'another password 2');
      const banner = late.page.locator('[data-code="auth.reset_link_expired"]');
      await banner.waitFor({ timeout: 10_000 });
      assert.match((await banner.textContent()) ?? '', /expired/);
      await screenshot(late.page, 'reset-password-expired');
    } finally {
      await late.context.close();
    }
    const benLogin = await apiCall(stack.baseUrl, 'POST', '/api/v1/auth/login', { body: { name: BEN.name, password: BEN.password } });
    assert.equal(benLogin.status, 200, 'the expired link changed nothing');

    // The Users page changes and removes an address ("" removes it).
    const edit = await newPage(browser, { session: owner });
    try {
      await edit.page.goto(`${stack.baseUrl}/users`);
      const row = edit.page.locator(`tr[data-user="${BEN.name}"]`);
      await row.waitFor({ timeout: 15_000 });
      await edit.page.getByRole('button', { name: `Edit ${BEN.name}`, exact: true }).click();
      const form = edit.page.getByRole('form', { name: `Edit ${BEN.name}` });
      assert.equal(await form.getByLabel('Email address').inputValue(), BEN.email);
      await form.getByLabel('Email address').fill('ben@example.net');
      await form.getByRole('button', { name: 'Save changes' }).click();
      await row.getByText('ben@example.net').waitFor({ timeout: 10_000 });
      await edit.page.getByRole('button', { name: `Edit ${BEN.name}`, exact: true }).click();
      await form.getByLabel('Email address').fill('');
      await form.getByRole('button', { name: 'Save changes' }).click();
      await row.getByTestId('user-email').waitFor({ state: 'detached', timeout: 10_000 });
      const users = await apiCall(stack.baseUrl, 'GET', '/api/v1/users', { session: owner });
      assert.equal(users.body.users.find((u) => u.name === BEN.name).email ?? null, null, 'the address is removed');
    } finally {
      await edit.context.close();
    }

    // Without an email channel: the console command.
    const del = await apiCall(stack.baseUrl, 'DELETE', `/api/v1/alerts/channels/${channel.body.id}`, { session: owner });
    assert.equal(del.status, 200, del.text);
    const lone = await newPage(browser);
    try {
      await lone.page.goto(`${stack.baseUrl}/forgot-password`);
      const box = lone.page.getByTestId('reset-console');
      await box.waitFor({ timeout: 15_000 });
      assert.equal((await box.locator('pre code').textContent())?.trim(), 'keepsake user reset-password NAME');
      await screenshot(lone.page, 'forgot-password-console');
    } finally {
      await lone.context.close();
    }
    assert.deepEqual(problems, [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});
