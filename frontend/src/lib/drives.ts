// Backup drives in words (pure logic): what a drive is doing and how old its last backup is, free
// space, a running job's files, bytes, speed and time left, the checks of the enrol, format,
// restore and settings forms (the typed confirmations among them), and a run's outcome.

import type { Job, Progress } from './api';
import { formatAgo, formatBytes, formatDuration, type Tone } from './format';
import type {
  AttachedDevice,
  BackupOutcome,
  BackupReport,
  BackupRun,
  BackupSettings,
  Drive,
  DriveActivity,
  DriveConfig,
  DriveJobResult,
  DriveRestoreReport,
  DriveTrigger,
  DriveVerifyReport,
  VerifyDepth,
} from './driveTypes';

/** The job kinds of this page. */
export const DRIVE_JOB = {
  backup: 'drive.backup',
  verify: 'drive.verify',
  restore: 'drive.restore',
  format: 'drive.format',
} as const;

export const DRIVE_JOB_KINDS: readonly string[] = Object.values(DRIVE_JOB);

/** What the signed-in person may do on the page (the box checks again on every call). */
export interface DriveRights {
  /** See drives, devices, history and settings. */
  view: boolean;
  /** Back up, check, eject. */
  run: boolean;
  /** Enroll drives, change their settings, forget them, change the backup settings. */
  manage: boolean;
  /** Format a device. */
  format: boolean;
  /** Restore files or the whole instance from a drive. */
  restore: boolean;
}

/**
 * The permissions behind each action, as the agent's route table declares them: looking needs
 * `backups.view`; backing up, checking, ejecting and choosing drives `drives.manage`; erasing a
 * drive `drives.format`; browsing and restoring `restore.run` (owners and admins by default).
 */
export const DRIVE_PERMISSION = {
  view: 'backups.view',
  run: 'drives.manage',
  manage: 'drives.manage',
  format: 'drives.format',
  restore: 'restore.run',
} as const satisfies Record<keyof DriveRights, string>;

export function driveRights(permissions: readonly string[]): DriveRights {
  const has = (p: string) => permissions.includes(p);
  return {
    view: has(DRIVE_PERMISSION.view),
    run: has(DRIVE_PERMISSION.run),
    manage: has(DRIVE_PERMISSION.manage),
    format: has(DRIVE_PERMISSION.format),
    restore: has(DRIVE_PERMISSION.restore),
  };
}

// Limits the box enforces (keepsake_api::limits and drives.rs); checked here first to say so next
// to the field.
export const NAME_MAX = 64;
export const LABEL_MAX = 11;
export const KEEP_DELETED_DAYS_MAX = 3650;
export const VERIFY_EVERY_DAYS_MAX = 365;
export const PASSPHRASE_MIN = 12;
export const PASSPHRASE_MAX = 256;
/** The phrase a restore from a drive wants typed (keepsake_api::limits::CONFIRM_RESTORE). */
export const RESTORE_PHRASE = 'restore';
/** Days without a successful backup after which the "no recent backup" alert fires by default. */
export const STALE_DAYS = 7;

const DAY_MS = 86_400_000;

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

/** "08:00". */
export function hourLabel(h: number): string {
  return `${String(h).padStart(2, '0')}:00`;
}

export const TRIGGERS: readonly { value: DriveTrigger; label: string; help: string }[] = [
  { value: 'plug_in', label: 'When plugged in', help: 'The backup starts as soon as the drive is plugged in. Unplug it when the page says it is safe.' },
  { value: 'schedule', label: 'Every day, at a set hour', help: 'For a drive that stays plugged in. If it is not there at that hour, the day is skipped.' },
  { value: 'manual', label: 'Only when I press “Back up now”', help: 'Nothing starts by itself.' },
];

/** How a drive's backups start, in a few words: "When plugged in", "Every day at 03:00". */
export function triggerLabel(d: Pick<Drive, 'trigger' | 'schedule_hour'>): string {
  if (d.trigger === 'schedule') return d.schedule_hour == null ? 'Every day' : `Every day at ${hourLabel(d.schedule_hour)}`;
  return TRIGGERS.find((t) => t.value === d.trigger)?.label ?? d.trigger;
}

