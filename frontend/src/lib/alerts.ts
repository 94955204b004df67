// Alerts in words and colours: the indicator in the header, severities, snoozes and the history's
// entries (pure logic).

import type { AlertInfo, AlertList, HistoryKind, Severity } from './api';
import type { Tone } from './format';

/** How often the header asks the box for the alerts, besides on every change of page. */
export const BADGE_REFRESH_MS = 30_000;

export interface BadgeState {
  /** Nothing is shown when nothing fires. */
  show: boolean;
  count: number;
  /** The colour: the worst firing alert that is not snoozed; neutral when all are snoozed. */
  tone: Tone;
  /** What a screen reader says: "3 alerts firing". */
  label: string;
}

export function severityTone(s: Severity): Tone {
  return s === 'critical' ? 'bad' : s === 'warning' ? 'warn' : 'info';
}

export function severityLabel(s: Severity): string {
  return s === 'critical' ? 'Critical' : s === 'warning' ? 'Warning' : 'Information';
}

function alertsWord(n: number): string {
  return `${n} alert${n === 1 ? '' : 's'}`;
}

/** The header's indicator for the box's answer (null: not asked yet, or not allowed). */
export function badgeState(list: Pick<AlertList, 'firing' | 'worst'> | null): BadgeState {
  const count = list?.firing ?? 0;
  if (!list || count <= 0) return { show: false, count: 0, tone: 'neutral', label: 'No alerts firing' };
  const tone = list.worst ? severityTone(list.worst) : 'neutral';
  const snoozed = list.worst ? '' : ' (snoozed)';
  return { show: true, count, tone, label: `${alertsWord(count)} firing${snoozed}` };
}

/** Whether an alert's messages are being held back at `now`. */
export function isSnoozed(a: Pick<AlertInfo, 'snoozed_until'>, now: number = Date.now()): boolean {
  if (!a.snoozed_until) return false;
  const t = Date.parse(a.snoozed_until);
  return !Number.isNaN(t) && t > now;
}

/** The snoozes the Alerts page offers, in minutes (the API takes at most 30 days). */
export const SNOOZES: readonly { minutes: number; label: string }[] = [
  { minutes: 60, label: '1 hour' },
  { minutes: 24 * 60, label: '1 day' },
  { minutes: 7 * 24 * 60, label: '1 week' },
];

/** The firing alerts, then the resolved ones, each in the box's order. */
export function splitAlerts(alerts: readonly AlertInfo[]): { firing: AlertInfo[]; resolved: AlertInfo[] } {
  return {
    firing: alerts.filter((a) => a.state === 'firing'),
    resolved: alerts.filter((a) => a.state === 'resolved'),
  };
}

export function historyKindLabel(k: HistoryKind): string {
  switch (k) {
    case 'fired':
      return 'Started';
    case 'resolved':
      return 'Put right';
    case 'notified':
      return 'Message sent';
    case 'suppressed':
      return 'Not sent';
    case 'delivery_failed':
      return 'Sending failed';
    case 'snoozed':
      return 'Snoozed';
  }
}

export function historyKindTone(k: HistoryKind): Tone {
  switch (k) {
    case 'fired':
      return 'warn';
    case 'resolved':
    case 'notified':
      return 'ok';
    case 'delivery_failed':
      return 'bad';
    case 'suppressed':
    case 'snoozed':
      return 'neutral';
  }
}

/** How many history entries a page of the history shows. */
export const HISTORY_PAGE = 50;

/** The `before` of the next (older) page, or null when this page was the last one. */
export function nextBefore(entries: readonly { id: number }[], limit: number = HISTORY_PAGE): number | null {
  if (entries.length < limit) return null;
  return Math.min(...entries.map((e) => e.id));
}

export const WEEKDAYS: readonly string[] = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

/** "Monday at 08:00" for the summary's weekday (1 = Monday) and hour. */
export function summaryWhen(weekday: number, hour: number): string {
  return `${WEEKDAYS[weekday - 1] ?? '?'} at ${String(hour).padStart(2, '0')}:00`;
}
