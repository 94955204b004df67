//! `keepsake drive`: list drives and devices, enroll, edit and forget drives, back up, verify,
//! eject, history, browse and restore, format (with the device's confirmation phrase), and the
//! backup settings. Calls the agent's drive routes; what is printed is built in `drive_view`.

use std::io::{BufRead, IsTerminal, Write};

use chrono::{Local, Utc};
use http::Method;
use keepsake_api::limits::CONFIRM_RESTORE;
use keepsake_api::paths::{self, fill};
use keepsake_api::{
    AttachedDevice, BackupHistory, BackupSettings, Client, Drive, DriveConfig, DriveEnroll, DriveFileList, DriveFormat,
    DriveList, DriveRestoreRequest, DriveRestoreScope, DriveTrigger, DriveVerifyRequest, Job,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::args::OrNever;
use crate::drive_args::{BackupSettingsChanges, ConfigArgs, DriveCommand, PASSPHRASE_MIN};
use crate::drive_view as view;
use crate::jobs::wait_for;
use crate::term::{ask_phrase, confirm, phrase_matches, print_json_or, say};

pub async fn run(client: &Client, cmd: DriveCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        DriveCommand::List => {
            let l: DriveList = get(client, paths::DRIVES).await?;
            print_json_or(json, &l, || print_lines(&view::list_lines(&l, &Local, Utc::now())))?;
            Ok(0)
        }
        DriveCommand::Enroll { uuid, config } => {
            let body = DriveEnroll { uuid, config: drive_config(config)? };
            let d: Drive = send(client, Method::POST, paths::DRIVES, &body).await?;
            print_json_or(json, &d, || {
                println!("enrolled {} ({}): {}", d.name, d.uuid, enrolled_words(&d));
            })?;
            Ok(0)
        }
        DriveCommand::Edit { uuid, name, trigger, hour, thumbs, encoded_video } => {
            let current = find_drive(client, &uuid).await?;
            let config = DriveConfig {
                name: name.unwrap_or(current.name),
                trigger: trigger.unwrap_or(current.trigger),
                schedule_hour: hour.or(current.schedule_hour),
                include_thumbs: thumbs.unwrap_or(current.include_thumbs),
                include_encoded_video: encoded_video.unwrap_or(current.include_encoded_video),
            };
            let config = checked(config)?;
            let d: Drive = send(client, Method::PUT, &fill(paths::DRIVE, &[("uuid", &uuid)]), &config).await?;
            print_json_or(json, &d, || println!("saved {} ({}): {}", d.name, d.uuid, enrolled_words(&d)))?;
            Ok(0)
        }
        DriveCommand::Forget { uuid, yes } => {
            let d = find_drive(client, &uuid).await?;
            let q = format!("Stop backing up to {} ({})? The backup on it stays.", d.name, d.uuid);
            if !yes && !confirm(&q)? {
                eprintln!("not forgotten");
                return Ok(1);
            }
            let answer: serde_json::Value =
                client.call_json(Method::DELETE, &fill(paths::DRIVE, &[("uuid", &uuid)]), None).await?;
            print_json_or(json, &answer, || {
                println!("forgot {} ({}); its backup stays on the drive and can still be restored", d.name, d.uuid)
            })?;
            Ok(0)
        }
        DriveCommand::Backup { uuid, no_wait } => {
            let job: Job =
                send(client, Method::POST, &fill(paths::DRIVE_BACKUP, &[("uuid", &uuid)]), &Empty {}).await?;
            wait_for(client, job, "the backup", no_wait, json).await
        }
        DriveCommand::Verify { uuid, full, no_wait } => {
            let body = DriveVerifyRequest { full };
            let job: Job = send(client, Method::POST, &fill(paths::DRIVE_VERIFY, &[("uuid", &uuid)]), &body).await?;
            wait_for(client, job, "the check", no_wait, json).await
        }
        DriveCommand::Eject { uuid } => {
            let answer: serde_json::Value =
                send(client, Method::POST, &fill(paths::DRIVE_EJECT, &[("uuid", &uuid)]), &Empty {}).await?;
            print_json_or(json, &answer, || println!("{uuid} is unmounted: safe to remove"))?;
            Ok(0)
        }
        DriveCommand::History { uuid } => {
            let h: BackupHistory = get(client, &fill(paths::DRIVE_HISTORY, &[("uuid", &uuid)])).await?;
            print_json_or(json, &h, || print_lines(&view::history_lines(&h, &Local)))?;
            Ok(0)
        }
        DriveCommand::Files { uuid, path } => {
            let mut url = fill(paths::DRIVE_FILES, &[("uuid", &uuid)]);
            if let Some(p) = path.as_deref().map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()) {
                url.push_str(&format!("?path={}", query_escape(p)));
            }
            let l: DriveFileList = get(client, &url).await?;
            print_json_or(json, &l, || print_lines(&view::files_lines(&l, &Local)))?;
            Ok(0)
        }
        DriveCommand::Restore { uuid, files, instance, confirm, no_wait } => {
            let (scope, paths_) =
                if instance { (DriveRestoreScope::Instance, Vec::new()) } else { (DriveRestoreScope::Files, files) };
            restore_warning(scope, &paths_).iter().for_each(|l| say(json, l));
            if !confirmed(confirm, CONFIRM_RESTORE, "Restore?")? {
                eprintln!("not restored: the confirmation was not `{CONFIRM_RESTORE}`");
                return Ok(1);
            }
            let body = DriveRestoreRequest { scope, paths: paths_, confirm: CONFIRM_RESTORE.to_owned() };
            let job: Job = send(client, Method::POST, &fill(paths::DRIVE_RESTORE, &[("uuid", &uuid)]), &body).await?;
            wait_for(client, job, "the restore", no_wait, json).await
        }
        DriveCommand::Format { device, label, confirm, enroll_as, trigger, hour, no_wait } => {
            let l: DriveList = get(client, paths::DRIVES).await?;
            let Some(dev) = l.attached.iter().find(|d| d.device == device) else {
                anyhow::bail!("no device {device} is plugged in; `keepsake drive list` shows those that are")
            };
            if dev.system {
                eprintln!("refusing: {device} is part of the system (mounted, in a ZFS pool or the boot disk)");
                return Ok(1);
            }
            let phrase = format_phrase(dev)?;
            format_warning(dev).iter().for_each(|l| say(json, l));
            if let Some(p) = &phrase
                && !confirmed(confirm.clone(), p, "Format?")?
            {
                eprintln!("not formatted: the confirmation was not `{p}`");
                return Ok(1);
            }
            let enroll = match enroll_as {
                Some(name) => Some(checked(DriveConfig {
                    name,
                    trigger: trigger.unwrap_or(DriveTrigger::PlugIn),
                    schedule_hour: hour,
                    include_thumbs: false,
                    include_encoded_video: false,
                })?),
                None => None,
            };
            let body = DriveFormat { device, expect_uuid: dev.fs_uuid.clone(), label, confirm: phrase, enroll };
            let job: Job = send(client, Method::POST, paths::DRIVES_FORMAT, &body).await?;
            wait_for(client, job, "formatting", no_wait, json).await
        }
        DriveCommand::Settings(changes) => settings(client, changes, json).await,
    }
}

