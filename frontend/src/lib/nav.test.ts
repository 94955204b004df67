import { describe, expect, it } from 'vitest';
import { can, mayOpen, navFor, normalisePath, pageForPath, PAGES } from './nav';

const ALL = [
  'host.view', 'host.check', 'host.settings', 'jobs.view', 'jobs.cancel', 'users.view', 'users.manage', 'audit.view',
];
const VIEWER = ['host.view', 'jobs.view', 'stack.view', 'updates.view', 'restore_points.view', 'backups.view', 'notifications.view'];
const me = (permissions: string[], must_enroll_second_factor = false) => ({ permissions, must_enroll_second_factor });
const labels = (m: ReturnType<typeof me> | null) => navFor(m).map((p) => p.label);

describe('navFor', () => {
  it('shows an owner everything', () => {
    expect(labels(me(ALL))).toEqual(['Home', 'Users', 'Audit log', 'Settings']);
  });

  it('shows a viewer only Home', () => {
    expect(labels(me(VIEWER))).toEqual(['Home']);
  });

  it('follows single permissions from groups', () => {
    expect(labels(me([...VIEWER, 'audit.view']))).toEqual(['Home', 'Audit log']);
    expect(labels(me(['users.view']))).toEqual(['Home', 'Users']);
    expect(labels(me(['host.settings']))).toEqual(['Home', 'Settings']);
  });

  it('shows nothing but Home to an admin who must first add a second factor', () => {
    expect(labels(me(ALL, true))).toEqual(['Home']);
  });

  it('shows nothing when signed out', () => {
    expect(navFor(null)).toEqual([]);
  });

  it('never lists My account in the main navigation (it is in the user menu)', () => {
    expect(labels(me(ALL))).not.toContain('My account');
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
    expect(pageForPath('/nope')).toBeNull();
  });

  it('can() reads permissions', () => {
    expect(can(me(['users.manage']), 'users.manage')).toBe(true);
    expect(can(me(['users.view']), 'users.manage')).toBe(false);
    expect(can(null, 'users.view')).toBe(false);
  });
});
