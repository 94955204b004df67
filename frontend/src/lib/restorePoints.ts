// Restore points in words (pure logic): the timeline grouped by day, what kind of point each is and
// why it is kept, the restore wizard's checks (the paths of a file restore, the typed
// confirmation), and the retention settings in plain words with their checks.

import type {
  Job,
  RestorePlan,
  RestorePoint,
  RestorePointKind,
  RestorePointSettings,
  RestorePointSource,
  RestoreReport,
  RestoreScope,
  RetentionSettings,
} from './api';
import type { Tone } from './format';

/** The job kinds of this page. */
export const JOB = {
  create: 'restore_point.create',
  restore: 'restore_point.restore',
  drill: 'restore_point.drill',
  reset: 'instance.reset',
  undoReset: 'instance.undo_reset',
} as const;

export const RESTORE_JOB_KINDS: readonly string[] = Object.values(JOB);

/** The phrases the box wants typed to reset Immich, and to undo that. */
export const RESET_PHRASE = 'reset everything';
export const UNDO_RESET_PHRASE = 'undo reset';

// Limits the box enforces (keepsake_api::limits); checked here first to say so next to the field.
export const NOTE_MAX = 200;
export const PATHS_MAX = 100;
export const PATH_MAX = 4096;
export const RETENTION_COUNT_MAX = 10_000;
export const SAFETY_DAYS_MAX = 3650;
export const DRILL_DAYS_MAX = 90;

const KIND_WORDS: Record<RestorePointKind, string> = {
  scheduled: 'Scheduled',
  manual: 'Made by hand',
  pre_update: 'Before an update',
  pre_restore: 'Before a restore',
  pre_reset: 'Before a reset',
};

/** What kind of point this is, in a word or three. */
export function kindLabel(p: Pick<RestorePoint, 'kind' | 'source'>): string {
  if (p.source === 'sanoid') return 'Routine snapshot';
  if (p.source === 'immich') return 'Immich database backup';
  return p.kind ? KIND_WORDS[p.kind] : 'Restore point';
}

export function kindTone(p: Pick<RestorePoint, 'kind' | 'source'>): Tone {
  if (p.source !== 'keepsake') return 'neutral';
  switch (p.kind) {
    case 'manual':
      return 'info';
    case 'pre_update':
    case 'pre_restore':
    case 'pre_reset':
      return 'warn';
    default:
      return 'ok';
  }
}

/** Who made the point, for the read-only ones ("" for Keepsake's own). */
export function sourceLabel(source: RestorePointSource): string {
  switch (source) {
    case 'sanoid':
      return 'Sanoid · read-only';
    case 'immich':
      return 'Immich · read-only';
    case 'keepsake':
      return '';
  }
}

const REASON_WORDS: Record<string, string> = {
  pinned: 'it is pinned',
  within: 'it is recent',
  last: 'it is one of the newest points',
  hourly: 'it is the newest point of its hour',
  daily: 'it is the newest point of its day',
  weekly: 'it is the newest point of its week',
  monthly: 'it is the newest point of its month',
  yearly: 'it is the newest point of its year',
  'oldest-hourly': 'it is the oldest hourly point, kept until there are enough',
  'oldest-daily': 'it is the oldest daily point, kept until there are enough',
  'oldest-weekly': 'it is the oldest weekly point, kept until there are enough',
  'oldest-monthly': 'it is the oldest monthly point, kept until there are enough',
  'oldest-yearly': 'it is the oldest yearly point, kept until there are enough',
  manual: 'it was made by hand (kept until deleted)',
  safety: 'it is a safety point',
};

/** One reason in words; a word the page does not know is shown as the box sent it. */
export function reasonWords(reason: string): string {
  return REASON_WORDS[reason] ?? reason.replace(/[-_]+/g, ' ');
}

