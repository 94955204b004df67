import { describe, expect, it } from 'vitest';
import { can, mayOpen, navCurrent, navFor, normalisePath, pageForPath, PAGES } from './nav';

const ALL = [
  'host.view', 'host.check', 'host.settings', 'jobs.view', 'jobs.cancel', 'users.view', 'users.manage', 'audit.view',
  'notifications.view', 'notifications.manage', 'restore_points.view', 'restore_points.manage', 'restore.run',
  'backups.view', 'backups.manage',
];
const VIEWER = ['host.view', 'jobs.view', 'stack.view', 'updates.view', 'restore_points.view', 'backups.view', 'notifications.view'];
const me = (permissions: string[], must_enroll_second_factor = false) => ({ permissions, must_enroll_second_factor });
const labels = (m: ReturnType<typeof me> | null) => navFor(m).map((p) => p.label);

describe('navFor', () => {
  it('shows an owner everything', () => {
    expect(labels(me(ALL))).toEqual(['Home', 'Restore points', 'Backups', 'Alerts', 'Users', 'Audit log', 'Settings']);
  });

  it('shows a viewer Home, Restore points, Backups, Immich and Alerts', () => {
    expect(labels(me(VIEWER))).toEqual(['Home', 'Restore points', 'Backups', 'Immich', 'Alerts']);
  });

  it('shows Restore points only with restore_points.view', () => {
    expect(labels(me(['host.view', 'jobs.view', 'restore.run']))).toEqual(['Home']);
    expect(labels(me(['restore_points.view']))).toEqual(['Home', 'Restore points']);
  });

  it('shows Alerts only with notifications.view', () => {
    expect(labels(me(['host.view']))).toEqual(['Home']);
  });

  it('follows single permissions from groups', () => {
    expect(labels(me([...VIEWER, 'audit.view']))).toEqual(['Home', 'Restore points', 'Backups', 'Immich', 'Alerts', 'Audit log']);
    expect(labels(me(['stack.view']))).toEqual(['Home', 'Immich']);
    expect(labels(me(['backups.view']))).toEqual(['Home', 'Backups']);
    expect(labels(me(['users.view']))).toEqual(['Home', 'Users']);
    expect(labels(me(['host.settings']))).toEqual(['Home', 'Settings']);
  });

  it('shows nothing but Home to an admin who must first add a second factor', () => {
    expect(labels(me(ALL, true))).toEqual(['Home']);
  });

  it('shows nothing when signed out', () => {
    expect(navFor(null)).toEqual([]);
  });

  it('never lists My account or Help in the main navigation (they are in the user menu)', () => {
    expect(labels(me(ALL))).not.toContain('My account');
    expect(labels(me(ALL))).not.toContain('Help');
  });
});

describe('mayOpen', () => {
  const page = (id: string) => PAGES.find((p) => p.id === id)!;

  it('lets everyone signed in open My account, even before enrolling', () => {
    expect(mayOpen(me([]), page('account'))).toBe(true);
    expect(mayOpen(me(ALL, true), page('account'))).toBe(true);
    expect(mayOpen(null, page('account'))).toBe(false);
  });

  it('needs the page permission', () => {
    expect(mayOpen(me(VIEWER), page('users'))).toBe(false);
    expect(mayOpen(me(VIEWER), page('audit'))).toBe(false);
    expect(mayOpen(me(VIEWER), page('settings'))).toBe(false);
    expect(mayOpen(me(VIEWER), page('home'))).toBe(true);
    expect(mayOpen(me(['jobs.view']), page('home'))).toBe(true);
    expect(mayOpen(me([]), page('home'))).toBe(false);
  });

  it('blocks every other page while a second factor is owed', () => {
    expect(mayOpen(me(ALL, true), page('users'))).toBe(false);
    expect(mayOpen(me(ALL, true), page('home'))).toBe(false);
    expect(mayOpen(me(ALL, true), page('alerts'))).toBe(false);
  });

  it('needs notifications.view for the Alerts pages, and notifications.manage for channels', () => {
    for (const id of ['alerts', 'alert-rules']) {
      expect(mayOpen(me(VIEWER), page(id))).toBe(true);
      expect(mayOpen(me(['host.view', 'jobs.view']), page(id))).toBe(false);
    }
    expect(mayOpen(me(VIEWER), page('alert-channels'))).toBe(false);
    expect(mayOpen(me([...VIEWER, 'notifications.manage']), page('alert-channels'))).toBe(true);
  });

  it('opens help and the forgotten-password pages to anyone, signed in or not', () => {
    for (const id of ['help', 'forgot-password', 'reset-password']) {
      expect(mayOpen(null, page(id))).toBe(true);
      expect(mayOpen(me([]), page(id))).toBe(true);
      expect(mayOpen(me(ALL, true), page(id))).toBe(true);
    }
  });
});

describe('paths', () => {
  it('normalises trailing slashes, queries and hashes', () => {
    expect(normalisePath('/')).toBe('/');
    expect(normalisePath('')).toBe('/');
    expect(normalisePath('/users/')).toBe('/users');
    expect(normalisePath('/audit?actor=anna#x')).toBe('/audit');
  });

  it('finds pages by path, and nothing for unknown ones', () => {
    expect(pageForPath('/account/')?.id).toBe('account');
    expect(pageForPath('/settings')?.id).toBe('settings');
    expect(pageForPath('/restore-points/')?.id).toBe('restore-points');
    expect(pageForPath('/nope')).toBeNull();
    expect(pageForPath('/alerts')?.id).toBe('alerts');
    expect(pageForPath('/alerts/channels/')?.id).toBe('alert-channels');
    expect(pageForPath('/alerts/rules')?.id).toBe('alert-rules');
    expect(pageForPath('/alerts/other')).toBeNull();
    expect(pageForPath('/forgot-password')?.id).toBe('forgot-password');
    expect(pageForPath('/reset-password#token=x')?.id).toBe('reset-password');
  });

  it('finds every help page under /help', () => {
    expect(pageForPath('/help')?.id).toBe('help');
    expect(pageForPath('/help/pool-degraded')?.id).toBe('help');
    expect(pageForPath('/help/anything-at-all')?.id).toBe('help');
    expect(pageForPath('/helpful')).toBeNull();
  });

  it('marks Alerts current on its sub-pages', () => {
    expect(navCurrent('/alerts/channels')).toBe('/alerts');
    expect(navCurrent('/alerts/rules/')).toBe('/alerts');
    expect(navCurrent('/help/pool-degraded')).toBe('/help');
    expect(navCurrent('/users')).toBe('/users');
  });

  it('can() reads permissions', () => {
    expect(can(me(['users.manage']), 'users.manage')).toBe(true);
    expect(can(me(['users.view']), 'users.manage')).toBe(false);
    expect(can(null, 'users.view')).toBe(false);
  });
});
