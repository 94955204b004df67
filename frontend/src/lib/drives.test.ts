import { describe, expect, it } from 'vitest';
import type { Job, Progress } from './api';
import {
  ageSentence,
  backupAge,
  backupReport,
  checkBackupSettings,
  checkConfig,
  configDraft,
  driveRights,
  enrollBlocker,
  filesFromPhase,
  formatEta,
  formatReady,
  formatThroughput,
  freeSpace,
  jobForDrive,
  labelError,
  liveLine,
  phaseHead,
  rateFromPhase,
  restoreReady,
  restoreSourceOf,
  runSummary,
  settingsDraft,
  Throughput,
  togglePath,
  triggerLabel,
  unenrolled,
  verifyPolicyWords,
  verifyWords,
} from './drives';
import type { AttachedDevice, BackupRun, BackupSettings } from './driveTypes';

const device = (over: Partial<AttachedDevice> = {}): AttachedDevice => ({
  device: '/dev/sdb1',
  fs_uuid: 'ABCD-1234',
  fs_type: 'exfat',
  fs_label: 'PHOTOS',
  size: 500_000_000_000,
  bus: 'usb',
  model: 'Passport',
  enrolled: false,
  system: false,
  has_data: true,
  format_confirmation: 'erase PHOTOS',
  ...over,
});

const run = (over: Partial<BackupRun> = {}): BackupRun => ({
  kind: 'backup',
  job_id: 7,
  started_at: '2026-12-07T10:00:00Z',
  finished_at: '2026-12-07T10:05:30Z',
  outcome: 'succeeded',
  files_total: 12_000,
  bytes_total: 48_000_000_000,
  files_copied: 120,
  bytes_copied: 1_200_000_000,
  files_set_aside: 0,
  files_verified: 0,
  error: null,
  ...over,
});

const job = (over: Partial<Job> = {}): Job => ({
  id: 1,
  kind: 'drive.backup',
  target: 'ABCD-1234',
  state: 'running',
  progress: { done: 0, total: null, unit: 'bytes', phase: '' },
  requested_by: 'anna',
  created_at: '2026-12-07T10:00:00Z',
  started_at: '2026-12-07T10:00:00Z',
  finished_at: null,
  cancel_requested: false,
  result: null,
  point_of_no_return: null,
  error: null,
  ...over,
});

describe('formatThroughput', () => {
  it('says bytes a second in decimal units', () => {
    expect(formatThroughput(12_345_678)).toBe('12.3 MB/s');
    expect(formatThroughput(950)).toBe('950 bytes/s');
    expect(formatThroughput(1_500_000_000)).toBe('1.5 GB/s');
  });

  it('says nothing when there is no speed to speak of', () => {
    expect(formatThroughput(null)).toBe('');
    expect(formatThroughput(0)).toBe('');
    expect(formatThroughput(-5)).toBe('');
    expect(formatThroughput(Number.NaN)).toBe('');
    expect(formatThroughput(Number.POSITIVE_INFINITY)).toBe('');
  });
});

describe('formatEta', () => {
  it('rounds to what a person can use', () => {
    expect(formatEta(5)).toBe('less than a minute left');
    expect(formatEta(59)).toBe('less than a minute left');
    expect(formatEta(61)).toBe('about 1 minute left');
    expect(formatEta(5 * 60 + 20)).toBe('about 5 minutes left');
    expect(formatEta(2 * 3600 + 7 * 60)).toBe('about 2 hours, 5 minutes left');
    expect(formatEta(3 * 86_400 + 3600)).toBe('about 3 days, 1 hour left');
  });

  it('says nothing when unknown', () => {
    expect(formatEta(null)).toBe('');
    expect(formatEta(-1)).toBe('');
    expect(formatEta(Number.POSITIVE_INFINITY)).toBe('');
  });
});