const ACTIVITY: Record<DriveActivity, { label: string; tone: Tone }> = {
  absent: { label: 'Not plugged in', tone: 'neutral' },
  idle: { label: 'Plugged in · safe to remove', tone: 'ok' },
  backing_up: { label: 'Backing up', tone: 'info' },
  verifying: { label: 'Checking the backup', tone: 'info' },
  restoring: { label: 'Restoring from it', tone: 'info' },
};

export function activityLabel(a: DriveActivity): string {
  return ACTIVITY[a]?.label ?? a;
}

export function activityTone(a: DriveActivity): Tone {
  return ACTIVITY[a]?.tone ?? 'neutral';
}

/** Whether the drive is plugged in now. */
export function isAttached(d: Pick<Drive, 'activity'>): boolean {
  return d.activity !== 'absent';
}

/** Whether something runs on the drive now (its buttons wait). */
export function isBusy(d: Pick<Drive, 'activity' | 'job_id'>): boolean {
  return d.activity === 'backing_up' || d.activity === 'verifying' || d.activity === 'restoring';
}

export interface Age {
  /** "3 days ago", or "Never". */
  text: string;
  tone: Tone;
  /** Whole days since, or null for never. */
  days: number | null;
}

/**
 * How old the last successful backup is, and how worrying: fine within a day or two, a warning
 * from `staleDays` (the alert's default limit), bad when there was never one or it is more than
 * four times that old.
 */
export function backupAge(lastSuccess: string | null | undefined, now: Date = new Date(), staleDays = STALE_DAYS): Age {
  if (!lastSuccess) return { text: 'Never', tone: 'bad', days: null };
  const t = Date.parse(lastSuccess);
  if (Number.isNaN(t)) return { text: 'Unknown', tone: 'warn', days: null };
  const days = Math.max(0, Math.floor((now.getTime() - t) / DAY_MS));
  const text = formatAgo(lastSuccess, now);
  const tone: Tone = days >= staleDays * 4 ? 'bad' : days >= staleDays ? 'warn' : 'ok';
  return { text, tone, days };
}

/** One sentence about the backup's age for the card: "Last backup 2 hours ago." */
export function ageSentence(age: Age): string {
  if (age.days === null) return age.text === 'Never' ? 'No backup yet.' : 'The last backup time is unknown.';
  const staleNote = age.tone === 'ok' ? '' : ' Plug it in and back up soon.';
  return `Last backup ${age.text}.${staleNote}`;
}

export interface Space {
  /** "120 GB free of 500 GB". */
  text: string;
  /** Used, in [0, 1]. */
  used: number;
  tone: Tone;
}

/** Free space for the bar, or null when the drive was never seen. */
export function freeSpace(size: number | null | undefined, free: number | null | undefined): Space | null {
  if (size == null || free == null || size <= 0) return null;
  const f = Math.min(Math.max(free, 0), size);
  const used = 1 - f / size;
  const tone: Tone = used >= 0.95 ? 'bad' : used >= 0.85 ? 'warn' : 'ok';
  return { text: `${formatBytes(f)} free of ${formatBytes(size)}`, used, tone };
}

/** The last verification in words. */
export function verifyWords(d: Pick<Drive, 'last_verified_at' | 'last_verify_ok'>, now: Date = new Date()): { text: string; tone: Tone } {
  if (!d.last_verified_at) return { text: 'Not checked yet', tone: 'neutral' };
  const ago = formatAgo(d.last_verified_at, now);
  if (d.last_verify_ok === false) return { text: `Problems found ${ago}`, tone: 'bad' };
  return { text: `Every file checked was intact, ${ago}`, tone: 'ok' };
}

const OUTCOME: Record<BackupOutcome, { label: string; tone: Tone }> = {
  running: { label: 'Running', tone: 'info' },
  succeeded: { label: 'Succeeded', tone: 'ok' },
  failed: { label: 'Failed', tone: 'bad' },
  cancelled: { label: 'Stopped', tone: 'warn' },
  skipped: { label: 'Skipped (not plugged in)', tone: 'neutral' },
};

export function outcomeLabel(o: BackupOutcome): string {
  return OUTCOME[o]?.label ?? o;
}

