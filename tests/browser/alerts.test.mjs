// Alerts end to end, against the real agent and a real SMTP server (tests/lab/smtp_sink.py): the
// owner adds an email channel and its test message arrives; a channel pointing at a closed port
// shows the connection error; the "Many failed sign-ins" rule is lowered to 3; three failed
// sign-ins then light the header's indicator on every page, the Alerts page lists the alert (with
// its help page), snoozing takes the colour off the indicator, and the alert email arrives. A
// person without notifications.view sees no indicator and a polite refusal on /alerts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { apiCall, eventually, freePort, horizontalOverflow, newPage, screenshot, useStack } from './harness.mjs';
import { startSmtpSink } from './smtp-sink.mjs';

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

const FAMILY = 'family@example.org';

async function addEmailChannel(page, { name, port }) {
  await page.getByRole('button', { name: 'Add a channel' }).click();
  const form = page.getByTestId('channel-form');
  await form.waitFor();
  assert.equal(await form.getByLabel('Port').inputValue(), '587', 'STARTTLS is the default, on port 587');
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('Server (SMTP)').fill('127.0.0.1');
  await form.getByLabel('Encryption').selectOption('tls');
  assert.equal(await form.getByLabel('Port').inputValue(), '465', 'TLS moves the port to 465');
  await form.getByLabel('Encryption').selectOption('none');
  assert.equal(await form.getByLabel('Port').inputValue(), '25', 'no encryption moves it to 25');
  await form.getByLabel('Port').fill(String(port));
  await form.getByLabel('Sender address').fill('keepsake@example.org');
  await form.getByLabel('Send to').fill(FAMILY);
  await form.getByRole('button', { name: 'Add channel' }).click();
  await page.locator(`[data-channel="${name}"]`).waitFor({ timeout: 10_000 });
}

/**
 * What the header's indicator should show for the box's GET /alerts answer. Other alerts may fire
 * on a lab machine (its Docker's containers, say), so the tests compare with the box's answer.
 */
function expected(list) {
  if (!list.firing) return null;
  const tone = { critical: 'bad', warning: 'warn', info: 'info' }[list.worst] ?? 'neutral';
  const label = `${list.firing} alert${list.firing === 1 ? '' : 's'} firing${list.worst ? '' : ' (snoozed)'}`;
  return { count: list.firing, tone, label };
}

