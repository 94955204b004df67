//! The exact text of `keepsake drive` views.

use chrono::{TimeZone, Utc};
use keepsake_api::{
    AttachedDevice, BackupHistory, BackupOutcome, BackupReport, BackupRun, BackupSettings, Drive, DriveActivity,
    DriveFileEntry, DriveFileList, DriveList, DriveProblem, DriveTrigger, DriveVerifyReport, JobResult, VerifyDepth,
};

use super::*;

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap()
}

fn run(outcome: BackupOutcome) -> BackupRun {
    BackupRun {
        kind: keepsake_api::drives::DriveRunKind::Backup,
        job_id: Some(7),
        started_at: t(10, 0),
        finished_at: Some(t(10, 5)),
        outcome,
        files_total: 1200,
        bytes_total: 3 * 1024 * 1024 * 1024,
        files_copied: 20,
        bytes_copied: 1536,
        files_set_aside: 0,
        files_verified: 0,
        error: None,
    }
}

fn drive() -> Drive {
    Drive {
        uuid: "ABCD-1234".into(),
        name: "Blue".into(),
        trigger: DriveTrigger::Schedule,
        schedule_hour: Some(3),
        include_thumbs: false,
        include_encoded_video: false,
        enrolled_at: t(9, 0),
        activity: DriveActivity::Idle,
        device: Some("/dev/sdb1".into()),
        size: Some(1024 * 1024 * 1024),
        free: Some(512 * 1024 * 1024),
        job_id: None,
        last_run: Some(run(BackupOutcome::Succeeded)),
        last_success_at: Some(t(10, 5)),
        last_verified_at: None,
        last_verify_ok: None,
    }
}

fn device(dev: &str, fs: Option<&str>, system: bool) -> AttachedDevice {
    AttachedDevice {
        device: dev.into(),
        fs_uuid: fs.map(|_| "EF01-2345".into()),
        fs_type: fs.map(Into::into),
        fs_label: Some("STICK".into()),
        size: 2048,
        bus: Some("usb".into()),
        model: None,
        enrolled: false,
        system,
        has_data: fs.is_some(),
        format_confirmation: fs.map(|_| "erase STICK".into()),
    }
}

#[test]
fn list_shows_drives_with_the_age_of_their_backup_then_devices() {
    let mut absent = drive();
    absent.uuid = "FFFF-0000".into();
    absent.name = "Red".into();
    absent.trigger = DriveTrigger::PlugIn;
    absent.activity = DriveActivity::Absent;
    absent.last_success_at = None;
    absent.last_verified_at = Some(t(8, 0));
    absent.last_verify_ok = Some(false);
    absent.last_run = Some(BackupRun { error: Some("drive pulled out".into()), ..run(BackupOutcome::Failed) });
    let mut enrolled = device("/dev/sdb1", Some("exfat"), false);
    enrolled.enrolled = true;
    let l = DriveList {
        drives: vec![drive(), absent],
        attached: vec![
            enrolled,
            device("/dev/sdc1", Some("exfat"), false),
            device("/dev/sdd1", Some("ntfs"), false),
            device("/dev/sda2", Some("zfs_member"), true),
        ],
        warnings: vec!["udev is not running".into()],
    };
    let lines = list_lines(&l, &Utc, t(12, 10));
    assert_eq!(
        lines,
        [
            "UUID       NAME  TRIGGER      LAST BACKUP                   FREE                  LAST CHECK                 STATE",
            "ABCD-1234  Blue  daily 03:00  2026-12-07 10:05 (2h 5m ago)  512.0 MiB of 1.0 GiB  never                      attached (safe to remove)",
            "FFFF-0000  Red   plug-in      never                         512.0 MiB of 1.0 GiB  2026-12-07 08:00 PROBLEMS  absent; last run failed: drive pulled out",
            "",
            "plugged in, not enrolled:",
            "DEVICE     UUID       FS          LABEL  SIZE     BUS  NOTE",
            "/dev/sdc1  EF01-2345  exfat       STICK  2.0 KiB  usb  can be enrolled",
            "/dev/sdd1  EF01-2345  ntfs        STICK  2.0 KiB  usb  format to exFAT first (erases it)",
            "/dev/sda2  EF01-2345  zfs_member  STICK  2.0 KiB  usb  part of the system: cannot be used",
            "warning: udev is not running",
        ]
    );
}

#[test]
fn an_empty_list_says_how_to_start() {
    let lines = list_lines(&DriveList { drives: vec![], attached: vec![], warnings: vec![] }, &Utc, t(12, 0));
    assert!(lines[0].contains("keepsake drive enroll UUID"), "{lines:?}");
    assert_eq!(lines[2], "no other drives plugged in");
}

#[test]
fn ages_read_as_time_ago() {
    assert_eq!(ago(None, t(12, 0)), "never");
    assert_eq!(ago(Some(&t(11, 58)), t(12, 0)), "2m 0s ago");
    assert_eq!(ago(Some(&t(12, 5)), t(12, 0)), "0s ago", "a clock a little behind is not negative");
}