export function outcomeTone(o: BackupOutcome): Tone {
  return OUTCOME[o]?.tone ?? 'neutral';
}

/** What a run did: "Copied 120 files (1.2 GB) · 3 set aside · 40 checked". */
export function runSummary(r: BackupRun): string {
  if (r.outcome === 'skipped') return r.error ?? 'The drive was not plugged in at the scheduled time.';
  const parts = [`Copied ${plural(r.files_copied, 'file')} (${formatBytes(r.bytes_copied)})`];
  if (r.files_set_aside > 0) parts.push(`${r.files_set_aside.toLocaleString('en')} set aside`);
  if (r.files_verified > 0) parts.push(`${r.files_verified.toLocaleString('en')} checked`);
  parts.push(`backup holds ${plural(r.files_total, 'file')}, ${formatBytes(r.bytes_total)}`);
  return parts.join(' · ');
}

/** How long a run took, or '' while it runs. */
export function runDuration(r: Pick<BackupRun, 'started_at' | 'finished_at'>): string {
  if (!r.finished_at) return '';
  const s = (Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000;
  return Number.isFinite(s) ? formatDuration(s) : '';
}

// Live progress: throughput and time left from the job's progress snapshots.

/** Bytes a second: "12.3 MB/s"; "" when there is nothing to say. */
export function formatThroughput(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null || !Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Time left in words: "about 5 minutes left", "less than a minute left"; "" when unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 60) return 'less than a minute left';
  // Rounded to what a person can use: whole minutes, then the two largest units.
  const rounded = seconds < 3600 ? Math.round(seconds / 60) * 60 : Math.round(seconds / 300) * 300;
  return `about ${formatDuration(rounded)} left`;
}

interface Sample {
  at: number;
  done: number;
}

/**
 * Speed of a running job from its progress snapshots: bytes over the last `windowMs` (so a stall
 * shows at once, and an early burst of small files does not promise too much).
 */
export class Throughput {
  private samples: Sample[] = [];
  private readonly windowMs: number;

  constructor(windowMs = 20_000) {
    this.windowMs = windowMs;
  }

  /** A snapshot: `done` bytes at `at` (ms). A counter that goes back (a new phase) starts over. */
  add(at: number, done: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && done < last.done) this.samples = [];
    if (last && at <= last.at) {
      last.done = Math.max(last.done, done);
      return;
    }
    this.samples.push({ at, done });
    const cutoff = at - this.windowMs;
    while (this.samples.length > 2 && this.samples[1].at <= cutoff) this.samples.shift();
  }

  /** Bytes a second, or null until two snapshots at least a second apart. */
  rate(now?: number): number | null {
    if (this.samples.length < 2) return null;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    // Time without a new snapshot counts too: a stalled copy slows down.
    const end = Math.max(last.at, now ?? last.at);
    const span = (end - first.at) / 1000;
    if (span < 1) return null;
    return (last.done - first.done) / span;
  }

  /** Seconds until `total` at the current rate, or null when unknown or stalled. */
  eta(total: number | null | undefined, now?: number): number | null {
    const r = this.rate(now);
    const last = this.samples[this.samples.length - 1];
    if (r === null || r <= 0 || total == null || !last) return null;
    return Math.max(0, (total - last.done) / r);
  }
}

/** "120 of 4,000 files" found in the job's phase text, when the box says so. */
export function filesFromPhase(phase: string): { done: number; total: number | null } | null {
  const m = /([\d,.\s]+?)\s+of\s+([\d,.\s]+?)\s+files?/i.exec(phase);
  if (m) {
    const done = Number(m[1].replace(/[,.\s]/g, ''));
    const total = Number(m[2].replace(/[,.\s]/g, ''));
    if (Number.isFinite(done) && Number.isFinite(total)) return { done, total };
  }
  const n = /([\d,]+)\s+files?/i.exec(phase);
  if (n) {
    const done = Number(n[1].replace(/,/g, ''));
    if (Number.isFinite(done)) return { done, total: null };
  }
  return null;
}

/**
 * The words of the phase without the counts the panel shows on their own lines: the box says
 * "Copying: 1204 of 5000 files, 1.0 GB of 4.0 GB, 10.0 MB/s, about 5 minutes left".
 */
