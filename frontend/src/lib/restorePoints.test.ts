import { describe, expect, it } from 'vitest';
import type { Job, RestorePoint, RestorePointSettings } from './api';
import {
  addPath,
  canDelete,
  childPath,
  folderTrail,
  checkSettings,
  confirmReady,
  createdPointId,
  groupByDay,
  isUsable,
  keptBecause,
  kindLabel,
  orderedScopes,
  parsePaths,
  PATHS_MAX,
  reasonWords,
  restoreReport,
  retentionWords,
  sourceLabel,
  toDraft,
} from './restorePoints';

/** A local time (so the tests do not depend on the machine's time zone) as the box sends it. */
const at = (y: number, mo: number, d: number, h = 12, mi = 0) => new Date(y, mo - 1, d, h, mi).toISOString();

const point = (over: Partial<RestorePoint> = {}): RestorePoint => ({
  id: 'kp-1',
  source: 'keepsake',
  kind: 'scheduled',
  state: 'complete',
  created_at: at(2026, 12, 3),
  note: null,
  pinned: false,
  immich_version: 'v1.132.3',
  postgres_version: '15.8',
  size: 1_000_000,
  parts: [],
  scopes: ['database', 'library', 'files', 'instance'],
  kept_because: ['daily'],
  expires_at: null,
  read_only: false,
  ...over,
});

describe('groupByDay', () => {
  const now = new Date(2026, 11, 3, 18, 0);

  it('groups by the local day, newest day first, with Today and Yesterday', () => {
    const points = [
      point({ id: 'a', created_at: at(2026, 12, 3, 9) }),
      point({ id: 'b', created_at: at(2026, 12, 3, 0, 5) }),
      point({ id: 'c', created_at: at(2026, 12, 2, 23, 59) }),
      point({ id: 'd', created_at: at(2026, 11, 28, 3) }),
    ];
    const groups = groupByDay(points, now, 'en-GB');
    expect(groups.map((g) => g.points.map((p) => p.id))).toEqual([['a', 'b'], ['c'], ['d']]);
    expect(groups.slice(0, 2).map((g) => g.label)).toEqual(['Today', 'Yesterday']);
    // The words of a date come from the runtime's ICU data (with or without a comma).
    expect(groups[2].label).toMatch(/^Saturday,? 28 November 2026$/);
    expect(groups.map((g) => g.key)).toEqual(['2026-12-03', '2026-12-02', '2026-11-28']);
  });

  it('sorts newest first whatever order the points come in, keeping ties in order', () => {
    const points = [
      point({ id: 'old', created_at: at(2026, 12, 1, 8) }),
      point({ id: 'new', created_at: at(2026, 12, 3, 8) }),
      point({ id: 'tie1', created_at: at(2026, 12, 1, 9) }),
      point({ id: 'tie2', created_at: at(2026, 12, 1, 9) }),
    ];
    const groups = groupByDay(points, now, 'en-GB');
    expect(groups.flatMap((g) => g.points.map((p) => p.id))).toEqual(['new', 'tie1', 'tie2', 'old']);
  });

  it('puts points with an unreadable time last', () => {
    const groups = groupByDay([point({ id: 'x', created_at: 'soon' }), point({ id: 'y' })], now, 'en-GB');
    expect(groups.map((g) => g.label)).toEqual(['Today', 'Unknown date']);
  });

  it('gives nothing for no points', () => {
    expect(groupByDay([], now)).toEqual([]);
  });

  it('keeps Yesterday right across a month boundary', () => {
    const groups = groupByDay([point({ created_at: at(2026, 11, 30, 22) })], new Date(2026, 11, 1, 1), 'en-GB');
    expect(groups[0].label).toBe('Yesterday');
  });
});

