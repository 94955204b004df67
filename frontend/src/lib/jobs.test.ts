import { describe, expect, it } from 'vitest';
import type { Job } from './api';
import { activeJobs, canCancel, latestOfKind, mergeJob, mergeJobs, recentFinishedJobs, supersedes } from './jobs';

function job(id: number, over: Partial<Job> = {}): Job {
  return {
    id,
    kind: 'host.self_check',
    target: null,
    state: 'queued',
    progress: { done: 0, total: 6, unit: 'checks', phase: 'Waiting' },
    requested_by: 'tester',
    created_at: '2026-11-22T12:00:00Z',
    started_at: null,
    finished_at: null,
    cancel_requested: false,
    result: null,
    error: null,
    ...over,
  };
}

describe('merging job snapshots', () => {
  it('keeps newest first and replaces by id', () => {
    let list = mergeJob([], job(1));
    list = mergeJob(list, job(3));
    list = mergeJob(list, job(2));
    expect(list.map((j) => j.id)).toEqual([3, 2, 1]);
    list = mergeJob(list, job(2, { state: 'running' }));
    expect(list.find((j) => j.id === 2)?.state).toBe('running');
    expect(list).toHaveLength(3);
  });

  it('ignores a stale snapshot that arrives late', () => {
    const done = job(1, { state: 'succeeded', finished_at: '2026-11-22T12:01:00Z' });
    expect(supersedes(done, job(1, { state: 'running' }))).toBe(false);
    expect(supersedes(job(1, { state: 'running' }), job(1, { state: 'queued' }))).toBe(false);
    const at4 = job(1, { state: 'running', progress: { done: 4, total: 6, unit: 'checks', phase: 'x' } });
    const at2 = job(1, { state: 'running', progress: { done: 2, total: 6, unit: 'checks', phase: 'y' } });
    expect(supersedes(at4, at2)).toBe(false);
    expect(supersedes(at2, at4)).toBe(true);
    expect(mergeJobs([done], [job(1, { state: 'running' })])[0].state).toBe('succeeded');
  });

  it('accepts a cancel request even without progress', () => {
    const run = job(1, { state: 'running' });
    expect(supersedes(run, { ...run, cancel_requested: true })).toBe(true);
  });

  it('splits active and finished jobs', () => {
    const list = mergeJobs([], [
      job(1, { state: 'succeeded', finished_at: '2026-11-22T12:01:00Z' }),
      job(2, { state: 'failed', finished_at: '2026-11-22T12:03:00Z' }),
      job(3, { state: 'running' }),
      job(4, { state: 'queued' }),
      job(5, { state: 'cancelled', finished_at: '2026-11-22T12:02:00Z', kind: 'other' }),
    ]);
    expect(activeJobs(list).map((j) => j.id)).toEqual([3, 4]);
    expect(recentFinishedJobs(list).map((j) => j.id)).toEqual([2, 5, 1]);
    expect(recentFinishedJobs(list, 1).map((j) => j.id)).toEqual([2]);
    expect(latestOfKind(list, 'host.self_check')?.id).toBe(4);
    expect(latestOfKind(list, 'nothing')).toBeNull();
  });

  it('offers cancel only on jobs still going and not already stopping', () => {
    expect(canCancel(job(1, { state: 'queued' }))).toBe(true);
    expect(canCancel(job(1, { state: 'running' }))).toBe(true);
    expect(canCancel(job(1, { state: 'running', cancel_requested: true }))).toBe(false);
    expect(canCancel(job(1, { state: 'succeeded' }))).toBe(false);
  });
});