export function phaseHead(phase: string): string {
  const m = /^([^:]+):\s*\d/.exec(phase);
  return m ? m[1].trim() : phase;
}

/** The speed and time left the box itself put in the phase, when it did ("…, 35.0 MB/s, about 2 minutes left"). */
export function rateFromPhase(phase: string): { throughput: string; eta: string } {
  const rate = /(\d+(?:\.\d+)?\s?[KMGT]?B\/s)/.exec(phase)?.[1] ?? '';
  const eta = /(less than a minute left|about [^,]+ left)/.exec(phase)?.[1] ?? '';
  return { throughput: rate, eta };
}

export interface LiveLine {
  files: string;
  bytes: string;
  throughput: string;
  eta: string;
}

/** What the progress panel shows for a running drive job. */
export function liveLine(p: Progress, meter: Throughput | null, now?: number): LiveLine {
  let files = '';
  let bytes = '';
  if (p.unit === 'files') {
    files = p.total != null ? `${p.done.toLocaleString('en')} of ${plural(p.total, 'file')}` : `${plural(p.done, 'file')} so far`;
  } else {
    const f = filesFromPhase(p.phase);
    if (f) files = f.total != null ? `${f.done.toLocaleString('en')} of ${plural(f.total, 'file')}` : `${plural(f.done, 'file')} so far`;
  }
  const byBytes = p.unit === 'bytes';
  if (byBytes) bytes = p.total != null ? `${formatBytes(p.done)} of ${formatBytes(p.total)}` : `${formatBytes(p.done)} so far`;
  const rate = byBytes && meter ? meter.rate(now) : null;
  const eta = byBytes && meter ? meter.eta(p.total, now) : null;
  // Until this page has seen the counts move (just opened, or the stream is down), the box's words.
  const said = rateFromPhase(p.phase);
  return { files, bytes, throughput: formatThroughput(rate) || said.throughput, eta: formatEta(eta) || said.eta };
}

// Results of the drive jobs.

function result(job: Job | null | undefined): DriveJobResult | null {
  const r = (job?.result ?? null) as unknown as DriveJobResult | null;
  return r && typeof r === 'object' && 'kind' in r ? r : null;
}

export function backupReport(job: Job | null | undefined): BackupReport | null {
  const r = result(job);
  return r?.kind === 'drive.backup' ? r.report : null;
}

export function verifyReport(job: Job | null | undefined): DriveVerifyReport | null {
  const r = result(job);
  return r?.kind === 'drive.verify' ? r.report : null;
}

export function driveRestoreReport(job: Job | null | undefined): DriveRestoreReport | null {
  const r = result(job);
  return r?.kind === 'drive.restore' ? r.report : null;
}

/** The drive a job works on: its target is the UUID. */
export function jobForDrive(jobs: readonly Job[], uuid: string, jobId: number | null | undefined): Job | null {
  if (jobId != null) {
    const byId = jobs.find((j) => j.id === jobId);
    if (byId) return byId;
  }
  let best: Job | null = null;
  for (const j of jobs) {
    if (j.target === uuid && DRIVE_JOB_KINDS.includes(j.kind) && (!best || j.id > best.id)) best = j;
  }
  return best;
}

// Attached devices: which can be enrolled or formatted.

/** A device's name for people: its label, the maker's model, or the kernel name. */
export function deviceName(d: Pick<AttachedDevice, 'fs_label' | 'model' | 'device'>): string {
  return d.fs_label || d.model || d.device;
}

/** The devices offered for enrolment or formatting: not enrolled yet. System disks are listed but locked. */
export function unenrolled(devices: readonly AttachedDevice[]): AttachedDevice[] {
  return devices.filter((d) => !d.enrolled);
}

/** Why a device cannot be enrolled as it is, or null when it can. */
export function enrollBlocker(d: AttachedDevice): string | null {
  if (d.system) return 'This disk is part of the box itself; it cannot be used for backups.';
  if (!d.fs_uuid || !d.fs_type) return 'It has no filesystem Keepsake can use. Format it to exFAT first.';
  if (d.fs_type.toLowerCase() !== 'exfat') return `It is formatted as ${d.fs_type}; backups need exFAT. Format it first (this erases it).`;
  return null;
}