describe('Throughput', () => {
  it('needs two snapshots a second apart', () => {
    const t = new Throughput();
    expect(t.rate()).toBeNull();
    t.add(0, 0);
    expect(t.rate()).toBeNull();
    t.add(500, 1_000_000);
    expect(t.rate()).toBeNull();
    t.add(2000, 20_000_000);
    expect(t.rate()).toBe(10_000_000);
  });

  it('estimates the time left from the rate', () => {
    const t = new Throughput();
    t.add(0, 0);
    t.add(10_000, 100_000_000);
    expect(t.eta(1_000_000_000)).toBe(90);
    expect(t.eta(null)).toBeNull();
  });

  it('measures over a sliding window, so a slow start does not weigh for ever', () => {
    const t = new Throughput(10_000);
    t.add(0, 0);
    t.add(10_000, 1_000_000); // slow: 100 kB/s
    t.add(20_000, 101_000_000); // fast: 10 MB/s
    t.add(30_000, 201_000_000);
    expect(t.rate()).toBe(10_000_000);
  });

  it('slows down while nothing arrives, and a stall gives no estimate', () => {
    const t = new Throughput();
    t.add(0, 0);
    t.add(10_000, 100_000_000);
    expect(t.rate(20_000)).toBe(5_000_000);
    const stalled = new Throughput();
    stalled.add(0, 5);
    stalled.add(5_000, 5);
    expect(stalled.eta(100)).toBeNull();
  });

  it('starts over when the counter goes back (a new phase)', () => {
    const t = new Throughput();
    t.add(0, 0);
    t.add(5_000, 50_000_000);
    t.add(6_000, 1_000);
    expect(t.rate()).toBeNull();
  });
});

describe('liveLine', () => {
  const p = (over: Partial<Progress>): Progress => ({ done: 0, total: null, unit: 'bytes', phase: '', ...over });

  it('shows files from the phase, bytes, speed and time left', () => {
    const m = new Throughput();
    m.add(0, 0);
    m.add(10_000, 2_000_000_000);
    const line = liveLine(p({ done: 2_000_000_000, total: 6_000_000_000, phase: 'Copying 1,200 of 4,000 files' }), m, 10_000);
    expect(line).toEqual({
      files: '1,200 of 4,000 files',
      bytes: '2.0 GB of 6.0 GB',
      throughput: '200 MB/s',
      eta: 'less than a minute left',
    });
  });

  it('counts files when the box counts files', () => {
    expect(liveLine(p({ unit: 'files', done: 3, total: 10 }), null).files).toBe('3 of 10 files');
    expect(liveLine(p({ unit: 'files', done: 1, total: null }), null).files).toBe('1 file so far');
    expect(liveLine(p({ unit: 'files', done: 1, total: 10 }), null).bytes).toBe('');
  });

  it('falls back on the speed and time left the box put in the phase', () => {
    const phase = 'Copying: 1204 of 5000 files, 1.0 GB of 4.0 GB, 10.0 MB/s, about 5 minutes left';
    expect(rateFromPhase(phase)).toEqual({ throughput: '10.0 MB/s', eta: 'about 5 minutes left' });
    expect(rateFromPhase('Copying: 1 of 5 files, 10 B of 4.0 GB, 512 B/s, less than a minute left')).toEqual({
      throughput: '512 B/s',
      eta: 'less than a minute left',
    });
    expect(rateFromPhase('Mounting Blue')).toEqual({ throughput: '', eta: '' });
    const line = liveLine(p({ done: 1e9, total: 4e9, phase }), null);
    expect([line.throughput, line.eta]).toEqual(['10.0 MB/s', 'about 5 minutes left']);
    // The page's own measure wins once it has one.
    const m = new Throughput();
    m.add(0, 0);
    m.add(10_000, 1e9);
    expect(liveLine(p({ done: 1e9, total: 4e9, phase }), m, 10_000).throughput).toBe('100 MB/s');
  });

  it('says nothing it does not know', () => {
    expect(liveLine(p({ phase: 'Looking at the library' }), null)).toEqual({ files: '', bytes: '0 bytes so far', throughput: '', eta: '' });
  });
});

describe('phaseHead', () => {
  it('keeps the words and drops the counts shown apart', () => {
    expect(phaseHead('Copying: 1204 of 5000 files, 1.0 GB of 4.0 GB, 10.0 MB/s, about 5 minutes left')).toBe('Copying');
    expect(phaseHead('Mounting Blue drive')).toBe('Mounting Blue drive');
    expect(phaseHead('Preparing the database dump, audit log and configuration bundle')).toBe(
      'Preparing the database dump, audit log and configuration bundle',
    );
  });
});

describe('filesFromPhase', () => {
  it('reads "N of M files" and "N files"', () => {
    expect(filesFromPhase('Copying 12 of 40 files')).toEqual({ done: 12, total: 40 });
    expect(filesFromPhase('Copying: 1204 of 5000 files, 1.0 GB of 4.0 GB, 10.0 MB/s')).toEqual({ done: 1204, total: 5000 });
    expect(filesFromPhase('copying 1,234 of 10,000 files: library/a.jpg')).toEqual({ done: 1234, total: 10000 });
    expect(filesFromPhase('Scanned 500 files')).toEqual({ done: 500, total: null });
    expect(filesFromPhase('Unmounting')).toBeNull();
  });
});

