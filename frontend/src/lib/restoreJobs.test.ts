import { describe, expect, it } from 'vitest';
import { Client, type Job, type JobState } from './api';
import { RestoreJobs } from './restoreJobs.svelte';

const job = (id: number, kind: string, state: JobState): Job => ({
  id,
  kind,
  state,
  cancel_requested: false,
  created_at: '2026-12-03T10:00:00Z',
  progress: { done: 0, total: null, phase: '', unit: '' },
  requested_by: 'owner',
});

/** A client whose job list answers `listed` for the kind asked about. */
function client(listed: Job[] = []) {
  const asked: string[] = [];
  const fetch = async (req: Request) => {
    const u = new URL(req.url);
    asked.push(u.pathname + u.search);
    const kind = u.searchParams.get('kind');
    return new Response(JSON.stringify({ jobs: listed.filter((j) => j.kind === kind) }), {
      status: 200,
      headers: { 'Content-Type': 'application/json' },
    });
  };
  return { asked, client: new Client({ base: 'http://box.test', fetch }) };
}

describe('RestoreJobs', () => {
  it('keeps only the page’s kinds, and says when one it saw running has ended', () => {
    const ended: Job[] = [];
    const jobs = new RestoreJobs((j) => ended.push(j), client().client);
    jobs.apply(job(1, 'host.self_check', 'running'));
    expect(jobs.jobs).toEqual([]);

    jobs.apply(job(2, 'restore_point.create', 'queued'));
    jobs.apply(job(2, 'restore_point.create', 'running'));
    expect(ended).toEqual([]);
    jobs.apply(job(2, 'restore_point.create', 'succeeded'));
    expect(ended.map((j) => j.id)).toEqual([2]);
    // The same end seen again (the stream and a resync) is not a second end.
    jobs.apply(job(2, 'restore_point.create', 'succeeded'));
    expect(ended.map((j) => j.id)).toEqual([2]);
    expect(jobs.latest('restore_point.create')?.state).toBe('succeeded');
    expect(jobs.byId(2)?.id).toBe(2);
    expect(jobs.byId(null)).toBeNull();
  });

  it('does not call a job that was already over when first seen an end', async () => {
    const ended: Job[] = [];
    const { asked, client: c } = client([job(5, 'restore_point.drill', 'failed'), job(6, 'restore_point.restore', 'running')]);
    const jobs = new RestoreJobs((j) => ended.push(j), c);
    await jobs.refresh();
    expect(asked).toContain('/api/v1/jobs?kind=restore_point.drill&limit=3');
    expect(asked).toHaveLength(5);
    expect(jobs.jobs.map((j) => j.id)).toEqual([6, 5]);
    expect(ended).toEqual([]);
    jobs.apply(job(6, 'restore_point.restore', 'failed'));
    expect(ended.map((j) => j.id)).toEqual([6]);
  });

  it('ignores an older snapshot that arrives late', () => {
    const jobs = new RestoreJobs(() => {}, client().client);
    jobs.apply(job(3, 'instance.reset', 'succeeded'));
    jobs.apply(job(3, 'instance.reset', 'running'));
    expect(jobs.latest('instance.reset')?.state).toBe('succeeded');
  });
});