/** Why a device cannot be formatted, or null when it can. */
export function formatBlocker(d: AttachedDevice): string | null {
  return d.system ? 'This disk is part of the box itself; it cannot be formatted.' : null;
}

/** A label for a new exFAT filesystem, checked as the box does; null when it is fine. */
export function labelError(label: string): string | null {
  const l = label.trim();
  if (!l) return 'Give the drive a short label.';
  if (l.length > LABEL_MAX) return `At most ${LABEL_MAX} characters (exFAT’s limit).`;
  if (!/^[A-Za-z0-9 _-]+$/.test(l)) return 'Use letters, digits, spaces, “-” and “_” only.';
  return null;
}

/**
 * Whether the Format button may be pressed: a device that can be formatted, a good label, and —
 * when it holds data — its `format_confirmation` typed exactly (spaces around it aside).
 */
export function formatReady(d: AttachedDevice | null, label: string, typed: string, busy = false): boolean {
  if (busy || !d || formatBlocker(d) !== null || labelError(label) !== null) return false;
  if (!d.has_data) return true;
  const phrase = d.format_confirmation;
  return !!phrase && typed.trim() === phrase;
}

/** An enrol (or edit) form as typed. */
export interface ConfigDraft {
  name: string;
  trigger: DriveTrigger;
  /** '' until chosen. */
  hour: number | '';
  include_thumbs: boolean;
  include_encoded_video: boolean;
}

export type ConfigField = 'name' | 'hour';

export function configDraft(d?: Partial<Drive> & { fs_label?: string | null }): ConfigDraft {
  return {
    name: d?.name ?? d?.fs_label ?? '',
    trigger: d?.trigger ?? 'plug_in',
    hour: d?.schedule_hour ?? (d?.trigger === 'schedule' ? 3 : ''),
    include_thumbs: d?.include_thumbs ?? false,
    include_encoded_video: d?.include_encoded_video ?? false,
  };
}

export function checkConfig(d: ConfigDraft): { ok: true; config: DriveConfig } | { ok: false; errors: Partial<Record<ConfigField, string>> } {
  const errors: Partial<Record<ConfigField, string>> = {};
  const name = d.name.trim();
  if (!name) errors.name = 'Give the drive a name you will recognise, like “Blue drive in the drawer”.';
  else if ([...name].length > NAME_MAX) errors.name = `At most ${NAME_MAX} characters.`;
  else if (/[\u0000-\u001f\u007f]/.test(name)) errors.name = 'Remove the control characters.';
  let hour: number | null = null;
  if (d.trigger === 'schedule') {
    if (d.hour === '' || !Number.isInteger(Number(d.hour)) || Number(d.hour) < 0 || Number(d.hour) > 23) errors.hour = 'Choose the hour of the daily backup.';
    else hour = Number(d.hour);
  }
  if (Object.keys(errors).length) return { ok: false, errors };
  return {
    ok: true,
    config: { name, trigger: d.trigger, schedule_hour: hour, include_thumbs: d.include_thumbs, include_encoded_video: d.include_encoded_video },
  };
}

// Restore from a drive.

/** What to restore from: an enrolled drive, or a plugged-in one (written by another appliance). */
export interface RestoreSource {
  uuid: string;
  name: string;
}

/** A plugged-in device a restore can read: it has an exFAT filesystem and is not the box's own. */
export function restoreSourceOf(d: AttachedDevice): RestoreSource | null {
  if (d.system || !d.fs_uuid || d.fs_type?.toLowerCase() !== 'exfat') return null;
  return { uuid: d.fs_uuid, name: deviceName(d) };
}

/** The restore button works only once `restore` is typed exactly, and (for files) something is chosen. */
export function restoreReady(scope: 'instance' | 'files', paths: readonly string[], typed: string, busy = false): boolean {
  if (busy || typed.trim() !== RESTORE_PHRASE) return false;
  return scope === 'instance' || paths.length > 0;
}

