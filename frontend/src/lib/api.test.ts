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