describe('words', () => {
  it('names each kind, and the read-only sources', () => {
    expect(kindLabel(point({ kind: 'manual' }))).toBe('Made by hand');
    expect(kindLabel(point({ kind: 'pre_update' }))).toBe('Before an update');
    expect(kindLabel(point({ kind: 'pre_restore' }))).toBe('Before a restore');
    expect(kindLabel(point({ kind: 'pre_reset' }))).toBe('Before a reset');
    expect(kindLabel(point({ kind: 'scheduled' }))).toBe('Scheduled');
    expect(kindLabel(point({ source: 'sanoid', kind: null }))).toBe('Routine snapshot');
    expect(kindLabel(point({ source: 'immich', kind: null }))).toBe('Immich database backup');
    expect(sourceLabel('sanoid')).toMatch(/Sanoid.*read-only/);
    expect(sourceLabel('keepsake')).toBe('');
  });

  it('says why a point is kept, in words, once per reason', () => {
    expect(keptBecause(point({ kept_because: ['pinned', 'daily'] }))).toBe(
      'Kept because it is pinned and it is the newest point of its day.',
    );
    expect(keptBecause(point({ kept_because: ['last', 'weekly', 'monthly', 'last'] }))).toBe(
      'Kept because it is one of the newest points, it is the newest point of its week and it is the newest point of its month.',
    );
    expect(keptBecause(point({ kept_because: ['manual'] }))).toMatch(/made by hand/);
    expect(keptBecause(point({ kept_because: [] }))).toMatch(/No rule keeps it/);
    expect(keptBecause(point({ source: 'sanoid', read_only: true, kept_because: [] }))).toBe('Sanoid decides how long it is kept.');
  });

  it('shows a reason it does not know as the box sent it', () => {
    expect(reasonWords('oldest-daily')).toMatch(/oldest daily point/);
    expect(reasonWords('brand_new-rule')).toBe('brand new rule');
  });

  it('explains the retention settings in plain words', () => {
    const s: RestorePointSettings = {
      daily_at_hour: 3,
      retention: { keep_last: 1, keep_hourly: 0, keep_daily: 7, keep_weekly: 4, keep_monthly: 12, keep_yearly: 0, safety_days: 14 },
      drill_every_days: 7,
    };
    const words = retentionWords(s);
    expect(words[0]).toBe('A point is made every day at 03:00.');
    expect(words[1]).toBe(
      'Of the scheduled points, Keepsake keeps the newest point, the newest point of each of the last 7 days, the newest point of each of the last 4 weeks and the newest point of each of the last 12 months. The rules add up; the rest are removed.',
    );
    expect(words).toContain('Points made before an update, a restore or a reset stay for 14 days.');
    expect(words).toContain('Pinned points always stay.');
    expect(retentionWords({ ...s, daily_at_hour: null })[0]).toMatch(/No point is made by the schedule/);
    expect(retentionWords({ ...s, retention: { ...s.retention, keep_last: 3, safety_days: 1 } })).toContain(
      'Points made before an update, a restore or a reset stay for 1 day.',
    );
  });
});

describe('what can be done with a point', () => {
  it('restores only from complete points that can restore something', () => {
    expect(isUsable(point())).toBe(true);
    expect(isUsable(point({ state: 'creating' }))).toBe(false);
    expect(isUsable(point({ scopes: [] }))).toBe(false);
  });

  it('deletes only Keepsake’s own, unpinned, complete points', () => {
    expect(canDelete(point())).toBe(true);
    expect(canDelete(point({ pinned: true }))).toBe(false);
    expect(canDelete(point({ read_only: true, source: 'immich' }))).toBe(false);
    expect(canDelete(point({ state: 'creating' }))).toBe(false);
  });

  it('offers the point’s own scopes, everything first', () => {
    expect(orderedScopes(['files', 'database', 'instance', 'library'])).toEqual(['instance', 'database', 'library', 'files']);
    expect(orderedScopes(['database'])).toEqual(['database']);
  });
});