/** The chosen paths with one added or removed. */
export function togglePath(paths: readonly string[], p: string): string[] {
  return paths.includes(p) ? paths.filter((x) => x !== p) : [...paths, p];
}

// The backup settings every drive shares.

export interface BackupSettingsDraft {
  keep_deleted_days: number | string;
  verify_after_backup: boolean;
  /** Blank for never. */
  verify_every_days: number | string | null;
  verify_depth: VerifyDepth;
  verify_sample_percent: number | string;
  /** Blank keeps the one set. */
  passphrase: string;
  /** Whether one is set (sent back as it came; the box ignores it). */
  passphrase_set: boolean;
  recipient: string;
}

export type BackupSettingsField = 'keep_deleted_days' | 'verify_every_days' | 'verify_sample_percent' | 'passphrase' | 'recipient';

export function settingsDraft(s: BackupSettings): BackupSettingsDraft {
  return {
    keep_deleted_days: s.keep_deleted_days,
    verify_after_backup: s.verify_after_backup,
    verify_every_days: s.verify_every_days ?? '',
    verify_depth: s.verify_depth,
    verify_sample_percent: s.verify_sample_percent,
    passphrase: '',
    passphrase_set: s.bundle_passphrase_set ?? false,
    recipient: s.bundle_recipient ?? '',
  };
}

function whole(v: number | string | null): number | null {
  if (v === null) return null;
  const t = String(v).trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

const AGE_RECIPIENT = /^age1[02-9ac-hj-np-z]{50,100}$/;

export function checkBackupSettings(
  d: BackupSettingsDraft,
): { ok: true; settings: BackupSettings } | { ok: false; errors: Partial<Record<BackupSettingsField, string>> } {
  const errors: Partial<Record<BackupSettingsField, string>> = {};
  const keep = whole(d.keep_deleted_days);
  if (keep === null || keep < 1 || keep > KEEP_DELETED_DAYS_MAX) errors.keep_deleted_days = `Enter a number of days from 1 to ${KEEP_DELETED_DAYS_MAX}.`;
  let every: number | null = null;
  if (d.verify_every_days !== null && String(d.verify_every_days).trim() !== '') {
    every = whole(d.verify_every_days);
    if (every === null || every < 1 || every > VERIFY_EVERY_DAYS_MAX) errors.verify_every_days = `Enter a number of days from 1 to ${VERIFY_EVERY_DAYS_MAX}, or leave it empty for never.`;
  }
  const pct = whole(d.verify_sample_percent);
  if (pct === null || pct < 1 || pct > 100) errors.verify_sample_percent = 'Enter a percentage from 1 to 100.';
  const pass = d.passphrase;
  if (pass && ([...pass].length < PASSPHRASE_MIN || [...pass].length > PASSPHRASE_MAX)) {
    errors.passphrase = `Use ${PASSPHRASE_MIN} to ${PASSPHRASE_MAX} characters; a few unrelated words are easy to remember.`;
  }
  const recipient = d.recipient.trim();
  if (recipient && !AGE_RECIPIENT.test(recipient)) errors.recipient = 'An age public key starts with “age1” and is about 60 characters long.';
  if (Object.keys(errors).length) return { ok: false, errors };
  return {
    ok: true,
    settings: {
      keep_deleted_days: keep!,
      verify_after_backup: d.verify_after_backup,
      verify_every_days: every,
      verify_depth: d.verify_depth,
      verify_sample_percent: pct!,
      bundle_passphrase: pass ? pass : null,
      bundle_recipient: recipient || null,
      bundle_passphrase_set: d.passphrase_set,
    },
  };
}

/** The verification policy in plain words. */
export function verifyPolicyWords(s: Pick<BackupSettings, 'verify_after_backup' | 'verify_every_days' | 'verify_depth' | 'verify_sample_percent'>): string {
  const after = s.verify_after_backup ? 'Each backup reads back what it wrote.' : 'Backups do not read back what they wrote.';
  if (s.verify_every_days == null) return `${after} No periodic check.`;
  const what = s.verify_depth === 'full' ? 'every file' : `${s.verify_sample_percent}% of the files, chosen at random`;
  return `${after} Every ${plural(s.verify_every_days, 'day')}, a plugged-in drive is checked: ${what}.`;
}
