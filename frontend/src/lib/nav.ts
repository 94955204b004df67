// Which pages exist, what each needs, and the navigation a user sees (pure logic).

import type { Me } from './api';

export type PageId =
  | 'home'
  | 'restore-points'
  | 'backups'
  | 'stack'
  | 'account'
  | 'alerts'
  | 'alert-channels'
  | 'alert-rules'
  | 'users'
  | 'audit'
  | 'settings'
  | 'help'
  | 'forgot-password'
  | 'reset-password'
  | 'not-found';

export interface PageInfo {
  id: PageId;
  path: string;
  label: string;
  /** Permissions of which the user needs at least one; empty: any signed-in user. */
  needs: string[];
  /** Shown in the main navigation (My account and Help are in the user menu instead). */
  inNav: boolean;
  /** Open to anyone, signed in or not, in every phase of the session (help, forgotten password). */
  public?: boolean;
  /** Also answers for the paths below it (`/help/<page>`). */
  prefix?: boolean;
}

export const PAGES: readonly PageInfo[] = [
  { id: 'home', path: '/', label: 'Home', needs: ['host.view', 'jobs.view'], inNav: true },
  { id: 'restore-points', path: '/restore-points', label: 'Restore points', needs: ['restore_points.view'], inNav: true },
  { id: 'backups', path: '/backups', label: 'Backups', needs: ['backups.view'], inNav: true },
  { id: 'stack', path: '/stack', label: 'Immich', needs: ['stack.view'], inNav: true },
  { id: 'alerts', path: '/alerts', label: 'Alerts', needs: ['notifications.view'], inNav: true },
  // Channels name where messages go, and an ntfy topic or a webhook address can be a key: only for
  // those who manage them (the agent lists them to nobody else).
  { id: 'alert-channels', path: '/alerts/channels', label: 'Alert channels', needs: ['notifications.manage'], inNav: false },
  { id: 'alert-rules', path: '/alerts/rules', label: 'Alert rules', needs: ['notifications.view'], inNav: false },
  { id: 'users', path: '/users', label: 'Users', needs: ['users.view'], inNav: true },
  { id: 'audit', path: '/audit', label: 'Audit log', needs: ['audit.view'], inNav: true },
  { id: 'settings', path: '/settings', label: 'Settings', needs: ['host.settings'], inNav: true },
  { id: 'help', path: '/help', label: 'Help', needs: [], inNav: false, public: true, prefix: true },
  { id: 'account', path: '/account', label: 'My account', needs: [], inNav: false },
  { id: 'forgot-password', path: '/forgot-password', label: 'Forgotten password', needs: [], inNav: false, public: true },
  { id: 'reset-password', path: '/reset-password', label: 'Choose a new password', needs: [], inNav: false, public: true },
];

/** The pages under Alerts, shown as tabs on each of them. */
export const ALERT_TABS: readonly PageId[] = ['alerts', 'alert-channels', 'alert-rules'];

/** Planned pages, shown as "Coming soon" (never as links that lead nowhere). */
export const COMING_SOON: readonly string[] = ['Photos & updates'];

/** Normalise a location's path: no trailing slash (but "/"), no query or hash. */
export function normalisePath(path: string): string {
  const p = path.split(/[?#]/)[0] || '/';
  return p.length > 1 ? p.replace(/\/+$/, '') || '/' : p;
}

export function pageForPath(path: string): PageInfo | null {
  const p = normalisePath(path);
  return PAGES.find((x) => x.path === p || (x.prefix && p.startsWith(`${x.path}/`))) ?? null;
}

/** The page whose navigation entry is current at `path` (Alerts for its sub-pages). */
export function navCurrent(path: string): string {
  const page = pageForPath(path);
  if (page && ALERT_TABS.includes(page.id)) return '/alerts';
  return page?.path ?? normalisePath(path);
}

export function can(me: Pick<Me, 'permissions'> | null | undefined, permission: string): boolean {
  return !!me && me.permissions.includes(permission);
}

/** Whether the user may open the page (before the box is asked; the box decides in the end). */
export function mayOpen(me: Pick<Me, 'permissions' | 'must_enroll_second_factor'> | null, page: PageInfo): boolean {
  if (page.public) return true;
  if (!me) return false;
  if (page.id === 'account') return true;
  if (me.must_enroll_second_factor) return false;
  return page.needs.length === 0 || page.needs.some((p) => me.permissions.includes(p));
}

/** The navigation entries the user is allowed to see, in order. */
export function navFor(me: Pick<Me, 'permissions' | 'must_enroll_second_factor'> | null): PageInfo[] {
  if (!me) return [];
  return PAGES.filter((p) => p.inNav && (mayOpen(me, p) || p.id === 'home'));
}
