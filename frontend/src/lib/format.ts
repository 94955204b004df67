// Pure formatting helpers: everything a person reads about numbers, times and states.

import type { FacilityState, Job, JobState, Progress, SelfCheckReport } from './api';

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

const UNITS: [seconds: number, name: string][] = [
  [86_400, 'day'],
  [3_600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
];

/**
 * A duration in words, with at most the two largest units: "3 days, 4 hours", "5 minutes, 2
 * seconds", "12 seconds". Fractions are dropped; negatives count as zero.
 */
export function formatDuration(totalSeconds: number): string {
  let s = Math.max(0, Math.floor(Number.isFinite(totalSeconds) ? totalSeconds : 0));
  if (s === 0) return '0 seconds';
  const parts: string[] = [];
  for (const [size, name] of UNITS) {
    if (parts.length === 2) break;
    const n = Math.floor(s / size);
    if (n > 0) {
      parts.push(plural(n, name));
      s -= n * size;
    } else if (parts.length === 1) {
      // "2 hours" rather than "2 hours, 0 minutes"; and never skip a unit ("1 day, 5 seconds").
      break;
    }
  }
  return parts.join(', ');
}

/** How long ago `then` was, relative to `now`: "just now", "5 minutes ago", "2 days ago". */
export function formatAgo(then: string | Date, now: Date = new Date()): string {
  const t = typeof then === 'string' ? Date.parse(then) : then.getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.floor((now.getTime() - t) / 1000);
  if (s < 10) return 'just now';
  if (s < 60) return `${s} seconds ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${plural(m, 'minute')} ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${plural(h, 'hour')} ago`;
  return `${plural(Math.floor(h / 24), 'day')} ago`;
}

/** A timestamp as the reader's local date and time, e.g. "22 Nov 2026, 14:05". */
export function formatWhen(ts: string, locale?: string): string {
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return ts;
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(t);
}

/** Bytes as "512 bytes", "1.5 KB", "4.2 GB" (decimal units, like drive makers use). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '0 bytes';
  if (n < 1000) return plural(Math.round(n), 'byte');
  const units = ['KB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Singular of a plural unit: "checks" -> "check", "files" -> "file"; other words unchanged. */
function singular(unit: string): string {
  return unit.endsWith('s') && unit.length > 1 ? unit.slice(0, -1) : unit;
}

function amount(n: number, unit: string): string {
  if (unit === 'bytes') return formatBytes(n);
  return `${n} ${n === 1 ? singular(unit) : unit}`.trim();
}

/** Progress as a fraction in [0, 1], or null when the total is unknown (indeterminate). */
export function progressFraction(p: Progress): number | null {
  if (p.total === null || p.total === undefined) return null;
  if (p.total <= 0) return p.done > 0 ? 1 : 0;
  return Math.min(1, Math.max(0, p.done / p.total));
}

/** Whole percent, or null when indeterminate. */
export function progressPercent(p: Progress): number | null {
  const f = progressFraction(p);
  return f === null ? null : Math.floor(f * 100);
}

/**
 * Progress counts in words: "3 of 6 checks", "1.2 GB of 4.0 GB", "120 files so far" (total
 * unknown), "" when there is nothing to say yet.
 */
export function formatProgress(p: Progress): string {
  const unit = p.unit ?? '';
  if (p.total === null || p.total === undefined) {
    return p.done > 0 ? `${amount(p.done, unit)} so far` : '';
  }
  if (unit === 'bytes') return `${formatBytes(p.done)} of ${formatBytes(p.total)}`;
  return `${p.done} of ${amount(p.total, unit)}`;
}

/** Words for a job's state (shown next to an icon, so color is never the only signal). */
export function jobStateLabel(state: JobState): string {
  switch (state) {
    case 'queued':
      return 'Waiting to start';
    case 'running':
      return 'Working';
    case 'succeeded':
      return 'Done';
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return 'Stopped';
  }
}

const JOB_KIND_NAMES: Record<string, string> = {
  'host.self_check': 'Box self-check',
  'stack.install': 'Installing or repairing Immich',
  'stack.update': 'Updating Immich',
  'stack.rollback': 'Going back to an earlier Immich',
  'stack.action': 'Starting or stopping Immich',
  'stack.recover': 'Finishing an interrupted Immich update',
};

/** A person's name for a job kind; unknown kinds become "Backup run" from "backup.run". */
export function jobKindLabel(kind: string): string {
  const known = JOB_KIND_NAMES[kind];
  if (known) return known;
  const words = kind.replace(/[._-]+/g, ' ').trim();
  return words ? words[0].toUpperCase() + words.slice(1) : 'Task';
}

/** One line saying what a job is: its kind, and its target when it has one. */
export function jobTitle(job: Pick<Job, 'kind' | 'target'>): string {
  const name = jobKindLabel(job.kind);
  return job.target ? `${name}: ${job.target}` : name;
}

export function facilityStateLabel(state: FacilityState): string {
  switch (state) {
    case 'ok':
      return 'Working';
    case 'degraded':
      return 'Needs attention';
    case 'missing':
      return 'Not found';
  }
}

/** "All 6 checks passed", "1 thing needs attention", "2 things need attention". */
export function selfCheckSummary(report: SelfCheckReport): string {
  const total = report.checks.length;
  const problems = report.problems;
  if (problems <= 0) {
    if (total === 1) return 'The check passed';
    return `All ${total} checks passed`;
  }
  return problems === 1 ? '1 thing needs attention' : `${problems} things need attention`;
}

/** The colour family of a badge. */
export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'neutral';

export function facilityTone(state: FacilityState): Tone {
  return state === 'ok' ? 'ok' : state === 'degraded' ? 'warn' : 'bad';
}

export function jobTone(state: JobState): Tone {
  switch (state) {
    case 'queued':
      return 'neutral';
    case 'running':
      return 'info';
    case 'succeeded':
      return 'ok';
    case 'failed':
      return 'bad';
    case 'cancelled':
      return 'warn';
  }
}

/** The box's messages are written for logs ("too many attempts; try again in 30 seconds"): show
 * them as a sentence, with a capital letter and a full stop. */
export function asSentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?…:)]$/.test(first) ? first : `${first}.`;
}