async function alerts() {
  const r = await apiCall(stack.baseUrl, 'GET', '/api/v1/alerts', { session: owner });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

const spiking = (list) => list.alerts.find((a) => a.rule === 'auth.login_spike' && a.state === 'firing');

/**
 * Waits until the indicator shows what the box says (and `until(list)` holds); returns both. When
 * they differ for a while (an alert of the machine came or went since the page last asked), the
 * page is reloaded, which asks again.
 */
async function indicatorAgrees(page, { until = () => true, timeoutMs = 15_000, message = 'the indicator' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (let i = 1; Date.now() < deadline; i++) {
    const list = await alerts();
    const b = await badge(page);
    last = { firing: list.firing, worst: list.worst, b };
    if (until(list) && JSON.stringify(b) === JSON.stringify(expected(list))) return { list, b };
    await page.waitForTimeout(300);
    if (i % 5 === 0) await page.reload();
  }
  throw new Error(`timed out waiting for ${message}: ${JSON.stringify(last)}`);
}

/** The header's indicator as { count, tone, label }, or null when it is not shown. */
async function badge(page) {
  const b = page.getByTestId('alert-badge');
  if ((await b.count()) === 0) return null;
  return { count: Number(await b.getAttribute('data-count')), tone: await b.getAttribute('data-tone'), label: await b.getAttribute('aria-label') };
}

test('alerts: channels with a real SMTP server, a rule, the indicator on every page, the alert email', async () => {
  const { page, context, problems } = await newPage(browser, { session: owner });
  try {
    // 1) A working email channel: the test message is delivered and arrives.
    await page.goto(`${stack.baseUrl}/alerts/channels`);
    await page.getByRole('heading', { name: 'Alert channels' }).waitFor({ timeout: 15_000 });
    await addEmailChannel(page, { name: 'Family email', port: sink.port });
    const good = page.locator('[data-channel="Family email"]');
    await good.getByRole('button', { name: 'Send test to Family email' }).click();
    await good.locator('[data-delivered="true"]').waitFor({ timeout: 20_000 });
    const testMail = await sink.waitFor((m) => m.to.includes(FAMILY), { message: 'the test email' });
    assert.match(testMail.subject, /test/i, `the test email says so: ${testMail.subject}`);
    await screenshot(page, 'alerts-channel-test-ok');

    // 2) A channel at a closed port: the exact connection error is shown.
    const closed = await freePort();
    await addEmailChannel(page, { name: 'Broken email', port: closed });
    const bad = page.locator('[data-channel="Broken email"]');
    await bad.getByRole('button', { name: 'Send test to Broken email' }).click();
    const failure = bad.locator('[data-delivered="false"]');
    await failure.waitFor({ timeout: 30_000 });
    const why = (await failure.locator('.server-error').textContent()) ?? '';
    assert.match(why, /refused|connect/i, `the server's error is shown: ${why}`);
    assert.match(why, new RegExp(String(closed)), `with the address it tried: ${why}`);
    await screenshot(page, 'alerts-channel-test-failed');

    // Removing it asks first.
    await bad.getByRole('button', { name: 'Delete Broken email' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete the channel “Broken email”?' });
    await dialog.getByRole('button', { name: 'Delete channel' }).click();
    await bad.waitFor({ state: 'detached' });

    // 3) The rule: "Many failed sign-ins" from 20 down to 3.
    await page.getByRole('navigation', { name: 'Alerts' }).getByRole('link', { name: 'Rules' }).click();
    const rule = page.locator('[data-rule="auth.login_spike"]');
    await rule.waitFor({ timeout: 10_000 });
    assert.match((await rule.textContent()) ?? '', /Many failed sign-ins/);
    const threshold = rule.getByLabel(/^Threshold/);
    await threshold.fill('2');
    await rule.getByRole('button', { name: /^Save/ }).click();
    await rule.getByRole('alert').filter({ hasText: 'from 3 to' }).waitFor();
    await threshold.fill('3');
    await rule.getByRole('button', { name: /^Save/ }).click();
    await rule.getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: 10_000 });
    const rules = await apiCall(stack.baseUrl, 'GET', '/api/v1/alerts/rules', { session: owner });
    assert.equal(rules.body.rules.find((r) => r.id === 'auth.login_spike').threshold.value, 3);
    await screenshot(page, 'alerts-rules');

    // The weekly summary goes out on "Send now" to the email channel that takes it.
    const summary = page.getByTestId('summary-card');
    const mailsBefore = new Set(sink.messages().map((m) => m.file));
    await summary.getByRole('button', { name: 'Send now' }).click();
    await summary.getByRole('status').waitFor({ timeout: 10_000 });
    const weekly = await sink.waitFor((m) => !mailsBefore.has(m.file) && /summary|week/i.test(m.subject), { message: 'the weekly summary' });
    assert.ok(weekly.to.includes(FAMILY));
    assert.equal(spiking(await alerts()), undefined, 'no sign-in alert yet');
    await indicatorAgrees(page, { message: 'the indicator before' });

    // 4) Three failed sign-ins, through the web server.
    const seen = new Set(sink.messages().map((m) => m.file));
    for (let i = 0; i < 3; i++) {
      const r = await apiCall(stack.baseUrl, 'POST', '/api/v1/auth/login', { body: { name: 'owner', password: `wrong password ${i}` } });
      assert.equal(r.status, 401, r.text);
    }

    // The indicator shows it within seconds (it asks again on every change of page).
    const nav = page.getByRole('navigation', { name: 'Main' });
    let on = 'Home';
    const { b: lit } = await eventually(
      async () => {
        on = on === 'Home' ? 'Users' : 'Home';
        await nav.getByRole('link', { name: on, exact: true }).click();
        await page.waitForTimeout(300);
        const list = await alerts();
        const b = await badge(page);
        return spiking(list) && JSON.stringify(b) === JSON.stringify(expected(list)) ? { b } : null;
      },
      { timeoutMs: 15_000, intervalMs: 500, message: 'the header indicator' },
    );
    assert.ok(lit.count >= 1 && ['warn', 'bad'].includes(lit.tone), JSON.stringify(lit));
    await screenshot(page, 'alerts-indicator');

    // On every page, also after a full load.
    for (const p of ['/', '/users', '/audit', '/settings', '/account', '/alerts/rules', '/help']) {
      await page.goto(`${stack.baseUrl}${p}`);
      const { b } = await indicatorAgrees(page, { until: spiking, message: `the indicator on ${p}` });
      assert.equal(await page.getByRole('link', { name: b.label, exact: true }).count(), 1, `an accessible link on ${p}`);
    }

    // 5) The Alerts page lists it, with its help page.
    await page.getByTestId('alert-badge').click();
    await page.waitForURL('**/alerts');
    const item = page.getByTestId('firing-list').locator('[data-alert="auth.login_spike"]');
    await item.waitFor({ timeout: 10_000 });
    assert.match((await item.textContent()) ?? '', /3 failed sign-ins/);
    const history = page.getByTestId('history-table');
    await history.locator('tr[data-kind="fired"]').first().waitFor({ timeout: 10_000 });
    await screenshot(page, 'alerts-page');

    // 6) The alert email arrives (the engine sends on the change to "firing").
    const alertMail = await sink.waitFor((m) => !seen.has(m.file) && /sign-ins/i.test(m.subject), {
      timeoutMs: 25_000,
      message: 'the alert email',
    });
    assert.ok(alertMail.to.includes(FAMILY));
    assert.match(alertMail.text, /\/help\/sign-in-attacks/, 'it links to the help page');

    // The history says so (after a reload of the page).
    await page.reload();
    await page.getByTestId('history-table').locator('tr[data-kind="notified"]').first().waitFor({ timeout: 10_000 });

    // 7) Snoozing for an hour: still counted, but no longer coloured.
    await item.getByRole('button', { name: /^1 hour/ }).click();
    await item.getByTestId('snoozed').waitFor({ timeout: 10_000 });
    const { list: held } = await indicatorAgrees(page, { until: (l) => spiking(l)?.snoozed_until, message: 'the indicator after snoozing' });
    assert.ok(held.firing >= 1, 'a snoozed alert still counts');
    if (held.alerts.filter((a) => a.state === 'firing').length === 1) assert.equal((await badge(page)).tone, 'neutral', 'but gives no colour');
    await screenshot(page, 'alerts-snoozed');
    await item.getByRole('button', { name: /^End snooze/ }).click();
    await item.getByTestId('snoozed').waitFor({ state: 'detached', timeout: 10_000 });

    // 8) The help page it links to opens.
    await item.getByRole('link', { name: 'What to do' }).click();
    await page.waitForURL('**/help/sign-in-attacks');
    await page.locator('[data-help="sign-in-attacks"]').waitFor();
    assert.match((await page.locator('[data-help] h1').textContent()) ?? '', /failed sign-ins/i);

    assert.deepEqual(problems.filter((p) => !p.includes('net::ERR_ABORTED')), [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});

test('alerts: without notifications.view, no indicator and a polite refusal', async () => {
  // Every built-in role has notifications.view (viewers too), so the test takes it away from the
  // answers the dashboard reads about the signed-in person; the box still has the last word.
  const viewer = { name: 'vera', display_name: 'Vera Viewer', password: 'viewer password 1', role: 'viewer' };
  const created = await apiCall(stack.baseUrl, 'POST', '/api/v1/users', { body: viewer, session: owner });
  assert.equal(created.status, 201, created.text);
  const login = await apiCall(stack.baseUrl, 'POST', '/api/v1/auth/login', { body: { name: viewer.name, password: viewer.password } });
  assert.equal(login.status, 200, login.text);
  const session = { baseUrl: stack.baseUrl, cookie: /keepsake_session=[^;]*/.exec(login.res.headers.get('set-cookie'))[0] };

  // A viewer as the box makes them: the indicator, but no snooze or channel buttons.
  const { page, context, problems } = await newPage(browser, { session });
  try {
    await page.goto(`${stack.baseUrl}/alerts`);
    await page.getByRole('heading', { name: 'Needs attention' }).waitFor({ timeout: 15_000 });
    await eventually(() => badge(page), { timeoutMs: 10_000, message: 'a viewer sees the indicator (the role has notifications.view)' });
    assert.equal(await page.getByRole('button', { name: /^1 hour/ }).count(), 0, 'but cannot snooze');
    assert.equal(await page.getByRole('navigation', { name: 'Alerts' }).getByRole('link', { name: 'Channels' }).count(), 0, 'no Channels tab');
    // Channels (an ntfy topic or a webhook address can be a key) are for those who manage them.
    await page.goto(`${stack.baseUrl}/alerts/channels`);
    await page.getByTestId('no-permission').waitFor({ timeout: 10_000 });
    const listed = await apiCall(stack.baseUrl, 'GET', '/api/v1/alerts/channels', { session });
    assert.equal(listed.status, 403, 'and the agent lists them to nobody else');

    // The same person without notifications.view.
    const strip = async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      const me = body.user ?? body;
      me.permissions = me.permissions.filter((p) => !p.startsWith('notifications.'));
      await route.fulfill({ response: res, json: body });
    };
    await page.route('**/api/v1/auth/state', strip);
    await page.route('**/api/v1/me', strip);
    await page.goto(`${stack.baseUrl}/`);
    await page.getByRole('navigation', { name: 'Main' }).waitFor({ timeout: 15_000 });
    await page.waitForTimeout(1000);
    assert.equal(await badge(page), null, 'no indicator');
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).count(), 0, 'no Alerts entry');
    await page.goto(`${stack.baseUrl}/alerts`);
    await page.getByTestId('no-permission').waitFor({ timeout: 10_000 });
    await screenshot(page, 'alerts-no-permission');
    // Leaving a page aborts its requests still under way: not a problem.
    assert.deepEqual(problems.filter((p) => !p.includes('net::ERR_ABORTED')), [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});

test('help pages open without signing in; the alerts pages and help fit a phone', async () => {
  // Signed out: the index, a page, its links between pages, and an unknown page.
  const anon = await newPage(browser);
  try {
    await anon.page.goto(`${stack.baseUrl}/help`);
    const index = anon.page.locator('[data-help="README"]');
    await index.waitFor({ timeout: 15_000 });
    assert.equal(await anon.page.getByTestId('sign-in-page').count(), 0, 'no sign-in in the way');
    const link = index.locator('a[href="/help/pool-degraded"]').first();
    assert.match((await link.textContent()) ?? '', /photo pool is not healthy/, 'a link naming a file shows its page title');
    await link.click();
    await anon.page.waitForURL('**/help/pool-degraded');
    await anon.page.locator('[data-help="pool-degraded"] h1').waitFor();
    assert.equal(await anon.page.title(), `${await anon.page.locator('[data-help] h1').textContent()} · Keepsake help`);
    await anon.page.goto(`${stack.baseUrl}/help/no-such-page`);
    await anon.page.getByTestId('help-missing').waitFor({ timeout: 15_000 });
    await anon.page.getByTestId('help-missing').getByRole('link', { name: 'See all help pages' }).click();
    await index.waitFor();
    // Following a link aborts what the page was still loading (its icon): not a problem.
    assert.deepEqual(anon.problems.filter((p) => !p.includes('net::ERR_ABORTED')), [], 'no console errors or failed requests');
  } finally {
    await anon.context.close();
  }

  // At 360px: the indicator stays in the bar beside the folded menu; nothing scrolls sideways.
  const { page, context, problems } = await newPage(browser, { width: 360, height: 740, session: owner });
  try {
    for (const p of ['/alerts', '/alerts/channels', '/alerts/rules', '/help/zfs-checksum-errors', '/users']) {
      await page.goto(`${stack.baseUrl}${p}`);
      await page.locator('main h1').first().waitFor({ timeout: 15_000 });
      await page.waitForTimeout(300);
      if (p === '/alerts/channels') {
        await page.getByRole('button', { name: 'Add a channel' }).click();
        await page.getByTestId('channel-form').waitFor();
      }
      const o = await horizontalOverflow(page);
      assert.ok(o.scrollWidth <= o.clientWidth, `no horizontal scroll on ${p}: ${JSON.stringify(o)}`);
      await screenshot(page, `mobile${p.replace(/\//g, '-')}`);
    }
    const b = page.getByTestId('alert-badge');
    await b.waitFor({ timeout: 10_000 });
    assert.ok(await b.isVisible(), 'the indicator shows with the menu folded');
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).isVisible(), false);
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts' }).click();
    await page.waitForURL('**/alerts');
    assert.deepEqual(problems.filter((p) => !p.includes('net::ERR_ABORTED')), [], 'no console errors or failed requests');
  } finally {
    await context.close();
  }
});
