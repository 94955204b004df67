// The wire types of USB-drive backups, as crates/keepsake-api/src/drives.rs declares them.
//
// Written by hand until the agent publishes the drive routes in docs/openapi.json; then each of
// these becomes an alias of the generated schema (`components['schemas']['Drive']`, ...) and
// `npm run check` compares them with what the box really sends. Only this file and
// drivesApi.ts change at that point.

export type DriveTrigger = 'plug_in' | 'schedule' | 'manual';
export type DriveActivity = 'absent' | 'idle' | 'backing_up' | 'verifying' | 'restoring';
export type BackupOutcome = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';
export type VerifyDepth = 'sample' | 'full';
export type DriveRestoreScope = 'instance' | 'files';

export interface AttachedDevice {
  device: string;
  fs_uuid: string | null;
  fs_type: string | null;
  fs_label: string | null;
  size: number;
  bus: string | null;
  model: string | null;
  enrolled: boolean;
  system: boolean;
  has_data: boolean;
  format_confirmation: string | null;
}

export interface BackupRun {
  job_id: number | null;
  started_at: string;
  finished_at: string | null;
  outcome: BackupOutcome;
  files_total: number;
  bytes_total: number;
  files_copied: number;
  bytes_copied: number;
  files_set_aside: number;
  files_verified: number;
  error: string | null;
}

export interface Drive {
  uuid: string;
  name: string;
  trigger: DriveTrigger;
  schedule_hour: number | null;
  include_thumbs: boolean;
  include_encoded_video: boolean;
  enrolled_at: string;
  activity: DriveActivity;
  device: string | null;
  size: number | null;
  free: number | null;
  job_id: number | null;
  last_run: BackupRun | null;
  last_success_at: string | null;
  last_verified_at: string | null;
  last_verify_ok: boolean | null;
}

export interface DriveList {
  drives: Drive[];
  attached: AttachedDevice[];
  warnings: string[];
}

export interface DriveConfig {
  name: string;
  trigger: DriveTrigger;
  schedule_hour?: number | null;
  include_thumbs?: boolean;
  include_encoded_video?: boolean;
}

export interface DriveEnroll {
  uuid: string;
  config: DriveConfig;
}

export interface DriveFormat {
  device: string;
  expect_uuid?: string | null;
  label: string;
  confirm?: string | null;
  enroll?: DriveConfig | null;
}

export interface BackupSettings {
  keep_deleted_days: number;
  verify_after_backup: boolean;
  verify_every_days: number | null;
  verify_depth: VerifyDepth;
  verify_sample_percent: number;
  /** Write-only: never in an answer; `null` in a PUT keeps the one set. */
  bundle_passphrase?: string | null;
  bundle_recipient?: string | null;
  /** Read-only. */
  bundle_passphrase_set?: boolean;
}

export interface BackupReport {
  uuid: string;
  name: string;
  run: BackupRun;
  skipped: string[];
  free: number;
  safe_to_remove: boolean;
}

export interface DriveProblem {
  path: string;
  problem: string;
}

export interface DriveVerifyReport {
  uuid: string;
  full: boolean;
  files_checked: number;
  bytes_checked: number;
  problems: DriveProblem[];
  problem_count: number;
}

export interface DriveRestoreRequest {
  scope: DriveRestoreScope;
  paths: string[];
  confirm: string;
}

export interface DriveRestoreReport {
  uuid: string;
  scope: DriveRestoreScope;
  pre_point_id: string | null;
  files_restored: number;
  bytes_restored: number;
  files_unchanged: number;
  dump: string | null;
}

export interface DriveFormatReport {
  device: string;
  uuid: string;
  label: string;
  enrolled: boolean;
}

export interface BackupHistory {
  uuid: string;
  runs: BackupRun[];
}

export interface DriveFileEntry {
  name: string;
  dir: boolean;
  size: number;
  files: number;
}

export interface DriveFileList {
  uuid: string;
  path: string;
  written_by: string | null;
  last_run: string | null;
  entries: DriveFileEntry[];
  truncated: boolean;
}

/** What the drive jobs leave in `Job.result` (`{kind, report}`, tagged by the job's kind). */
export type DriveJobResult =
  | { kind: 'drive.backup'; report: BackupReport }
  | { kind: 'drive.verify'; report: DriveVerifyReport }
  | { kind: 'drive.restore'; report: DriveRestoreReport }
  | { kind: 'drive.format'; report: DriveFormatReport };
