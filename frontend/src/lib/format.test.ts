import { describe, expect, it } from 'vitest';
import {
  asSentence,
  facilityStateLabel,
  facilityTone,
  formatAgo,
  formatBytes,
  formatDuration,
  formatProgress,
  jobKindLabel,
  jobStateLabel,
  jobTitle,
  jobTone,
  progressFraction,
  progressPercent,
  selfCheckSummary,
} from './format';
import type { Facility } from './api';

describe('formatDuration', () => {
  it('uses at most two units, largest first', () => {
    expect(formatDuration(0)).toBe('0 seconds');
    expect(formatDuration(1)).toBe('1 second');
    expect(formatDuration(59)).toBe('59 seconds');
    expect(formatDuration(60)).toBe('1 minute');
    expect(formatDuration(61)).toBe('1 minute, 1 second');
    expect(formatDuration(3_599)).toBe('59 minutes, 59 seconds');
    expect(formatDuration(3_600)).toBe('1 hour');
    expect(formatDuration(7_325)).toBe('2 hours, 2 minutes');
    expect(formatDuration(86_400 * 3 + 3_600 * 4 + 59)).toBe('3 days, 4 hours');
  });

  it('never skips a unit in between', () => {
    expect(formatDuration(86_400 + 5)).toBe('1 day');
    expect(formatDuration(3_600 + 5)).toBe('1 hour');
  });

  it('drops fractions and treats nonsense as zero', () => {
    expect(formatDuration(12.9)).toBe('12 seconds');
    expect(formatDuration(-5)).toBe('0 seconds');
    expect(formatDuration(Number.NaN)).toBe('0 seconds');
  });
});

describe('formatAgo', () => {
  const now = new Date('2026-11-22T12:00:00Z');
  it('says how long ago in words', () => {
    expect(formatAgo('2026-11-22T11:59:55Z', now)).toBe('just now');
    expect(formatAgo('2026-11-22T11:59:30Z', now)).toBe('30 seconds ago');
    expect(formatAgo('2026-11-22T11:59:00Z', now)).toBe('1 minute ago');
    expect(formatAgo('2026-11-22T11:15:00Z', now)).toBe('45 minutes ago');
    expect(formatAgo('2026-11-22T09:00:00Z', now)).toBe('3 hours ago');
    expect(formatAgo('2026-11-20T12:00:00Z', now)).toBe('2 days ago');
  });
  it('treats a clock a little ahead as now, and bad input as empty', () => {
    expect(formatAgo('2026-11-22T12:00:03Z', now)).toBe('just now');
    expect(formatAgo('not a date', now)).toBe('');
  });
});

describe('formatBytes', () => {
  it('uses decimal units', () => {
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(999)).toBe('999 bytes');
    expect(formatBytes(1_500)).toBe('1.5 KB');
    expect(formatBytes(4_200_000_000)).toBe('4.2 GB');
    expect(formatBytes(250_000_000_000)).toBe('250 GB');
  });
});

describe('progress', () => {
  it('computes a fraction, or null when the total is unknown', () => {
    expect(progressFraction({ done: 3, total: 6, unit: 'checks', phase: '' })).toBe(0.5);
    expect(progressFraction({ done: 3, total: null, unit: 'checks', phase: '' })).toBeNull();
    expect(progressFraction({ done: 9, total: 6, unit: 'checks', phase: '' })).toBe(1);
    expect(progressFraction({ done: 0, total: 0, unit: 'checks', phase: '' })).toBe(0);
    expect(progressPercent({ done: 1, total: 3, unit: 'checks', phase: '' })).toBe(33);
    expect(progressPercent({ done: 1, total: null, unit: 'checks', phase: '' })).toBeNull();
  });

  it('says the counts in words', () => {
    expect(formatProgress({ done: 3, total: 6, unit: 'checks', phase: '' })).toBe('3 of 6 checks');
    expect(formatProgress({ done: 0, total: 1, unit: 'checks', phase: '' })).toBe('0 of 1 check');
    expect(formatProgress({ done: 120, total: null, unit: 'files', phase: '' })).toBe('120 files so far');
    expect(formatProgress({ done: 1, total: null, unit: 'files', phase: '' })).toBe('1 file so far');
    expect(formatProgress({ done: 0, total: null, unit: 'files', phase: '' })).toBe('');
    expect(formatProgress({ done: 1_200_000_000, total: 4_000_000_000, unit: 'bytes', phase: '' })).toBe(
      '1.2 GB of 4.0 GB',
    );
  });
});

describe('labels', () => {
  it('names job kinds and states for people', () => {
    expect(jobKindLabel('host.self_check')).toBe('Box self-check');
    expect(jobKindLabel('backup.run')).toBe('Backup run');
    expect(jobTitle({ kind: 'drive.format', target: 'sdb' })).toBe('Drive format: sdb');
    expect(jobStateLabel('queued')).toBe('Waiting to start');
    expect(jobStateLabel('cancelled')).toBe('Stopped');
    expect(jobTone('failed')).toBe('bad');
    expect(facilityStateLabel('degraded')).toBe('Needs attention');
    expect(facilityTone('missing')).toBe('bad');
    expect(facilityTone('ok')).toBe('ok');
  });
});

describe('selfCheckSummary', () => {
  const check = (state: Facility['state']): Facility => ({
    kind: 'docker',
    label: 'Docker engine',
    state,
    version: null,
    detail: '',
    remedy: null,
  });
  it('says all passed, or how many need attention', () => {
    const six = Array.from({ length: 6 }, () => check('ok'));
    expect(selfCheckSummary({ checks: six, problems: 0 })).toBe('All 6 checks passed');
    expect(selfCheckSummary({ checks: six, problems: 1 })).toBe('1 thing needs attention');
    expect(selfCheckSummary({ checks: six, problems: 2 })).toBe('2 things need attention');
    expect(selfCheckSummary({ checks: [check('ok')], problems: 0 })).toBe('The check passed');
  });
});

describe('asSentence', () => {
  it('capitalises and ends with a full stop, once', () => {
    expect(asSentence('too many failed sign-in attempts; try again in 30 seconds')).toBe(
      'Too many failed sign-in attempts; try again in 30 seconds.',
    );
    expect(asSentence('Already fine.')).toBe('Already fine.');
    expect(asSentence('  ')).toBe('');
  });
});