#[test]
fn history_lists_runs_newest_first_with_what_they_did() {
    let skipped = BackupRun {
        job_id: None,
        finished_at: None,
        error: Some("the drive was not plugged in at 03:00".into()),
        ..run(BackupOutcome::Skipped)
    };
    let failed = BackupRun { error: Some("no space left".into()), files_set_aside: 2, ..run(BackupOutcome::Failed) };
    let h = BackupHistory { uuid: "ABCD-1234".into(), runs: vec![run(BackupOutcome::Succeeded), failed, skipped] };
    assert_eq!(
        history_lines(&h, &Utc),
        [
            "STARTED           RUN     OUTCOME    TOOK   JOB  WHAT IT DID",
            "2026-12-07 10:00  backup  succeeded  5m 0s  7    copied 20 files (1.5 KiB), holds 1200 files (3.0 GiB)",
            "2026-12-07 10:00  backup  failed     5m 0s  7    copied 20 files (1.5 KiB), holds 1200 files (3.0 GiB), 2 set aside: no space left",
            "2026-12-07 10:00  backup  skipped    -      -    the drive was not plugged in at 03:00",
        ]
    );
    assert_eq!(history_lines(&BackupHistory { uuid: "X".into(), runs: vec![] }, &Utc), ["no backups to X yet"]);
}

#[test]
fn files_list_folders_with_counts() {
    let l = DriveFileList {
        uuid: "ABCD-1234".into(),
        path: "library".into(),
        written_by: Some("keepsake.local".into()),
        last_run: Some(t(10, 5)),
        entries: vec![
            DriveFileEntry { name: "2026".into(), dir: true, size: 4096, files: 3 },
            DriveFileEntry { name: "a.jpg".into(), dir: false, size: 10, files: 1 },
        ],
        truncated: true,
    };
    assert_eq!(
        files_lines(&l, &Utc),
        [
            "ABCD-1234:/library",
            "written by keepsake.local, last run 2026-12-07 10:05",
            "SIZE     FILES  NAME",
            "4.0 KiB  3      2026/",
            "10 B            a.jpg",
            "(only the first 2 entries)",
        ]
    );
}

#[test]
fn settings_never_show_the_passphrase() {
    let mut s = BackupSettings {
        keep_deleted_days: 30,
        verify_after_backup: true,
        verify_every_days: Some(30),
        verify_depth: VerifyDepth::Sample,
        verify_sample_percent: 5,
        bundle_passphrase: Some("never printed".into()),
        bundle_recipient: None,
        bundle_passphrase_set: true,
    };
    let lines = settings_lines(&s);
    assert_eq!(
        lines,
        [
            "deleted files kept on the drives: 30 days",
            "read back after each backup:      yes",
            "periodic check:                   every 30 days, 5% of the files",
            "configuration copy locked with:   passphrase (set)",
        ]
    );
    assert!(!lines.concat().contains("never printed"));
    s.bundle_passphrase_set = false;
    s.verify_every_days = None;
    let lines = settings_lines(&s);
    assert!(lines[2].ends_with("never") && lines[3].contains("NOT SET"), "{lines:?}");
}

#[test]
fn results_say_what_happened_and_when_it_is_safe_to_remove() {
    let backup = JobResult::BackedUp(BackupReport {
        uuid: "ABCD-1234".into(),
        name: "Blue".into(),
        run: run(BackupOutcome::Succeeded),
        skipped: vec!["library/link: a symbolic link".into()],
        free: 2048,
        safe_to_remove: true,
    });
    assert_eq!(
        result_lines(&backup),
        [
            "backup to Blue (ABCD-1234) succeeded: copied 20 files (1.5 KiB), holds 1200 files (3.0 GiB)",
            "2.0 KiB free on the drive",
            "not copied as they are (1):",
            "  library/link: a symbolic link",
            "safe to remove: the drive can be unplugged now",
        ]
    );
    let verify = JobResult::DriveVerified(DriveVerifyReport {
        uuid: "ABCD-1234".into(),
        full: false,
        files_checked: 12,
        bytes_checked: 2048,
        problems: vec![DriveProblem { path: "library/a.jpg".into(), problem: "hash_differs".into() }],
        problem_count: 1,
    });
    assert_eq!(
        result_lines(&verify),
        ["checked 12 files (2.0 KiB) on ABCD-1234, a sample: 1 PROBLEMS", "  library/a.jpg: hash_differs"]
    );
    let restored = JobResult::DriveRestored(keepsake_api::DriveRestoreReport {
        uuid: "ABCD-1234".into(),
        scope: keepsake_api::DriveRestoreScope::Files,
        pre_point_id: Some("kp-7".into()),
        files_restored: 2,
        bytes_restored: 2048,
        files_unchanged: 1,
        dump: None,
        conflicts: vec!["library/a.jpg".into()],
    });
    assert_eq!(
        result_lines(&restored),
        [
            "restored chosen files from ABCD-1234: 2 files (2.0 KiB), 1 already there",
            "kept as they were (1; the library's copy differs from the drive's):",
            "  library/a.jpg",
            "to undo: `keepsake restore-point restore kp-7 --scope instance`",
        ]
    );
    let other = JobResult::SelfCheck(keepsake_api::SelfCheckReport { checks: vec![], problems: 0 });
    assert!(result_lines(&other).is_empty());
}
