import { describe, expect, it } from 'vitest';
import { Client, type Job, type JobState, type LogLine } from './api';
import { StackJobs } from './stackJobs.svelte';

const job = (id: number, kind: string, state: JobState): Job => ({
  id,
  kind,
  state,
  cancel_requested: false,
  created_at: '2026-12-07T10:00:00Z',
  progress: { done: 0, total: null, phase: '', unit: '' },
  requested_by: 'owner',
});

const logLine = (job_id: number, seq: number, message: string): LogLine => ({ job_id, seq, message, level: 'info', at: '2026-12-07T10:00:01Z' });

/** A client answering job lists by kind and each job's log. */
function client(listed: Job[] = [], logs: Record<number, LogLine[]> = {}) {
  const asked: string[] = [];
  const fetch = async (req: Request) => {
    const u = new URL(req.url);
    asked.push(u.pathname + u.search);
    const m = /^\/api\/v1\/jobs\/(\d+)\/log$/.exec(u.pathname);
    const body = m ? { lines: logs[Number(m[1])] ?? [] } : { jobs: listed.filter((j) => j.kind === u.searchParams.get('kind')) };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
  };
  return { asked, client: new Client({ base: 'http://box.test', fetch }) };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('StackJobs', () => {
  it('follows install, update and rollback, shows the newest, and says once when one ends', () => {
    const ended: Job[] = [];
    const jobs = new StackJobs((j) => ended.push(j), client().client);
    jobs.apply(job(1, 'drive.backup', 'running'));
    expect(jobs.jobs).toEqual([]);
    jobs.apply(job(2, 'stack.install', 'running'));
    jobs.apply(job(3, 'stack.update', 'queued'));
    expect(jobs.latest?.id).toBe(3);
    jobs.apply(job(2, 'stack.install', 'succeeded'));
    jobs.apply(job(2, 'stack.install', 'succeeded'));
    expect(ended.map((j) => j.id)).toEqual([2]);
  });

  it('asks for every kind, and reads the newest job’s log', async () => {
    const { asked, client: c } = client([job(7, 'stack.install', 'running')], { 7: [logLine(7, 1, 'pulling images')] });
    const jobs = new StackJobs(() => {}, c);
    await jobs.refresh();
    expect(asked).toContain('/api/v1/jobs?kind=stack.install&limit=3');
    expect(asked).toContain('/api/v1/jobs?kind=stack.update&limit=3');
    expect(asked).toContain('/api/v1/jobs?kind=stack.rollback&limit=3');
    await settle();
    expect(jobs.log.map((l) => l.message)).toEqual(['pulling images']);
  });
});
