import { describe, expect, it } from 'vitest';
import { ApiError, Client, selfCheckReport, type Job } from './api';

function recorder(respond: (url: string, init?: RequestInit) => Response | Promise<Response>) {
  const calls: { url: string; init?: RequestInit }[] = [];
  const fetch = async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    return respond(url, init);
  };
  return { calls, client: new Client({ fetch }) };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('Client', () => {
  it('builds job list queries', async () => {
    const { calls, client } = recorder(() => json(200, { jobs: [] }));
    await client.jobs();
    await client.jobs({ limit: 5, kind: 'host.self_check', state: 'running' });
    expect(calls.map((c) => c.url)).toEqual([
      '/api/v1/jobs',
      '/api/v1/jobs?limit=5&kind=host.self_check&state=running',
    ]);
  });

  it('sends mutations as same-origin JSON POSTs with a body', async () => {
    const { calls, client } = recorder(() => json(202, { id: 1 }));
    await client.startSelfCheck();
    await client.cancelJob(9);
    expect(calls[0].url).toBe('/api/v1/host/self-check');
    expect(calls[0].init?.method).toBe('POST');
    expect(calls[0].init?.body).toBe('{}');
    expect(calls[0].init?.credentials).toBe('same-origin');
    expect((calls[0].init?.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(calls[1].url).toBe('/api/v1/jobs/9/cancel');
  });

  it('turns error bodies into ApiError with message and hint', async () => {
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
  });

  it('reports an unreachable box for network failures and bad gateways', async () => {
    const down = new Client({ fetch: () => Promise.reject(new TypeError('Failed to fetch')) });
    const e1 = (await down.status().catch((e: unknown) => e)) as ApiError;
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

  it('names the event stream URLs', () => {
    const c = new Client();
    expect(c.eventsUrl()).toBe('/api/v1/events');
    expect(c.jobEventsUrl(4)).toBe('/api/v1/jobs/4/events');
  });
});

describe('selfCheckReport', () => {
  const base = { result: null } as unknown as Job;
  it('reads a report, counting problems if missing', () => {
    expect(selfCheckReport(base)).toBeNull();
    expect(selfCheckReport({ ...base, result: { foo: 1 } })).toBeNull();
    const checks = [
      { kind: 'zfs', label: 'ZFS', state: 'missing', version: null, detail: '', remedy: 'Install it' },
      { kind: 'nix', label: 'Nix', state: 'ok', version: '2.18', detail: '', remedy: null },
    ];
    expect(selfCheckReport({ ...base, result: { checks, problems: 1 } })?.problems).toBe(1);
    expect(selfCheckReport({ ...base, result: { checks } })?.problems).toBe(1);
  });
});

describe('identity client', () => {
  it('sends JSON bodies with the right methods and paths', async () => {
    const { calls, client } = recorder(() => json(200, {}));
    await client.login('anna', 'pw');
    await client.updateUser(3, { role: 'viewer' });
    await client.updateGroup(4, { name: 'g', permissions: ['jobs.view'] });
    await client.deleteUser(5);
    await client.setSecret('smtp_password', 's3cret');
    await client.changePassword('old', 'new password');
    expect(calls.map((c) => [c.init?.method, c.url])).toEqual([
      ['POST', '/api/v1/auth/login'],
      ['PATCH', '/api/v1/users/3'],
      ['PUT', '/api/v1/groups/4'],
      ['DELETE', '/api/v1/users/5'],
      ['PUT', '/api/v1/secrets/smtp_password'],
      ['POST', '/api/v1/me/password'],
    ]);
    expect(JSON.parse(String(calls[0].init?.body))).toEqual({ name: 'anna', password: 'pw' });
    expect(calls[3].init?.body).toBeUndefined();
    expect(JSON.parse(String(calls[5].init?.body))).toEqual({ current: 'old', new: 'new password' });
    expect((calls[1].init?.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('builds audit queries and export links, leaving out empty filters', () => {
    const client = new Client();
    expect(client.auditExportUrl({ actor: 'anna', action: '', outcome: ' ', limit: 50 }, 'csv')).toBe(
      '/api/v1/audit?actor=anna&limit=50&format=csv',
    );
    expect(client.auditExportUrl({}, 'json')).toBe('/api/v1/audit?format=json');
  });

  it('reports a lost session (401 auth.unauthenticated) but not a wrong password (401 auth.bad_credentials)', async () => {
    let body = { code: 'auth.unauthenticated', message: 'sign in first', hint: null };
    const { client } = recorder(() => json(401, body));
    const seen: string[] = [];
    client.onUnauthenticated = (e) => seen.push(e.code);
    await expect(client.me()).rejects.toMatchObject({ status: 401, code: 'auth.unauthenticated' });
    body = { code: 'auth.bad_credentials', message: 'wrong name or password', hint: null };
    await expect(client.login('a', 'b')).rejects.toMatchObject({ code: 'auth.bad_credentials' });
    expect(seen).toEqual(['auth.unauthenticated']);
  });

  it('keeps the backoff message and hint of a 429', async () => {
    const { client } = recorder(() =>
      json(429, { code: 'auth.too_many_attempts', message: 'try again in 30 seconds', hint: 'Wait, then try again.' }),
    );
    const e = (await client.login('a', 'b').catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.message).toBe('try again in 30 seconds');
    expect(e.hint).toBe('Wait, then try again.');
    expect(e.unreachable).toBe(false);
  });
});
