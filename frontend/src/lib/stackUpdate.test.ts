import { describe, expect, it } from 'vitest';
import type { Job, StackUpdateCheck } from './api';
import { jobStep, rollbackConfirmText, safeLink, stackJobOutcome, updateConfirmText, updateOffer, versionLeft } from './stackUpdate';

const check = (over: Partial<StackUpdateCheck> = {}): StackUpdateCheck => ({
  current: 'v3.1.0',
  available: null,
  digest: null,
  release_notes: null,
  blocked: null,
  checked_at: '2026-12-07T10:00:00Z',
  error: null,
  ...over,
});

const job = (over: Partial<Job> = {}): Job => ({
  id: 1,
  kind: 'stack.update',
  state: 'running',
  cancel_requested: false,
  created_at: '2026-12-07T10:00:00Z',
  progress: { done: 0, total: null, phase: '', unit: '' },
  requested_by: 'owner',
  ...over,
});
const phase = (p: string) => ({ done: 0, total: null, phase: p, unit: 'steps' });

describe('updateOffer', () => {
  it('offers nothing when no newer version is available', () => {
    expect(updateOffer(check())).toEqual({ kind: 'none', text: 'Immich v3.1.0 is the newest version Keepsake runs.' });
    expect(updateOffer(check({ current: null })).kind).toBe('none');
  });
  it('offers the update with its release notes', () => {
    expect(updateOffer(check({ available: 'v3.2.0', release_notes: 'https://github.com/immich-app/immich/releases/tag/v3.2.0' }))).toEqual({
      kind: 'available',
      version: 'v3.2.0',
      notes: 'https://github.com/immich-app/immich/releases/tag/v3.2.0',
    });
  });
  it('says why a blocked update is not offered', () => {
    const o = updateOffer(check({ available: 'v4.0.0', blocked: 'update to v3.9.0 first' }));
    expect(o).toEqual({ kind: 'blocked', version: 'v4.0.0', reason: 'update to v3.9.0 first', notes: null });
  });
  it('treats a blank reason as not blocked', () => {
    expect(updateOffer(check({ available: 'v3.2.0', blocked: '  ' })).kind).toBe('available');
  });
});

describe('safeLink', () => {
  it('keeps http(s) and drops the rest', () => {
    expect(safeLink('https://example.org/notes')).toBe('https://example.org/notes');
    expect(safeLink('javascript:alert(1)')).toBeNull();
    expect(safeLink('not a url')).toBeNull();
    expect(safeLink(null)).toBeNull();
  });
});

describe('confirmations', () => {
  it('the update says restore point first, unavailable a few minutes, back by itself', () => {
    const t = updateConfirmText('v3.1.0', 'v3.2.0');
    expect(t.title).toBe('Update Immich to v3.2.0?');
    const all = t.points.join(' ');
    expect(all).toMatch(/restore point/);
    expect(all).toMatch(/unavailable for a few minutes/);
    expect(all).toMatch(/goes back to the version before by itself/);
  });
  it('the rollback says the database goes back and a point of now is made first', () => {
    const t = rollbackConfirmText('v3.2.0', { version: 'v3.1.0', restore_point: 'rp-7' });
    expect(t.title).toBe('Go back to Immich v3.1.0?');
    const all = t.points.join(' ');
    expect(all).toMatch(/restore point of now/);
    expect(all).toMatch(/database goes back to the restore point rp-7/);
    expect(all).toMatch(/undone/);
  });
});

describe('jobStep', () => {
  it('follows an update through its phases', () => {
    expect(jobStep(job({ progress: phase('making a pre-update restore point') }))).toBe(0);
    expect(jobStep(job({ progress: { done: 10, total: 100, phase: 'pulling image 1 of 2: x', unit: 'B' } }))).toBe(1);
    expect(jobStep(job({ progress: phase('pulling image 2 of 2: x') }), [{ message: 'creating ks_server (x)' }])).toBe(2);
    expect(jobStep(job({ progress: phase('waiting for server') }), [{ message: 'creating ks_server (x)' }])).toBe(3);
  });
  it('follows a rollback through its phases', () => {
    const r = (p: string) => job({ kind: 'stack.rollback', progress: phase(p) });
    expect(jobStep(r('making a restore point of now'))).toBe(0);
    expect(jobStep(r('loading the database of the restore point'))).toBe(1);
    expect(jobStep(r('loading the database of the restore point'), [{ message: 'creating x' }])).toBe(2);
    expect(jobStep(r('waiting for server'))).toBe(3);
  });
});

describe('stackJobOutcome', () => {
  it('is null while the job runs', () => {
    expect(stackJobOutcome(job())).toBeNull();
  });
  it('names the new version and the restore point after an update', () => {
    const o = stackJobOutcome(
      job({
        state: 'succeeded',
        result: { kind: 'stack.update', report: { from: 'v3.1.0', to: 'v3.2.0', restore_point: 'rp-3', pulled: [], healthy_after_secs: 12 } },
      }),
    );
    expect(o?.tone).toBe('ok');
    expect(o?.title).toBe('Immich v3.2.0 is running');
    expect(o?.text).toMatch(/Restore point rp-3 holds the box as it was on v3.1.0/);
  });
  it('names the version back and how to undo after a rollback', () => {
    const o = stackJobOutcome(
      job({
        kind: 'stack.rollback',
        state: 'succeeded',
        result: { kind: 'stack.rollback', report: { from: 'v3.2.0', to: 'v3.1.0', restored_from: 'rp-3', pre_rollback_point: 'rp-4' } },
      }),
    );
    expect(o?.title).toBe('Immich v3.1.0 is running again');
    expect(o?.text).toMatch(/rp-4.*undoes this/);
  });
  it('says a failed update is back on the old version, in words', () => {
    const o = stackJobOutcome(
      job({ state: 'failed', error: 'the update to v3.2.0 failed (not healthy). Immich is back on v3.1.0, with its database as it was before the update (restore point rp-3)' }),
    );
    expect(o?.tone).toBe('bad');
    expect(o?.title).toBe('The update failed: Immich is back on v3.1.0');
    expect(o?.text).toMatch(/^The update to v3\.2\.0 failed/);
  });
  it('says when going back failed too, and when nothing changed', () => {
    expect(stackJobOutcome(job({ state: 'failed', error: 'the update to v3.2.0 failed (x), and rolling back to v3.1.0 failed too (y)' }))?.title).toBe(
      'The update failed, and going back failed too',
    );
    expect(stackJobOutcome(job({ state: 'failed', error: 'could not make the pre-update restore point, so nothing was changed: full' }))?.title).toBe(
      'The update failed: nothing was changed',
    );
  });
});

describe('versionLeft', () => {
  it('says running now or how long ago it was left', () => {
    expect(versionLeft({ until: null }).text).toBe('Running now');
    expect(versionLeft({ until: '2026-12-07T10:00:00Z' }, new Date('2026-12-07T13:00:00Z')).text).toBe('Left 3 hours ago');
  });
});