function joinWords(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** "Kept because it is pinned and it is the newest point of its day." */
export function keptBecause(p: Pick<RestorePoint, 'kept_because' | 'source' | 'read_only'>): string {
  if (p.source === 'sanoid') return 'Sanoid decides how long it is kept.';
  if (p.source === 'immich') return 'Immich decides how long it is kept.';
  const reasons = [...new Set(p.kept_because)].map(reasonWords);
  if (reasons.length === 0) return 'No rule keeps it: it goes the next time old points are tidied away.';
  return `Kept because ${joinWords(reasons)}.`;
}

export interface DayGroup<P> {
  /** The local date, YYYY-MM-DD. */
  key: string;
  /** "Today", "Yesterday", or the date in words. */
  label: string;
  points: P[];
}

function dayKey(d: Date): string {
  const m = String(d.getMonth() + 1).padStart(2, '0');
  const day = String(d.getDate()).padStart(2, '0');
  return `${d.getFullYear()}-${m}-${day}`;
}

/**
 * Points by the reader's local day, newest day first and newest first within a day (the box's
 * order is kept for equal times). Points with an unreadable time go last, under "Unknown date".
 */
export function groupByDay<P extends Pick<RestorePoint, 'created_at'>>(
  points: readonly P[],
  now: Date = new Date(),
  locale?: string,
): DayGroup<P>[] {
  const today = dayKey(now);
  const y = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  const yesterday = dayKey(y);
  const fmt = new Intl.DateTimeFormat(locale, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
  const timed = points.map((p, i) => ({ p, i, t: Date.parse(p.created_at) }));
  timed.sort((a, b) => {
    const an = Number.isNaN(a.t);
    const bn = Number.isNaN(b.t);
    if (an || bn) return an === bn ? a.i - b.i : an ? 1 : -1;
    return b.t - a.t || a.i - b.i;
  });
  const groups: DayGroup<P>[] = [];
  for (const { p, t } of timed) {
    let key = 'unknown';
    let label = 'Unknown date';
    if (!Number.isNaN(t)) {
      const d = new Date(t);
      key = dayKey(d);
      label = key === today ? 'Today' : key === yesterday ? 'Yesterday' : fmt.format(d);
    }
    const last = groups[groups.length - 1];
    if (last && last.key === key) last.points.push(p);
    else groups.push({ key, label, points: [p] });
  }
  return groups;
}

/** A point's time of day in the reader's locale: "14:05". */
export function timeOfDay(ts: string, locale?: string): string {
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return '';
  return new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' }).format(t);
}

/** Whether a point can be restored from now: complete, and able to restore something. */
export function isUsable(p: Pick<RestorePoint, 'state' | 'scopes'>): boolean {
  return p.state === 'complete' && p.scopes.length > 0;
}

/** Whether the delete button makes sense: Keepsake's own, complete, not pinned. */
export function canDelete(p: Pick<RestorePoint, 'read_only' | 'pinned' | 'state'>): boolean {
  return !p.read_only && !p.pinned && p.state === 'complete';
}

const SCOPE_ORDER: readonly RestoreScope[] = ['instance', 'database', 'library', 'files'];

const SCOPE_WORDS: Record<RestoreScope, { label: string; help: string }> = {
  instance: {
    label: 'Everything: photos and the database',
    help: 'Immich exactly as it was at this point: every photo and video, albums, people, users and settings.',
  },
  database: {
    label: 'The database only',
    help: 'Albums, people, users and settings as they were. Photo and video files are not touched.',
  },
  library: {
    label: 'Every photo and video file',
    help: 'Files as they were: files added since are removed, changed or deleted ones come back. The database is not touched.',
  },
  files: {
    label: 'Chosen files or folders',
    help: 'Only the files or folders you name come back; nothing else is touched.',
  },
};

export function scopeLabel(s: RestoreScope): string {
  return SCOPE_WORDS[s].label;
}

export function scopeHelp(s: RestoreScope): string {
  return SCOPE_WORDS[s].help;
}

/** The scopes a point offers, in the wizard's order (everything first). */
export function orderedScopes(scopes: readonly RestoreScope[]): RestoreScope[] {
  return SCOPE_ORDER.filter((s) => scopes.includes(s));
}

export interface PathsCheck {
  paths: string[];
  /** One sentence per problem, naming the line; empty when the list is fine. */
  errors: string[];
}

/**
 * The file restore's text box → paths: one per line, blank lines, surrounding spaces and a
 * folder's trailing `/` dropped. Each must be relative to the library (no leading `/`), with no
 * `..`, `.` or empty part (as the box checks) and no control characters; at least one and at most
 * PATHS_MAX.
 */
export function parsePaths(text: string): PathsCheck {
  const paths: string[] = [];
  const errors: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (!trimmed) return;
    const p = trimmed.length > 1 ? trimmed.replace(/\/+$/, '') : trimmed;
    const line = `Line ${i + 1}`;
    if (/[\u0000-\u001f\u007f]/.test(p)) errors.push(`${line}: remove the control character.`);
    else if (p.startsWith('/')) errors.push(`${line}: write the path relative to the library, without the leading “/”.`);
    else if (p.split(/[\\/]/).includes('..')) errors.push(`${line}: “..” is not allowed; name the file or folder inside the library.`);
    else if (p.split('/').some((part) => part === '' || part === '.')) errors.push(`${line}: remove the “.” and empty parts (“//”) from the path.`);
    else if (p.length > PATH_MAX) errors.push(`${line}: the path is longer than ${PATH_MAX} characters.`);
    else paths.push(p);
  });
  if (paths.length === 0 && errors.length === 0) errors.push('Name at least one file or folder, one per line.');
  if (paths.length > PATHS_MAX) errors.push(`At most ${PATHS_MAX} files or folders at a time.`);
  return { paths, errors };
}