describe('backupAge', () => {
  const now = new Date('2026-12-07T12:00:00Z');

  it('is fine while recent, a warning from the alert limit, bad when very old or never', () => {
    expect(backupAge('2026-12-07T10:00:00Z', now)).toEqual({ text: '2 hours ago', tone: 'ok', days: 0 });
    expect(backupAge('2026-12-01T12:00:00Z', now)).toEqual({ text: '6 days ago', tone: 'ok', days: 6 });
    expect(backupAge('2026-11-30T12:00:00Z', now)).toEqual({ text: '7 days ago', tone: 'warn', days: 7 });
    expect(backupAge('2026-11-01T12:00:00Z', now).tone).toBe('bad');
    expect(backupAge(null, now)).toEqual({ text: 'Never', tone: 'bad', days: null });
    expect(backupAge('garbage', now)).toEqual({ text: 'Unknown', tone: 'warn', days: null });
  });

  it('follows a changed limit', () => {
    expect(backupAge('2026-12-05T12:00:00Z', now, 2).tone).toBe('warn');
  });

  it('says it in a sentence, nudging only when old', () => {
    expect(ageSentence(backupAge('2026-12-07T10:00:00Z', now))).toBe('Last backup 2 hours ago.');
    expect(ageSentence(backupAge('2026-11-20T12:00:00Z', now))).toBe('Last backup 17 days ago. Plug it in and back up soon.');
    expect(ageSentence(backupAge(null, now))).toBe('No backup yet.');
  });
});

describe('drive facts', () => {
  it('names the trigger', () => {
    expect(triggerLabel({ trigger: 'plug_in', schedule_hour: null })).toBe('When plugged in');
    expect(triggerLabel({ trigger: 'schedule', schedule_hour: 3 })).toBe('Every day at 03:00');
    expect(triggerLabel({ trigger: 'manual', schedule_hour: null })).toBe('Only when I press “Back up now”');
  });

  it('shows free space with a tone as the drive fills', () => {
    expect(freeSpace(1_000_000_000_000, 400_000_000_000)).toEqual({ text: '400 GB free of 1.0 TB', used: 0.6, tone: 'ok' });
    expect(freeSpace(100, 10)?.tone).toBe('warn');
    expect(freeSpace(100, 2)?.tone).toBe('bad');
    expect(freeSpace(null, 5)).toBeNull();
    expect(freeSpace(0, 0)).toBeNull();
    expect(freeSpace(100, 200)?.used).toBe(0);
  });

  it('says how the last check went', () => {
    const now = new Date('2026-12-07T12:00:00Z');
    expect(verifyWords({ last_verified_at: null, last_verify_ok: null }, now).text).toBe('Not checked yet');
    expect(verifyWords({ last_verified_at: '2026-12-06T12:00:00Z', last_verify_ok: true }, now)).toEqual({
      text: 'Every file checked was intact, 1 day ago',
      tone: 'ok',
    });
    expect(verifyWords({ last_verified_at: '2026-12-06T12:00:00Z', last_verify_ok: false }, now).tone).toBe('bad');
  });

  it('summarises a run', () => {
    expect(runSummary(run())).toBe('Copied 120 files (1.2 GB) · backup holds 12,000 files, 48.0 GB');
    expect(runSummary(run({ files_copied: 1, files_set_aside: 3, files_verified: 40 }))).toBe(
      'Copied 1 file (1.2 GB) · 3 set aside · 40 checked · backup holds 12,000 files, 48.0 GB',
    );
    expect(runSummary(run({ outcome: 'skipped', error: null }))).toBe('The drive was not plugged in at the scheduled time.');
  });

  it('finds the job of a drive, by id first', () => {
    const jobs = [job({ id: 3 }), job({ id: 5 }), job({ id: 9, target: 'OTHER' }), job({ id: 11, kind: 'host.self_check', target: 'ABCD-1234' })];
    expect(jobForDrive(jobs, 'ABCD-1234', null)?.id).toBe(5);
    expect(jobForDrive(jobs, 'ABCD-1234', 3)?.id).toBe(3);
    expect(jobForDrive(jobs, 'NONE', null)).toBeNull();
  });

  it('reads a backup job’s report', () => {
    const report = { uuid: 'ABCD-1234', name: 'Blue', run: run(), skipped: [], free: 5, safe_to_remove: true };
    const done = job({ state: 'succeeded', result: { kind: 'drive.backup', report } as unknown as Job['result'] });
    expect(backupReport(done)?.safe_to_remove).toBe(true);
    expect(backupReport(job())).toBeNull();
    expect(backupReport(null)).toBeNull();
  });
});