describe('confirmReady', () => {
  const plan = { confirmation: 'restore everything' };

  it('is ready only for exactly the phrase', () => {
    expect(confirmReady('restore everything', plan)).toBe(true);
    expect(confirmReady('', plan)).toBe(false);
    expect(confirmReady('restore', plan)).toBe(false);
    expect(confirmReady('Restore everything', plan)).toBe(false);
    expect(confirmReady('restore everything ', plan)).toBe(false);
    expect(confirmReady(' restore everything', plan)).toBe(false);
  });

  it('is not ready without a plan, with an empty phrase, or while busy', () => {
    expect(confirmReady('', null)).toBe(false);
    expect(confirmReady('', { confirmation: '' })).toBe(false);
    expect(confirmReady('restore everything', plan, true)).toBe(false);
  });
});

describe('parsePaths', () => {
  it('takes one path per line, trimmed, without blank lines', () => {
    expect(parsePaths('upload/a/IMG_1.jpg\n\n  library/anna/2024  \r\nthumbs/x\n')).toEqual({
      paths: ['upload/a/IMG_1.jpg', 'library/anna/2024', 'thumbs/x'],
      errors: [],
    });
  });

  it('allows dots inside names, and a folder’s trailing slash', () => {
    expect(parsePaths('a/..b/c..jpg\n.hidden\nupload/anna/').paths).toEqual(['a/..b/c..jpg', '.hidden', 'upload/anna']);
  });

  it('refuses “.” and empty parts, as the box does', () => {
    const c = parsePaths('./a\na//b\na/./b\n/');
    expect(c.paths).toEqual([]);
    expect(c.errors.slice(0, 3).every((e) => /“\.” and empty parts/.test(e))).toBe(true);
    expect(c.errors[3]).toMatch(/^Line 4: .*relative/);
  });

  it('refuses absolute paths, “..” parts and control characters, naming the line', () => {
    const c = parsePaths('ok/file.jpg\n/etc/passwd\nupload/../../secret\n..\nbad\u0007name\nupload\\..\\x');
    expect(c.paths).toEqual(['ok/file.jpg']);
    expect(c.errors).toHaveLength(5);
    expect(c.errors[0]).toMatch(/^Line 2: .*relative/);
    expect(c.errors[1]).toMatch(/^Line 3: .*“\.\.”/);
    expect(c.errors[2]).toMatch(/^Line 4: /);
    expect(c.errors[3]).toMatch(/^Line 5: .*control/);
    expect(c.errors[4]).toMatch(/^Line 6: /);
  });

  it('needs at least one path, and at most the limit', () => {
    expect(parsePaths('  \n\n').errors).toEqual(['Name at least one file or folder, one per line.']);
    const many = Array.from({ length: PATHS_MAX + 1 }, (_, i) => `f${i}`).join('\n');
    expect(parsePaths(many).errors).toEqual([`At most ${PATHS_MAX} files or folders at a time.`]);
    expect(parsePaths(many.split('\n').slice(0, PATHS_MAX).join('\n')).errors).toEqual([]);
  });

  it('refuses a path longer than the box takes', () => {
    expect(parsePaths('a'.repeat(4097)).errors[0]).toMatch(/longer than 4096/);
    expect(parsePaths('a'.repeat(4096)).errors).toEqual([]);
  });
});