/** A folder's path and the folders above it, for the file browser's trail ('' is the top). */
export function folderTrail(path: string): { name: string; path: string }[] {
  const parts = path.split('/').filter(Boolean);
  return parts.map((name, i) => ({ name, path: parts.slice(0, i + 1).join('/') }));
}

/** An entry's path inside the library, from its folder's. */
export function childPath(folder: string, name: string): string {
  return folder ? `${folder}/${name}` : name;
}

/** The text box with one more path, unless it is there already. */
export function addPath(text: string, path: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines.includes(path)) return text;
  const base = text.replace(/\s+$/, '');
  return base ? `${base}\n${path}` : path;
}

/** The Restore button works only when the typed text is exactly the plan's phrase. */
export function confirmReady(typed: string, plan: Pick<RestorePlan, 'confirmation'> | null, busy = false): boolean {
  return !busy && plan !== null && plan.confirmation.length > 0 && typed === plan.confirmation;
}

/** A restore job's report (restore, reset or undo), or null. */
export function restoreReport(job: Job | null | undefined): RestoreReport | null {
  const r = job?.result;
  if (!r) return null;
  if (r.kind === 'restore_point.restore' || r.kind === 'instance.reset' || r.kind === 'instance.undo_reset') return r.report;
  return null;
}

