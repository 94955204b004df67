// e) a cross-origin POST is refused: the web server only accepts same-origin mutations. The request
// carries a valid session cookie, so the 403 really is the cross-origin refusal (code web.origin_refused)
// and not a missing sign-in; the same request from the dashboard's own origin is accepted (202).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createOwner, getJson, startStack } from './harness.mjs';

let stack;
let owner;

before(async () => {
  stack = await startStack();
  owner = await createOwner(stack.baseUrl);
});

after(async () => {
  await stack?.stop();
});

const post = (url, origin, cookie) =>
  fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: origin, Cookie: cookie },
    body: '{}',
    signal: AbortSignal.timeout(10_000),
  });

test('e) a cross-origin POST to /api/v1/host/self-check is refused with 403', async () => {
  const url = `${stack.baseUrl}/api/v1/host/self-check`;
  const before = (await getJson(stack.baseUrl, '/api/v1/jobs', owner)).jobs.length;

  const res = await post(url, 'http://evil.example', owner.cookie);
  const text = await res.text();
  assert.equal(res.status, 403, `refused: ${res.status} ${text}`);
  const body = JSON.parse(text);
  assert.equal(body.code, 'web.origin_refused', `refused as cross-origin, not for another reason: ${text}`);
  assert.equal(typeof body.message, 'string', `error body has a message: ${text}`);
  assert.ok('hint' in body, `error body has a hint field: ${text}`);

  const afterRefusal = (await getJson(stack.baseUrl, '/api/v1/jobs', owner)).jobs.length;
  assert.equal(afterRefusal, before, 'the refused request started no job');

  // Control: the same request, same cookie, from the page's own origin is accepted.
  const ok = await post(url, stack.baseUrl, owner.cookie);
  const okText = await ok.text();
  assert.equal(ok.status, 202, `same-origin POST accepted: ${ok.status} ${okText}`);
  const job = JSON.parse(okText);
  assert.equal(job.kind, 'host.self_check');
  assert.ok(['queued', 'running'].includes(job.state), `a new job: ${job.state}`);
});