describe('rights', () => {
  it('follows the route table: viewers and operators look, drive managers run, restore and format apart', () => {
    const viewer = driveRights(['backups.view']);
    expect(viewer).toEqual({ view: true, run: false, manage: false, format: false, restore: false });
    const operator = driveRights(['backups.view', 'backups.manage', 'restore_points.manage']);
    expect(operator).toEqual({ view: true, run: false, manage: false, format: false, restore: false });
    const manager = driveRights(['backups.view', 'drives.manage']);
    expect(manager).toEqual({ view: true, run: true, manage: true, format: false, restore: false });
    const admin = driveRights(['backups.view', 'backups.manage', 'drives.manage', 'drives.format', 'restore.run']);
    expect(admin).toEqual({ view: true, run: true, manage: true, format: true, restore: true });
  });
});

describe('enrolling and formatting', () => {
  it('offers only drives not enrolled yet', () => {
    expect(unenrolled([device(), device({ device: '/dev/sdc1', enrolled: true })]).map((d) => d.device)).toEqual(['/dev/sdb1']);
  });

  it('enrols exFAT drives only, never the box’s own disks', () => {
    expect(enrollBlocker(device())).toBeNull();
    expect(enrollBlocker(device({ fs_type: 'EXFAT' }))).toBeNull();
    expect(enrollBlocker(device({ system: true }))).toMatch(/part of the box/);
    expect(enrollBlocker(device({ fs_type: 'ntfs' }))).toMatch(/formatted as ntfs; backups need exFAT/);
    expect(enrollBlocker(device({ fs_uuid: null, fs_type: null }))).toMatch(/no filesystem/);
  });

  it('checks the label as exFAT allows it', () => {
    expect(labelError('KEEPSAKE')).toBeNull();
    expect(labelError('My drive_1')).toBeNull();
    expect(labelError('  ')).toMatch(/label/);
    expect(labelError('TWELVE_CHARS')).toMatch(/At most 11/);
    expect(labelError('Fotos/2026')).toMatch(/letters, digits/);
  });

  it('asks for the exact confirmation before formatting a drive that holds data', () => {
    const d = device();
    expect(formatReady(d, 'KEEPSAKE', '')).toBe(false);
    expect(formatReady(d, 'KEEPSAKE', 'erase photos')).toBe(false);
    expect(formatReady(d, 'KEEPSAKE', 'erase PHOTO')).toBe(false);
    expect(formatReady(d, 'KEEPSAKE', 'erase PHOTOS')).toBe(true);
    expect(formatReady(d, 'KEEPSAKE', '  erase PHOTOS ')).toBe(true);
    expect(formatReady(d, 'KEEPSAKE', 'erase PHOTOS', true)).toBe(false);
    expect(formatReady(d, 'BAD/LABEL', 'erase PHOTOS')).toBe(false);
  });

  it('formats an empty drive without a phrase, and never a system disk or an unconfirmable one', () => {
    expect(formatReady(device({ has_data: false, format_confirmation: null }), 'KEEPSAKE', '')).toBe(true);
    expect(formatReady(device({ system: true }), 'KEEPSAKE', 'erase PHOTOS')).toBe(false);
    expect(formatReady(device({ format_confirmation: null }), 'KEEPSAKE', '')).toBe(false);
    expect(formatReady(null, 'KEEPSAKE', '')).toBe(false);
  });

  it('checks an enrolment', () => {
    const d = configDraft({ fs_label: 'PHOTOS' });
    expect(d).toEqual({ name: 'PHOTOS', trigger: 'plug_in', hour: '', include_thumbs: false, include_encoded_video: false });
    expect(checkConfig(d)).toEqual({
      ok: true,
      config: { name: 'PHOTOS', trigger: 'plug_in', schedule_hour: null, include_thumbs: false, include_encoded_video: false },
    });
    expect(checkConfig({ ...d, name: '  ' })).toMatchObject({ ok: false, errors: { name: expect.stringMatching(/name/) } });
    expect(checkConfig({ ...d, name: 'x'.repeat(65) })).toMatchObject({ ok: false, errors: { name: 'At most 64 characters.' } });
    expect(checkConfig({ ...d, trigger: 'schedule', hour: '' })).toMatchObject({ ok: false, errors: { hour: expect.any(String) } });
    expect(checkConfig({ ...d, trigger: 'schedule', hour: 22, include_thumbs: true })).toEqual({
      ok: true,
      config: { name: 'PHOTOS', trigger: 'schedule', schedule_hour: 22, include_thumbs: true, include_encoded_video: false },
    });
    // An hour left over from a schedule is not sent for another trigger.
    expect(checkConfig({ ...d, trigger: 'manual', hour: 5 })).toMatchObject({ ok: true, config: { schedule_hour: null } });
  });
});

