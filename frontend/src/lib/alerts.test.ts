import { describe, expect, it } from 'vitest';
import { badgeState, historyKindLabel, isSnoozed, nextBefore, severityTone, splitAlerts, summaryWhen } from './alerts';
import type { AlertInfo } from './api';

describe('badgeState', () => {
  it('shows nothing when nothing fires or before the first answer', () => {
    expect(badgeState(null).show).toBe(false);
    expect(badgeState({ firing: 0, worst: null }).show).toBe(false);
  });
  it('counts and colours by the worst alert that is not snoozed', () => {
    expect(badgeState({ firing: 3, worst: 'critical' })).toEqual({ show: true, count: 3, tone: 'bad', label: '3 alerts firing' });
    expect(badgeState({ firing: 1, worst: 'warning' })).toEqual({ show: true, count: 1, tone: 'warn', label: '1 alert firing' });
    expect(badgeState({ firing: 2, worst: 'info' }).tone).toBe('info');
  });
  it('counts snoozed alerts without colour', () => {
    expect(badgeState({ firing: 2, worst: null })).toEqual({ show: true, count: 2, tone: 'neutral', label: '2 alerts firing (snoozed)' });
    expect(badgeState({ firing: 2 }).tone).toBe('neutral');
  });
});

const alert = (over: Partial<AlertInfo>): AlertInfo => ({
  id: 1,
  rule: 'r',
  subject: '',
  state: 'firing',
  severity: 'warning',
  title: 't',
  message: 'm',
  since: '2026-12-01T00:00:00Z',
  changed_at: '2026-12-01T00:00:00Z',
  ...over,
});

describe('alerts', () => {
  it('tells snoozed from not', () => {
    const now = Date.parse('2026-12-02T00:00:00Z');
    expect(isSnoozed(alert({ snoozed_until: '2026-12-02T01:00:00Z' }), now)).toBe(true);
    expect(isSnoozed(alert({ snoozed_until: '2026-12-01T23:00:00Z' }), now)).toBe(false);
    expect(isSnoozed(alert({ snoozed_until: null }), now)).toBe(false);
  });
  it('splits firing from resolved, keeping the order', () => {
    const a = [alert({ id: 1 }), alert({ id: 2, state: 'resolved' }), alert({ id: 3 })];
    const s = splitAlerts(a);
    expect(s.firing.map((x) => x.id)).toEqual([1, 3]);
    expect(s.resolved.map((x) => x.id)).toEqual([2]);
  });
  it('has words and tones', () => {
    expect(severityTone('critical')).toBe('bad');
    expect(historyKindLabel('delivery_failed')).toBe('Sending failed');
    expect(summaryWhen(1, 8)).toBe('Monday at 08:00');
    expect(summaryWhen(7, 23)).toBe('Sunday at 23:00');
  });
  it('pages the history by the oldest id of a full page', () => {
    expect(nextBefore([{ id: 9 }, { id: 8 }, { id: 7 }], 3)).toBe(7);
    expect(nextBefore([{ id: 9 }, { id: 8 }], 3)).toBeNull();
    expect(nextBefore([], 3)).toBeNull();
  });
});