#[derive(Serialize)]
struct Empty {}

async fn get<T: DeserializeOwned>(client: &Client, path: &str) -> anyhow::Result<T> {
    Ok(client.call_json(Method::GET, path, None).await?)
}

async fn send<T: DeserializeOwned>(
    client: &Client,
    method: Method,
    path: &str,
    body: &impl Serialize,
) -> anyhow::Result<T> {
    Ok(client.call_json(method, path, Some(&serde_json::to_value(body)?)).await?)
}

async fn find_drive(client: &Client, uuid: &str) -> anyhow::Result<Drive> {
    let l: DriveList = get(client, paths::DRIVES).await?;
    l.drives.into_iter().find(|d| d.uuid == uuid).ok_or_else(|| {
        anyhow::anyhow!("no enrolled drive has the UUID {uuid}; `keepsake drive list` shows the enrolled drives")
    })
}

fn enrolled_words(d: &Drive) -> String {
    match (d.trigger, d.schedule_hour) {
        (DriveTrigger::PlugIn, _) => "backs up when plugged in".to_owned(),
        (DriveTrigger::Schedule, Some(h)) => format!("backs up every day at {h:02}:00 while plugged in"),
        (DriveTrigger::Schedule, None) => "backs up every day while plugged in".to_owned(),
        (DriveTrigger::Manual, _) => "backs up only with `keepsake drive backup`".to_owned(),
    }
}

/// A drive's settings from the command line, checked.
fn drive_config(a: ConfigArgs) -> anyhow::Result<DriveConfig> {
    checked(DriveConfig {
        name: a.name,
        trigger: a.trigger,
        schedule_hour: a.hour,
        include_thumbs: a.thumbs,
        include_encoded_video: a.encoded_video,
    })
}