/** The point a create job made, or null. */
export function createdPointId(job: Job | null | undefined): string | null {
  return job?.result?.kind === 'restore_point.create' ? job.result.report.point_id : null;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "08:00", or "Never" for no schedule. */
export function hourLabel(h: number | null | undefined): string {
  return h === null || h === undefined ? 'Never' : `${String(h).padStart(2, '0')}:00`;
}

/** The retention policy in plain words, one sentence per rule that keeps something. */
export function retentionWords(s: Pick<RestorePointSettings, 'daily_at_hour' | 'retention'>): string[] {
  const r = s.retention;
  const out: string[] = [];
  out.push(
    s.daily_at_hour === null || s.daily_at_hour === undefined
      ? 'No point is made by the schedule; only by hand and before updates, restores and resets.'
      : `A point is made every day at ${hourLabel(s.daily_at_hour)}.`,
  );
  const rules: string[] = [];
  if (r.keep_last > 0) rules.push(r.keep_last === 1 ? 'the newest point' : `the ${r.keep_last} newest points`);
  const periods: [number, string, string][] = [
    [r.keep_hourly, 'hour', 'hours'],
    [r.keep_daily, 'day', 'days'],
    [r.keep_weekly, 'week', 'weeks'],
    [r.keep_monthly, 'month', 'months'],
    [r.keep_yearly, 'year', 'years'],
  ];
  for (const [n, one, many] of periods) {
    if (n > 0) rules.push(`the newest point of each of the last ${count(n, one, many)}`);
  }
  if (rules.length === 0) out.push('Scheduled points are not kept by any rule: each is removed once the next is made.');
  else out.push(`Of the scheduled points, Keepsake keeps ${joinWords(rules)}. The rules add up; the rest are removed.`);
  out.push('Points made by hand stay until you delete them.');
  out.push(`Points made before an update, a restore or a reset stay for ${count(r.safety_days, 'day')}.`);
  out.push('Pinned points always stay.');
  return out;
}

/** What a number input holds: a number, or '' or null when blank. */
export type Typed = number | string | null;

/** A settings form as typed. */
export interface SettingsDraft {
  /** '' for never. */
  daily_at_hour: number | '';
  retention: Record<keyof RetentionSettings, Typed>;
  /** Blank for never. */
  drill_every_days: Typed;
}

export type SettingsField = keyof RetentionSettings | 'drill_every_days' | 'daily_at_hour';

export const RETENTION_FIELDS: readonly { key: keyof RetentionSettings; label: string; help: string }[] = [
  { key: 'keep_last', label: 'Newest points', help: 'The newest few, whatever their age.' },
  { key: 'keep_hourly', label: 'Hours', help: 'One point an hour, for this many hours.' },
  { key: 'keep_daily', label: 'Days', help: 'One point a day, for this many days.' },
  { key: 'keep_weekly', label: 'Weeks', help: 'One point a week, for this many weeks.' },
  { key: 'keep_monthly', label: 'Months', help: 'One point a month, for this many months.' },
  { key: 'keep_yearly', label: 'Years', help: 'One point a year, for this many years.' },
  { key: 'safety_days', label: 'Safety points (days)', help: 'Points made before an update, restore or reset.' },
];

export function toDraft(s: RestorePointSettings): SettingsDraft {
  return {
    daily_at_hour: s.daily_at_hour ?? '',
    retention: { ...s.retention },
    drill_every_days: s.drill_every_days ?? '',
  };
}

function blank(v: Typed): boolean {
  return v === null || String(v).trim() === '';
}

function wholeNumber(v: Typed): number | null {
  if (v === null) return null;
  const t = String(v).trim();
  if (!/^\d+$/.test(t)) return null;
  return Number(t);
}

/**
 * Checks a settings form; returns the settings to send, or the problems by field (one sentence
 * each). The box checks again and has the last word.
 */
export function checkSettings(
  d: SettingsDraft,
): { ok: true; settings: RestorePointSettings } | { ok: false; errors: Partial<Record<SettingsField, string>> } {
  const errors: Partial<Record<SettingsField, string>> = {};
  const retention = {} as RetentionSettings;
  for (const { key } of RETENTION_FIELDS) {
    const n = wholeNumber(d.retention[key]);
    const max = key === 'safety_days' ? SAFETY_DAYS_MAX : RETENTION_COUNT_MAX;
    const min = key === 'safety_days' ? 1 : 0;
    if (n === null) errors[key] = 'Enter a whole number (0 or more).';
    else if (n < min) errors[key] = `Keep safety points for at least ${min} day.`;
    else if (n > max) errors[key] = `At most ${max}.`;
    else retention[key] = n;
  }
  let hour: number | null = null;
  if (d.daily_at_hour !== '') {
    const h = wholeNumber(d.daily_at_hour);
    if (h === null || h > 23) errors.daily_at_hour = 'Choose an hour from 00:00 to 23:00, or never.';
    else hour = h;
  }
  let drill: number | null = null;
  if (!blank(d.drill_every_days)) {
    const n = wholeNumber(d.drill_every_days);
    if (n === null || n < 1 || n > DRILL_DAYS_MAX) errors.drill_every_days = `Enter a number of days from 1 to ${DRILL_DAYS_MAX}, or leave it empty for never.`;
    else drill = n;
  }
  const counted = ['keep_last', 'keep_hourly', 'keep_daily', 'keep_weekly', 'keep_monthly', 'keep_yearly'] as const;
  // An empty policy would keep nothing at all; the box refuses it too.
  if (Object.keys(errors).length === 0 && counted.every((k) => retention[k] === 0)) {
    errors.keep_last = 'Keep at least one scheduled point: for example the newest 1.';
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, settings: { daily_at_hour: hour, retention, drill_every_days: drill } };
}
