// The wire types of USB-drive backups (crates/keepsake-api/src/drives.rs), named from the schemas
// generated out of docs/openapi.json.

import type { components } from './openapi';

type Schemas = components['schemas'];

export type DriveTrigger = Schemas['DriveTrigger'];
export type DriveActivity = Schemas['DriveActivity'];
export type BackupOutcome = Schemas['BackupOutcome'];
export type VerifyDepth = Schemas['VerifyDepth'];
export type AttachedDevice = Schemas['AttachedDevice'];
export type BackupRun = Schemas['BackupRun'];
export type Drive = Schemas['Drive'];
export type DriveList = Schemas['DriveList'];
export type DriveConfig = Schemas['DriveConfig'];
export type DriveEnroll = Schemas['DriveEnroll'];
export type DriveFormat = Schemas['DriveFormat'];
export type BackupSettings = Schemas['BackupSettings'];
export type BackupReport = Schemas['BackupReport'];
export type DriveProblem = Schemas['DriveProblem'];
export type DriveVerifyReport = Schemas['DriveVerifyReport'];
export type DriveRestoreReport = Schemas['DriveRestoreReport'];
export type DriveRestoreScope = Schemas['DriveRestoreScope'];
export type DriveFormatReport = Schemas['DriveFormatReport'];
export type BackupHistory = Schemas['BackupHistory'];

export type DriveRestoreRequest = Schemas['DriveRestoreRequest'];
export type DriveFileEntry = Schemas['DriveFileEntry'];
export type DriveFileList = Schemas['DriveFileList'];

/** What the drive jobs leave in `Job.result` (`{kind, report}`, tagged by the job's kind). */
export type DriveJobResult = Extract<NonNullable<Schemas['Job']['result']>, { kind: `drive.${string}` }>;