describe('checkSettings', () => {
  const saved: RestorePointSettings = {
    daily_at_hour: 3,
    retention: { keep_last: 1, keep_hourly: 0, keep_daily: 7, keep_weekly: 4, keep_monthly: 12, keep_yearly: 1, safety_days: 14 },
    drill_every_days: 7,
  };

  it('gives back the settings it was made from', () => {
    expect(checkSettings(toDraft(saved))).toEqual({ ok: true, settings: saved });
    const never = { ...saved, daily_at_hour: null, drill_every_days: null };
    expect(checkSettings(toDraft(never))).toEqual({ ok: true, settings: never });
  });

  it('reads numbers typed as text, and blanks as never for the drill', () => {
    const d = toDraft(saved);
    d.retention.keep_daily = ' 30 ';
    d.drill_every_days = null;
    const c = checkSettings(d);
    expect(c.ok && c.settings.retention.keep_daily).toBe(30);
    expect(c.ok && c.settings.drill_every_days).toBe(null);
  });

  it('names each field that is wrong', () => {
    const d = toDraft(saved);
    d.retention.keep_last = -1;
    d.retention.keep_weekly = 2.5;
    d.retention.keep_yearly = 10_001;
    d.retention.safety_days = 0;
    d.drill_every_days = 91;
    const c = checkSettings(d);
    expect(c.ok).toBe(false);
    if (c.ok) return;
    expect(Object.keys(c.errors).sort()).toEqual(['drill_every_days', 'keep_last', 'keep_weekly', 'keep_yearly', 'safety_days']);
    expect(c.errors.keep_yearly).toBe('At most 10000.');
    expect(c.errors.safety_days).toMatch(/at least 1 day/);
    expect(c.errors.drill_every_days).toMatch(/1 to 90/);
  });

  it('refuses a blank count, and a policy that keeps nothing', () => {
    const d = toDraft(saved);
    d.retention.keep_daily = '';
    expect(checkSettings(d).ok).toBe(false);
    const none = toDraft({ ...saved, retention: { ...saved.retention, keep_last: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0, keep_yearly: 0 } });
    const c = checkSettings(none);
    expect(!c.ok && c.errors.keep_last).toMatch(/at least one/);
  });
});

describe('job results', () => {
  const job = (result: Job['result']): Job => ({
    id: 7,
    kind: 'restore_point.restore',
    state: 'succeeded',
    cancel_requested: false,
    created_at: at(2026, 12, 3),
    progress: { done: 1, total: 1, phase: 'done', unit: 'steps' },
    requested_by: 'owner',
    result,
  });
  const report = { point_id: 'kp-1', scope: 'instance' as const, pre_point_id: 'kp-2', tables: [], files_written: 0, files_removed: 0, bytes_copied: 0 };

  it('reads the pre-restore point of a restore, reset or undo', () => {
    expect(restoreReport(job({ kind: 'restore_point.restore', report }))?.pre_point_id).toBe('kp-2');
    expect(restoreReport(job({ kind: 'instance.reset', report }))?.pre_point_id).toBe('kp-2');
    expect(restoreReport(job({ kind: 'restore_point.create', report: { point_id: 'kp-3', size: 1, pruned: [] } }))).toBeNull();
    expect(restoreReport(job(null))).toBeNull();
    expect(restoreReport(null)).toBeNull();
  });

  it('reads the point a create job made', () => {
    expect(createdPointId(job({ kind: 'restore_point.create', report: { point_id: 'kp-3', size: 1, pruned: [] } }))).toBe('kp-3');
    expect(createdPointId(job({ kind: 'restore_point.restore', report }))).toBeNull();
  });
});

describe('the file browser', () => {
  it('names the folders above a folder', () => {
    expect(folderTrail('')).toEqual([]);
    expect(folderTrail('upload/anna/2024')).toEqual([
      { name: 'upload', path: 'upload' },
      { name: 'anna', path: 'upload/anna' },
      { name: '2024', path: 'upload/anna/2024' },
    ]);
  });

  it('joins an entry to its folder', () => {
    expect(childPath('', 'upload')).toBe('upload');
    expect(childPath('upload/anna', 'IMG_1.jpg')).toBe('upload/anna/IMG_1.jpg');
  });

  it('adds a path to the text box once, on a line of its own', () => {
    expect(addPath('', 'upload/a.jpg')).toBe('upload/a.jpg');
    expect(addPath('upload/a.jpg\n\n', 'upload/b.jpg')).toBe('upload/a.jpg\nupload/b.jpg');
    expect(addPath('upload/a.jpg\nupload/b.jpg', 'upload/a.jpg')).toBe('upload/a.jpg\nupload/b.jpg');
    expect(parsePaths(addPath(addPath('', 'x/1'), 'x/2')).paths).toEqual(['x/1', 'x/2']);
  });
});