describe('restoring', () => {
  it('reads plugged-in exFAT drives, also from another appliance, never the box’s own disks', () => {
    expect(restoreSourceOf(device())).toEqual({ uuid: 'ABCD-1234', name: 'PHOTOS' });
    expect(restoreSourceOf(device({ fs_label: null, model: null }))).toEqual({ uuid: 'ABCD-1234', name: '/dev/sdb1' });
    expect(restoreSourceOf(device({ system: true }))).toBeNull();
    expect(restoreSourceOf(device({ fs_type: 'ntfs' }))).toBeNull();
    expect(restoreSourceOf(device({ fs_uuid: null }))).toBeNull();
  });

  it('needs `restore` typed exactly, and something chosen for files', () => {
    expect(restoreReady('files', ['library/a.jpg'], 'restore')).toBe(true);
    expect(restoreReady('files', [], 'restore')).toBe(false);
    expect(restoreReady('files', ['library/a.jpg'], 'Restore')).toBe(false);
    expect(restoreReady('instance', [], 'restore')).toBe(true);
    expect(restoreReady('instance', [], 'restor')).toBe(false);
    expect(restoreReady('instance', [], 'restore', true)).toBe(false);
  });

  it('ticks and unticks paths', () => {
    expect(togglePath([], 'a')).toEqual(['a']);
    expect(togglePath(['a', 'b'], 'a')).toEqual(['b']);
  });
});

describe('backup settings', () => {
  const saved: BackupSettings = {
    keep_deleted_days: 30,
    verify_after_backup: true,
    verify_every_days: 30,
    verify_depth: 'sample',
    verify_sample_percent: 5,
    bundle_recipient: null,
    bundle_passphrase_set: true,
  };

  it('keeps the passphrase set when left empty, and never shows it', () => {
    const d = settingsDraft(saved);
    expect(d.passphrase).toBe('');
    const c = checkBackupSettings(d);
    expect(c).toEqual({
      ok: true,
      settings: {
        keep_deleted_days: 30,
        verify_after_backup: true,
        verify_every_days: 30,
        verify_depth: 'sample',
        verify_sample_percent: 5,
        bundle_passphrase: null,
        bundle_recipient: null,
        bundle_passphrase_set: true,
      },
    });
  });

  it('checks every field', () => {
    const d = settingsDraft(saved);
    const c = checkBackupSettings({ ...d, keep_deleted_days: 0, verify_every_days: 400, verify_sample_percent: 101, passphrase: 'short', recipient: 'age2x' });
    expect(c.ok).toBe(false);
    if (c.ok) return;
    expect(Object.keys(c.errors).sort()).toEqual(['keep_deleted_days', 'passphrase', 'recipient', 'verify_every_days', 'verify_sample_percent']);
  });

  it('sends a new passphrase, a key, and never for a blank schedule', () => {
    const key = `age1${'q'.repeat(58)}`;
    const c = checkBackupSettings({ ...settingsDraft(saved), verify_every_days: '', passphrase: 'correct horse battery', recipient: ` ${key} ` });
    expect(c).toMatchObject({ ok: true, settings: { verify_every_days: null, bundle_passphrase: 'correct horse battery', bundle_recipient: key } });
  });

  it('says the policy in words', () => {
    expect(verifyPolicyWords(saved)).toBe('Each backup reads back what it wrote. Every 30 days, a plugged-in drive is checked: 5% of the files, chosen at random.');
    expect(verifyPolicyWords({ ...saved, verify_after_backup: false, verify_every_days: null })).toBe(
      'Backups do not read back what they wrote. No periodic check.',
    );
    expect(verifyPolicyWords({ ...saved, verify_every_days: 1, verify_depth: 'full' })).toMatch(/Every 1 day, .*every file\.$/);
  });
});
