import { describe, expect, it } from 'vitest';
import { ApiError, Client, selfCheckReport, type Job, type SecretName } from './api';

const BASE = 'http://box.test';

interface Call {
  method: string;
  /** Path and query, without the origin. */
  url: string;
  headers: Headers;
  credentials: RequestCredentials;
  body: string;
}

function recorder(respond: (req: Request) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fetch = async (req: Request) => {
    const u = new URL(req.url);
    calls.push({
      method: req.method,
      url: u.pathname + u.search,
      headers: req.headers,
      credentials: req.credentials,
      body: await req.clone().text(),
    });
    return respond(req);
  };
  return { calls, client: new Client({ base: BASE, fetch }) };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

describe('Client', () => {
  it('builds job list queries, leaving out what is not asked for', async () => {
    const { calls, client } = recorder(() => json(200, { jobs: [] }));
    await client.jobs();
    await client.jobs({ limit: 5, kind: 'host.self_check', state: 'running' });
    expect(calls.map((c) => c.url)).toEqual(['/api/v1/jobs', '/api/v1/jobs?limit=5&kind=host.self_check&state=running']);
  });

  it('sends mutations as same-origin JSON POSTs with a body', async () => {
    const { calls, client } = recorder(() => json(202, { id: 1 }));
    await client.startSelfCheck();
    await client.cancelJob(9);
    expect(calls[0].url).toBe('/api/v1/host/self-check');
    expect(calls[0].method).toBe('POST');
    expect(calls[0].body).toBe('{}');
    expect(calls[0].credentials).toBe('same-origin');
    expect(calls[0].headers.get('Content-Type')).toBe('application/json');
    expect(calls[0].headers.get('Accept')).toBe('application/json');
    expect(calls[1].url).toBe('/api/v1/jobs/9/cancel');
  });

  it('turns error bodies into ApiError with code, message and hint', async () => {
    const { client } = recorder(() =>
      json(409, { code: 'conflict', message: 'A self-check is already running.', hint: 'Wait for it.' }),
    );
    const err = await client.startSelfCheck().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(409);
    expect(e.code).toBe('conflict');
    expect(e.message).toBe('A self-check is already running.');
    expect(e.hint).toBe('Wait for it.');
    expect(e.unreachable).toBe(false);
    expect(e.retryAfter).toBeNull();
  });

  it('reads a missing hint as null', async () => {
    const { client } = recorder(() => json(404, { code: 'not_found', message: 'no job 3' }));
    const e = (await client.job(3).catch((x: unknown) => x)) as ApiError;
    expect(e.hint).toBeNull();
  });

  it('reports an unreachable box for network failures and bad gateways', async () => {
    const down = new Client({ base: BASE, fetch: () => Promise.reject(new TypeError('Failed to fetch')) });
    const e1 = (await down.status().catch((e: unknown) => e)) as ApiError;
    expect(e1).toBeInstanceOf(ApiError);
    expect(e1.code).toBe('unreachable');
    expect(e1.unreachable).toBe(true);
    expect(e1.hint).toBeTruthy();

    const { client } = recorder(() => new Response('Bad Gateway', { status: 502 }));
    const e2 = (await client.status().catch((e: unknown) => e)) as ApiError;
    expect(e2.status).toBe(502);
    expect(e2.unreachable).toBe(true);
  });

  it('handles unexpected non-JSON errors', async () => {
    const { client } = recorder(() => new Response('nope', { status: 418, statusText: "I'm a teapot" }));
    const e = (await client.health().catch((err: unknown) => err)) as ApiError;
    expect(e.code).toBe('http_418');
    expect(e.message).toContain('418');
  });

  it('calls an unreadable or empty success a bad response', async () => {
    const { client } = recorder(() => new Response('<html>', { status: 200 }));
    const e = (await client.status().catch((err: unknown) => err)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe('bad_response');
    const empty = recorder(() => new Response(null, { status: 204 }));
    expect(((await empty.client.me().catch((err: unknown) => err)) as ApiError).code).toBe('bad_response');
    // ...unless the dashboard needs nothing from the answer.
    await expect(empty.client.logout()).resolves.toBeUndefined();
  });

  it('names the event stream URLs', () => {
    const c = new Client();
    expect(c.eventsUrl()).toBe('/api/v1/events');
    expect(c.jobEventsUrl(4)).toBe('/api/v1/jobs/4/events');
  });
});

describe('selfCheckReport', () => {
  const base = { result: null } as unknown as Job;
  it('reads the report of a self-check result, and nothing else', () => {
    expect(selfCheckReport(base)).toBeNull();
    const report = {
      checks: [
        { kind: 'zfs' as const, label: 'ZFS', state: 'missing' as const, version: null, detail: '', remedy: 'Install it' },
        { kind: 'nix' as const, label: 'Nix', state: 'ok' as const, version: '2.18', detail: '', remedy: null },
      ],
      problems: 1,
    };
    expect(selfCheckReport({ ...base, result: { kind: 'host.self_check', report } })?.problems).toBe(1);
    expect(selfCheckReport({ ...base, result: { kind: 'other', report } } as unknown as Job)).toBeNull();
  });
});

describe('identity client', () => {
  it('sends JSON bodies with the right methods and paths', async () => {
    const { calls, client } = recorder(() => json(200, {}));
    await client.login('anna', 'pw');
    await client.updateUser(3, { role: 'viewer' });
    await client.updateGroup(4, { name: 'g', permissions: ['jobs.view'] });
    await client.deleteUser(5);
    // A name the document does not list, to see the path segment encoded.
    await client.setSecret('smtp password/1' as SecretName, 's3cret');
    await client.changePassword('old', 'new password');
    expect(calls.map((c) => [c.method, c.url])).toEqual([
      ['POST', '/api/v1/auth/login'],
      ['PATCH', '/api/v1/users/3'],
      ['PUT', '/api/v1/groups/4'],
      ['DELETE', '/api/v1/users/5'],
      ['PUT', '/api/v1/secrets/smtp%20password%2F1'],
      ['POST', '/api/v1/me/password'],
    ]);
    expect(JSON.parse(calls[0].body)).toEqual({ name: 'anna', password: 'pw' });
    expect(calls[3].body).toBe('');
    expect(calls[3].headers.get('Content-Type')).toBeNull();
    expect(JSON.parse(calls[5].body)).toEqual({ current: 'old', new: 'new password' });
    expect(calls[1].headers.get('Content-Type')).toBe('application/json');
  });

  it('builds audit queries and export links, leaving out empty filters', async () => {
    const client = new Client();
    expect(client.auditExportUrl({ actor: ' anna ', action: '', outcome: ' ', limit: 50 }, 'csv')).toBe(
      '/api/v1/audit?actor=anna&limit=50&format=csv',
    );
    expect(client.auditExportUrl({}, 'json')).toBe('/api/v1/audit?format=json');
    const { calls, client: c } = recorder(() => json(200, { entries: [] }));
    await c.audit({ actor: '', action: 'auth.', since: '2026-05-01T10:00:00.000Z' });
    expect(calls[0].url).toBe('/api/v1/audit?action=auth.&since=2026-05-01T10%3A00%3A00.000Z');
  });

  it('reports a lost session (401 auth.unauthenticated) but not a wrong password (401 auth.bad_credentials)', async () => {
    let body = { code: 'auth.unauthenticated', message: 'sign in first', hint: null };
    const { client } = recorder(() => json(401, body));
    const seen: string[] = [];
    client.onUnauthenticated = (e) => seen.push(e.code);
    await expect(client.me()).rejects.toMatchObject({ status: 401, code: 'auth.unauthenticated', sessionEnded: true });
    body = { code: 'auth.bad_credentials', message: 'wrong name or password', hint: null };
    await expect(client.login('a', 'b')).rejects.toMatchObject({ code: 'auth.bad_credentials', sessionEnded: false });
    expect(seen).toEqual(['auth.unauthenticated']);
  });

  it('keeps the backoff message, hint and wait of a 429', async () => {
    const { client } = recorder(() =>
      json(
        429,
        { code: 'auth.too_many_attempts', message: 'try again in 30 seconds', hint: 'Wait, then try again.' },
        { 'Retry-After': '30' },
      ),
    );
    const e = (await client.login('a', 'b').catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.message).toBe('try again in 30 seconds');
    expect(e.hint).toBe('Wait, then try again.');
    expect(e.retryAfter).toBe(30);
    expect(e.unreachable).toBe(false);
  });

  it('sends the restore point routes, with an opaque point id encoded in the path', async () => {
    const { calls, client } = recorder((req) =>
      req.method === 'DELETE' ? json(200, { message: 'deleted' }) : json(200, { id: 1, confirmation: 'restore everything' }),
    );
    const sanoid = 'sanoid:tank/immich/library@autosnap_2026-12-03_00:00:01_daily';
    await client.createRestorePoint('before tidying');
    await client.createRestorePoint(null);
    await client.pinRestorePoint('kp-20261203-1', true);
    await client.deleteRestorePoint('kp-20261203-1');
    await client.planRestore(sanoid, 'library');
    await client.restoreFiles('kp-1');
    await client.restoreFiles('kp-1', 'upload/anna 2024');
    await client.restore('kp-1', 'files', ['upload/a.jpg'], 'restore 1 file');
    await client.startDrill();
    await client.resetInstance('reset everything');
    await client.undoReset('undo reset');
    expect(calls.map((c) => `${c.method} ${c.url} ${c.body}`)).toEqual([
      'POST /api/v1/restore-points {"note":"before tidying"}',
      'POST /api/v1/restore-points {"note":null}',
      'PUT /api/v1/restore-points/kp-20261203-1/pin {"pinned":true}',
      'DELETE /api/v1/restore-points/kp-20261203-1 ',
      `POST /api/v1/restore-points/${encodeURIComponent(sanoid)}/plan {"scope":"library","paths":[],"confirm":null}`,
      'GET /api/v1/restore-points/kp-1/files ',
      'GET /api/v1/restore-points/kp-1/files?path=upload%2Fanna%202024 ',
      'POST /api/v1/restore-points/kp-1/restore {"scope":"files","paths":["upload/a.jpg"],"confirm":"restore 1 file"}',
      'POST /api/v1/restore-points/drill {}',
      'POST /api/v1/instance/reset {"confirm":"reset everything"}',
      'POST /api/v1/instance/reset/undo {"confirm":"undo reset"}',
    ]);
    // The id stays one path segment: its "/" and "@" cannot reach another route.
    expect(calls[4].url).not.toContain('tank/immich');
  });
});

describe('the document is the contract', () => {
  it('refuses, at compile time, a path or body the document does not have', async () => {
    const { client: c } = recorder(() => json(400, { code: 'bad_request', message: 'role: expected a string' }));
    // @ts-expect-error: no such route in docs/openapi.json
    expect(() => c.link('/api/v1/no-such-route', {})).not.toThrow();
    // @ts-expect-error: /jobs/{id}/events needs its id
    expect(c.link('/api/v1/jobs/{id}/events', {})).toBe(`${BASE}/api/v1/jobs/{id}/events`);
    // @ts-expect-error: the role is a string in NewUser, not a number
    await expect(c.createUser({ name: 'a', password: 'b', role: 1, groups: [] })).rejects.toBeInstanceOf(ApiError);
  });
});