/// The hour belongs to a schedule, which needs one; the name must say something.
fn checked(mut c: DriveConfig) -> anyhow::Result<DriveConfig> {
    c.name = c.name.trim().to_owned();
    if c.name.is_empty() {
        anyhow::bail!("--name is empty: give the drive a name you will recognise, like \"Blue drive in the drawer\"");
    }
    match (c.trigger, c.schedule_hour) {
        (DriveTrigger::Schedule, None) => {
            anyhow::bail!("--trigger schedule backs up once a day: say at which hour with --hour (0-23)")
        }
        (DriveTrigger::Schedule, Some(_)) => {}
        (_, Some(_)) => c.schedule_hour = None,
        (_, None) => {}
    }
    Ok(c)
}

/// The phrase formatting this device needs, when it holds data.
fn format_phrase(d: &AttachedDevice) -> anyhow::Result<Option<String>> {
    match (d.has_data, &d.format_confirmation) {
        (false, _) => Ok(None),
        (true, Some(p)) => Ok(Some(p.clone())),
        (true, None) => anyhow::bail!(
            "{} holds data but the agent named no confirmation phrase for it; refusing to format",
            d.device
        ),
    }
}

fn format_warning(d: &AttachedDevice) -> Vec<String> {
    let what = [d.fs_label.as_deref(), d.model.as_deref(), d.fs_type.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    let mut lines = vec![format!("{} ({}, {})", d.device, keepsake_api::human_bytes(d.size), what)];
    if d.has_data {
        lines.push("Formatting ERASES EVERYTHING on this device. This cannot be undone.".to_owned());
    } else {
        lines.push("It gets a new, empty exFAT filesystem.".to_owned());
    }
    lines
}

fn restore_warning(scope: DriveRestoreScope, paths_: &[String]) -> Vec<String> {
    match scope {
        DriveRestoreScope::Instance => vec![
            "This replaces Immich on this box (database and every photo and video) with what is on the drive."
                .to_owned(),
            "Immich stops while it runs; a restore point of the box as it is now is made first, so it can be undone."
                .to_owned(),
        ],
        DriveRestoreScope::Files => {
            let mut lines = vec![format!("These {} files or folders are put back where they were:", paths_.len())];
            lines.extend(paths_.iter().map(|p| format!("  {p}")));
            lines
        }
    }
}

/// Whether the person confirmed with `phrase`: passed with `--confirm`, or typed at the terminal.
fn confirmed(given: Option<String>, phrase: &str, question: &str) -> anyhow::Result<bool> {
    match given {
        Some(g) => Ok(phrase_matches(&g, phrase)),
        None => ask_phrase(question, phrase, &format!("--confirm '{phrase}'")),
    }
}

/// Shows the settings; with changes, reads them, changes what was given and saves them.
async fn settings(client: &Client, changes: BackupSettingsChanges, json: bool) -> anyhow::Result<i32> {
    let current: BackupSettings = get(client, paths::DRIVES_SETTINGS).await?;
    if changes == BackupSettingsChanges::default() {
        print_json_or(json, &current, || print_lines(&view::settings_lines(&current)))?;
        return Ok(0);
    }
    let passphrase = if changes.set_passphrase { Some(read_passphrase()?) } else { None };
    let wanted = apply(current, &changes, passphrase);
    let saved: BackupSettings = send(client, Method::PUT, paths::DRIVES_SETTINGS, &wanted).await?;
    print_json_or(json, &saved, || {
        println!("saved:");
        print_lines(&view::settings_lines(&saved));
    })?;
    Ok(0)
}

/// `s` with what `c` gives changed, and the rest as it was; the passphrase is sent only when new
/// (`None` keeps the one set).
fn apply(mut s: BackupSettings, c: &BackupSettingsChanges, passphrase: Option<String>) -> BackupSettings {
    if let Some(d) = c.keep_deleted_days {
        s.keep_deleted_days = d;
    }
    if let Some(v) = c.verify_after_backup {
        s.verify_after_backup = v;
    }
    if let Some(OrNever(days)) = c.verify_every {
        s.verify_every_days = days;
    }
    if let Some(d) = c.verify_depth {
        s.verify_depth = d;
    }
    if let Some(p) = c.sample_percent {
        s.verify_sample_percent = p;
    }
    if let Some(OrNever(r)) = &c.recipient {
        s.bundle_recipient = r.clone();
    }
    s.bundle_passphrase = passphrase;
    s
}

/// One line from standard input (asked for on a terminal), at least the minimum length.
fn read_passphrase() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("New passphrase for the configuration copy on the drives (at least {PASSPHRASE_MIN} characters): ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\r', '\n']).to_owned();
    if p.chars().count() < PASSPHRASE_MIN {
        anyhow::bail!("the passphrase is too short: use at least {PASSPHRASE_MIN} characters (a few unrelated words)");
    }
    Ok(p)
}

/// Percent-encodes a query value (a path inside the backup).
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn print_lines(lines: &[String]) {
    for l in lines {
        println!("{l}");
    }
}

#[cfg(test)]
mod tests {
    use keepsake_api::VerifyDepth;

    use super::*;

    fn settings() -> BackupSettings {
        BackupSettings {
            keep_deleted_days: 30,
            verify_after_backup: true,
            verify_every_days: Some(30),
            verify_depth: VerifyDepth::Sample,
            verify_sample_percent: 5,
            bundle_passphrase: None,
            bundle_recipient: Some("age1old".into()),
            bundle_passphrase_set: true,
        }
    }

    #[test]
    fn settings_change_only_what_was_given_and_keep_the_passphrase() {
        assert_eq!(apply(settings(), &BackupSettingsChanges::default(), None), settings());
        let changed = apply(
            settings(),
            &BackupSettingsChanges {
                keep_deleted_days: Some(90),
                verify_every: Some(OrNever(None)),
                recipient: Some(OrNever(None)),
                ..BackupSettingsChanges::default()
            },
            Some("correct horse battery".into()),
        );
        let mut expected = settings();
        expected.keep_deleted_days = 90;
        expected.verify_every_days = None;
        expected.bundle_recipient = None;
        expected.bundle_passphrase = Some("correct horse battery".into());
        assert_eq!(changed, expected);
    }

    #[test]
    fn a_schedule_needs_an_hour_and_other_triggers_drop_it() {
        let c = |trigger, hour| DriveConfig {
            name: " Blue ".into(),
            trigger,
            schedule_hour: hour,
            include_thumbs: false,
            include_encoded_video: false,
        };
        let err = checked(c(DriveTrigger::Schedule, None)).unwrap_err().to_string();
        assert!(err.contains("--hour"), "{err}");
        assert_eq!(checked(c(DriveTrigger::Schedule, Some(3))).unwrap().schedule_hour, Some(3));
        let manual = checked(c(DriveTrigger::Manual, Some(3))).unwrap();
        assert_eq!((manual.name.as_str(), manual.schedule_hour), ("Blue", None));
        let err = checked(DriveConfig { name: "  ".into(), ..c(DriveTrigger::PlugIn, None) }).unwrap_err().to_string();
        assert!(err.contains("--name is empty"), "{err}");
    }

    #[test]
    fn formatting_a_device_with_data_needs_its_phrase() {
        let mut d = AttachedDevice {
            device: "/dev/sdb1".into(),
            fs_uuid: Some("ABCD-1234".into()),
            fs_type: Some("ntfs".into()),
            fs_label: Some("PHOTOS".into()),
            size: 2048,
            bus: Some("usb".into()),
            model: None,
            enrolled: false,
            system: false,
            has_data: true,
            format_confirmation: Some("erase PHOTOS".into()),
        };
        assert_eq!(format_phrase(&d).unwrap().as_deref(), Some("erase PHOTOS"));
        assert!(confirmed(Some("erase PHOTOS".into()), "erase PHOTOS", "Format?").unwrap());
        assert!(!confirmed(Some("erase photos".into()), "erase PHOTOS", "Format?").unwrap());
        assert!(format_warning(&d)[1].contains("ERASES EVERYTHING"));
        d.format_confirmation = None;
        assert!(format_phrase(&d).is_err(), "data without a phrase is refused, never formatted unasked");
        d.has_data = false;
        assert_eq!(format_phrase(&d).unwrap(), None);
    }

    #[test]
    fn restore_says_what_it_does() {
        let l = restore_warning(DriveRestoreScope::Files, &["library/a.jpg".into()]);
        assert_eq!(l, ["These 1 files or folders are put back where they were:", "  library/a.jpg"]);
        assert!(restore_warning(DriveRestoreScope::Instance, &[])[0].contains("replaces Immich"));
    }

    #[test]
    fn folder_paths_are_escaped_for_the_query() {
        assert_eq!(query_escape("library/2026 Summer/ä"), "library/2026%20Summer/%C3%A4");
    }
}
