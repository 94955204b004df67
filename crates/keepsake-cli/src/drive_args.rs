//! The command line of `keepsake drive`: backup drives, their enrolment and formatting, runs,
//! checks, ejecting, history, browsing and restoring, and the settings every drive shares. Only
//! flags and help texts; `drives.rs` runs them.

use clap::{ArgGroup, Args, Subcommand};
use keepsake_api::limits::{KEEP_DELETED_DAYS_MAX, PASSPHRASE_MIN_CHARS};
use keepsake_api::{DriveTrigger, VerifyDepth};

use crate::args::OrNever;

#[derive(Subcommand, Debug)]
pub enum DriveCommand {
    /// Enrolled drives (plugged in or not, trigger, last backup and its age, free space) and the
    /// drives plugged in now.
    List,
    /// Use a plugged-in exFAT drive for backups, by its filesystem UUID (as `list` shows it).
    Enroll {
        uuid: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Change an enrolled drive's name, trigger or what it holds; what is not given stays.
    Edit {
        uuid: String,
        /// The name people know it by.
        #[arg(long)]
        name: Option<String>,
        /// plug-in, schedule (with --hour) or manual.
        #[arg(long, value_parser = parse_trigger)]
        trigger: Option<DriveTrigger>,
        /// For --trigger schedule: the hour of the daily backup (0-23, the box's local time).
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=23))]
        hour: Option<u8>,
        /// Also copy Immich's thumbnails: yes or no.
        #[arg(long, value_name = "yes|no", value_parser = parse_yes_no)]
        thumbs: Option<bool>,
        /// Also copy converted videos (and the videos of motion photos): yes or no.
        #[arg(long, value_name = "yes|no", value_parser = parse_yes_no)]
        encoded_video: Option<bool>,
    },
    /// Stop backing up to a drive. The backup on it stays, and can still be restored from.
    Forget {
        uuid: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Back up to a plugged-in drive now.
    Backup {
        uuid: String,
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// Read a drive's backup back and check it against its manifest (a sample, or every file).
    Verify {
        uuid: String,
        /// Every file, not the settings' sample.
        #[arg(long)]
        full: bool,
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// Unmount a drive, so it can be pulled out safely.
    Eject { uuid: String },
    /// A drive's backup runs, newest first.
    History { uuid: String },
    /// A folder of the backup on a plugged-in drive, by the original names (the top without PATH).
    Files { uuid: String, path: Option<String> },
    /// Restore chosen files or folders (put back where they were), or the whole instance (the
    /// database and every library file) from a drive; also one written by another appliance.
    #[command(group(ArgGroup::new("what").required(true).args(["files", "instance"])))]
    Restore {
        uuid: String,
        /// Files or folders as `keepsake drive files` shows them (`library/…`).
        #[arg(long, value_name = "PATH", num_args = 1..)]
        files: Vec<String>,
        /// Everything: Immich's database from the drive's dump and every library file.
        #[arg(long)]
        instance: bool,
        /// `restore`, for when standard input is not a terminal; on a terminal it is asked for.
        #[arg(long, value_name = "PHRASE")]
        confirm: Option<String>,
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// Make a new exFAT filesystem on a device (as `list` shows it: /dev/sdb1). A device that holds
    /// data needs its confirmation phrase (`erase <label>`) typed or passed with --confirm.
    Format {
        device: String,
        /// The new filesystem's label (up to 11 letters, digits, spaces, `-` or `_`).
        #[arg(long)]
        label: String,
        /// The confirmation phrase, for when standard input is not a terminal.
        #[arg(long, value_name = "PHRASE")]
        confirm: Option<String>,
        /// Enroll the new filesystem at once under this name (with --trigger and --hour).
        #[arg(long, value_name = "NAME")]
        enroll_as: Option<String>,
        /// With --enroll-as: plug-in (the default), schedule (with --hour) or manual.
        #[arg(long, value_parser = parse_trigger, requires = "enroll_as")]
        trigger: Option<DriveTrigger>,
        /// With --enroll-as and --trigger schedule: the hour of the daily backup.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=23), requires = "enroll_as")]
        hour: Option<u8>,
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show what every drive's backup keeps and how it is checked; with options, change just those.
    Settings(BackupSettingsChanges),
}

/// A drive's settings when enrolling it.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ConfigArgs {
    /// The name people know it by ("Blue drive in the drawer").
    #[arg(long)]
    pub name: String,
    /// plug-in (back up when plugged in), schedule (daily at --hour, for a drive kept plugged in)
    /// or manual.
    #[arg(long, value_parser = parse_trigger)]
    pub trigger: DriveTrigger,
    /// For --trigger schedule: the hour of the daily backup (0-23, the box's local time).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=23))]
    pub hour: Option<u8>,
    /// Also copy Immich's thumbnails (they can be rebuilt, but that takes hours).
    #[arg(long)]
    pub thumbs: bool,
    /// Also copy converted videos (they include the videos of motion photos).
    #[arg(long)]
    pub encoded_video: bool,
}

/// What `keepsake drive settings` changes; what is not given stays as it is.
#[derive(Args, Debug, Default, PartialEq, Eq)]
pub struct BackupSettingsChanges {
    /// Days files deleted in Immich stay set aside on the drives.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=i64::from(KEEP_DELETED_DAYS_MAX)))]
    pub keep_deleted_days: Option<u32>,
    /// Read back what each backup wrote: yes or no.
    #[arg(long, value_name = "yes|no", value_parser = parse_yes_no)]
    pub verify_after_backup: Option<bool>,
    /// Check each plugged-in drive every this many days (1-365), or `never`.
    #[arg(long, value_name = "DAYS|never", value_parser = parse_verify_days)]
    pub verify_every: Option<OrNever<u16>>,
    /// sample or full.
    #[arg(long, value_parser = parse_depth)]
    pub verify_depth: Option<VerifyDepth>,
    /// For a sampled check: percent of the files (1-100).
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub sample_percent: Option<u8>,
    /// Read a new passphrase for the configuration copy on the drives from standard input (or ask
    /// for it on a terminal). It is never shown again.
    #[arg(long)]
    pub set_passphrase: bool,
    /// Also (or instead) encrypt the configuration copy to this age public key (`age1…`), or `none`.
    #[arg(long, value_name = "KEY|none", value_parser = parse_recipient)]
    pub recipient: Option<OrNever<String>>,
}

/// The passphrase's minimum, for the prompt.
pub const PASSPHRASE_MIN: usize = PASSPHRASE_MIN_CHARS;

fn parse_trigger(s: &str) -> Result<DriveTrigger, String> {
    match s {
        "plug-in" | "plug_in" | "plugin" => Ok(DriveTrigger::PlugIn),
        "schedule" | "scheduled" | "daily" => Ok(DriveTrigger::Schedule),
        "manual" => Ok(DriveTrigger::Manual),
        _ => Err(format!("`{s}` is not a trigger: use plug-in, schedule or manual")),
    }
}

fn parse_depth(s: &str) -> Result<VerifyDepth, String> {
    match s {
        "sample" => Ok(VerifyDepth::Sample),
        "full" => Ok(VerifyDepth::Full),
        _ => Err(format!("`{s}` is not a depth: use sample or full")),
    }
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "on" => Ok(true),
        "no" | "n" | "false" | "off" => Ok(false),
        _ => Err(format!("`{s}` is not yes or no")),
    }
}

fn parse_verify_days(s: &str) -> Result<OrNever<u16>, String> {
    if s.eq_ignore_ascii_case("never") {
        return Ok(OrNever(None));
    }
    match s.parse::<u16>() {
        Ok(v) if (1..=365).contains(&v) => Ok(OrNever(Some(v))),
        _ => Err(format!("`{s}` is not a number of days: use 1 to 365, or never")),
    }
}

fn parse_recipient(s: &str) -> Result<OrNever<String>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("none") {
        return Ok(OrNever(None));
    }
    if s.starts_with("age1") && s.len() > 50 && !s.chars().any(char::is_whitespace) {
        Ok(OrNever(Some(s.to_owned())))
    } else {
        Err(format!("`{s}` is not an age public key: it starts with age1 and is about 60 characters long"))
    }
}

/// The trigger as `--trigger` names it.
pub fn trigger_word(t: DriveTrigger) -> &'static str {
    match t {
        DriveTrigger::PlugIn => "plug-in",
        DriveTrigger::Schedule => "schedule",
        DriveTrigger::Manual => "manual",
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn drive(args: &[&str]) -> DriveCommand {
        let cli = Cli::try_parse_from(["keepsake", "drive"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Drive(cmd) => cmd,
            other => panic!("{other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        Cli::try_parse_from(["keepsake", "drive"].iter().chain(args)).unwrap_err().to_string()
    }

    #[test]
    fn list_backup_verify_eject_history_files() {
        assert!(matches!(drive(&["list"]), DriveCommand::List));
        assert!(
            matches!(drive(&["backup", "ABCD-1234"]), DriveCommand::Backup { uuid, no_wait: false } if uuid == "ABCD-1234")
        );
        assert!(matches!(drive(&["backup", "ABCD-1234", "--no-wait"]), DriveCommand::Backup { no_wait: true, .. }));
        assert!(matches!(drive(&["verify", "ABCD-1234"]), DriveCommand::Verify { full: false, .. }));
        assert!(matches!(drive(&["verify", "ABCD-1234", "--full"]), DriveCommand::Verify { full: true, .. }));
        assert!(matches!(drive(&["eject", "ABCD-1234"]), DriveCommand::Eject { uuid } if uuid == "ABCD-1234"));
        assert!(matches!(drive(&["history", "ABCD-1234"]), DriveCommand::History { .. }));
        assert!(matches!(drive(&["files", "ABCD-1234"]), DriveCommand::Files { path: None, .. }));
        assert!(
            matches!(drive(&["files", "ABCD-1234", "library/2026"]), DriveCommand::Files { path: Some(p), .. } if p == "library/2026")
        );
        assert!(matches!(drive(&["forget", "ABCD-1234", "-y"]), DriveCommand::Forget { yes: true, .. }));
        assert!(error(&["backup"]).contains("<UUID>"));
    }

    #[test]
    fn enroll_takes_a_name_a_trigger_and_an_hour() {
        let DriveCommand::Enroll { uuid, config } =
            drive(&["enroll", "ABCD-1234", "--name", "Blue drive", "--trigger", "schedule", "--hour", "3", "--thumbs"])
        else {
            panic!()
        };
        assert_eq!(uuid, "ABCD-1234");
        assert_eq!(
            config,
            ConfigArgs {
                name: "Blue drive".into(),
                trigger: DriveTrigger::Schedule,
                hour: Some(3),
                thumbs: true,
                encoded_video: false
            }
        );
        let DriveCommand::Enroll { config, .. } = drive(&["enroll", "X-1234", "--name", "n", "--trigger", "plug-in"])
        else {
            panic!()
        };
        assert_eq!((config.trigger, config.hour), (DriveTrigger::PlugIn, None));
        assert!(error(&["enroll", "X-1234", "--name", "n"]).contains("--trigger"));
        assert!(
            error(&["enroll", "X-1234", "--name", "n", "--trigger", "hourly"])
                .contains("use plug-in, schedule or manual")
        );
        assert!(error(&["enroll", "X-1234", "--name", "n", "--trigger", "schedule", "--hour", "24"]).contains("24"));
    }

    #[test]
    fn restore_wants_files_or_the_instance_not_both() {
        let DriveCommand::Restore { files, instance, confirm, .. } =
            drive(&["restore", "ABCD-1234", "--files", "library/a.jpg", "library/b", "--confirm", "restore"])
        else {
            panic!()
        };
        assert_eq!(files, ["library/a.jpg", "library/b"]);
        assert!(!instance);
        assert_eq!(confirm.as_deref(), Some("restore"));
        assert!(matches!(drive(&["restore", "ABCD-1234", "--instance"]), DriveCommand::Restore { instance: true, .. }));
        assert!(error(&["restore", "ABCD-1234"]).contains("--files"));
        assert!(error(&["restore", "ABCD-1234", "--instance", "--files", "a"]).contains("cannot be used with"));
    }

    #[test]
    fn format_takes_a_label_a_phrase_and_an_optional_enrolment() {
        let DriveCommand::Format { device, label, confirm, enroll_as, trigger, hour, no_wait } =
            drive(&["format", "/dev/sdb1", "--label", "KEEPSAKE", "--confirm", "erase PHOTOS"])
        else {
            panic!()
        };
        assert_eq!(
            (device.as_str(), label.as_str(), confirm.as_deref()),
            ("/dev/sdb1", "KEEPSAKE", Some("erase PHOTOS"))
        );
        assert_eq!((enroll_as, trigger, hour, no_wait), (None, None, None, false));
        assert!(matches!(
            drive(&["format", "/dev/sdb1", "--label", "K", "--enroll-as", "Blue", "--trigger", "manual"]),
            DriveCommand::Format { enroll_as: Some(n), trigger: Some(DriveTrigger::Manual), .. } if n == "Blue"
        ));
        assert!(error(&["format", "/dev/sdb1"]).contains("--label"));
        assert!(error(&["format", "/dev/sdb1", "--label", "K", "--trigger", "manual"]).contains("--enroll-as"));
    }

    #[test]
    fn settings_change_only_what_is_given() {
        let DriveCommand::Settings(c) = drive(&["settings"]) else { panic!() };
        assert_eq!(c, BackupSettingsChanges::default());
        let key = format!("age1{}", "q".repeat(58));
        let DriveCommand::Settings(c) = drive(&[
            "settings",
            "--keep-deleted-days",
            "60",
            "--verify-after-backup",
            "no",
            "--verify-every",
            "never",
            "--verify-depth",
            "full",
            "--sample-percent",
            "10",
            "--set-passphrase",
            "--recipient",
            &key,
        ]) else {
            panic!()
        };
        assert_eq!(
            c,
            BackupSettingsChanges {
                keep_deleted_days: Some(60),
                verify_after_backup: Some(false),
                verify_every: Some(OrNever(None)),
                verify_depth: Some(VerifyDepth::Full),
                sample_percent: Some(10),
                set_passphrase: true,
                recipient: Some(OrNever(Some(key))),
            }
        );
        let DriveCommand::Settings(c) = drive(&["settings", "--recipient", "none", "--verify-every", "7"]) else {
            panic!()
        };
        assert_eq!((c.recipient, c.verify_every), (Some(OrNever(None)), Some(OrNever(Some(7)))));
        assert!(error(&["settings", "--keep-deleted-days", "0"]).contains("is not in 1..=3650"));
        assert!(error(&["settings", "--verify-every", "366"]).contains("use 1 to 365, or never"));
        assert!(error(&["settings", "--recipient", "ssh-ed25519 AAAA"]).contains("not an age public key"));
        assert!(error(&["settings", "--verify-depth", "deep"]).contains("use sample or full"));
    }
}
