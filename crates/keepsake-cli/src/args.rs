//! The command line: every command, flag and help text of `keepsake`, and nothing that runs them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use keepsake_api::limits::{RETENTION_COUNT_MAX, RETENTION_WITHIN_DAYS_MAX};
use keepsake_api::{JobState, RestoreScope};

#[derive(Parser, Debug)]
#[command(name = "keepsake", version, about = "Look after your Keepsake box from the root console")]
pub struct Cli {
    /// The agent's socket.
    #[arg(long, global = true, env = "KEEPSAKE_SOCKET", default_value = keepsake_api::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Is the agent alive.
    Health,
    /// Agent version, uptime and host facilities.
    Status,
    /// Check every host facility and say what needs doing.
    SelfCheck {
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// Long operations: list, show, follow, cancel.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Accounts: create, and recover access from the console.
    #[command(subcommand)]
    User(UserCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Restore points: list, make, pin, delete, restore from one; drills and settings.
    #[command(subcommand)]
    RestorePoint(RestorePointCommand),
    /// USB backup drives: list, enroll, back up, verify, eject, history, browse, restore, format;
    /// the backup settings.
    #[command(subcommand)]
    Drive(crate::drive_args::DriveCommand),
    /// The Immich containers: status, install, start, stop, restart.
    #[command(subcommand)]
    Stack(crate::stack::StackCommand),
    /// Empty Immich (library and database) after making a pre-reset point, or undo that.
    ResetImmich {
        /// Bring back what the last reset emptied, from its pre-reset point.
        #[arg(long)]
        undo: bool,
        /// The confirmation phrase (`reset everything`, or `undo reset`), for when standard input is
        /// not a terminal; on a terminal it is asked for.
        #[arg(long, value_name = "PHRASE")]
        confirm: Option<String>,
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RestorePointCommand {
    /// Every point, newest first (Keepsake's own, Sanoid's snapshots, Immich's dumps), the last
    /// drill, and a reset that can still be undone.
    List,
    /// Make a restore point now.
    Create {
        /// A note to find it again by ("before tidying the albums").
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// Pin a point: retention never removes it.
    Pin { id: String },
    /// Unpin a point: retention decides again.
    Unpin { id: String },
    /// Delete one of Keepsake's own points (not a pinned one). Asks for the id to be typed again.
    Delete {
        id: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Restore from a point: shows what would change, then asks for the plan's confirmation phrase.
    /// A pre-restore point is made first, so a restore can be undone.
    Restore {
        id: String,
        /// database, library, files (with --path) or instance (database and library together).
        #[arg(long, value_parser = parse_scope)]
        scope: RestoreScope,
        /// A file or folder inside the library (`upload/…/IMG_1.jpg`), for --scope files; repeat
        /// for more.
        #[arg(long = "path", value_name = "P")]
        paths: Vec<String>,
        /// The plan's confirmation phrase, for when standard input is not a terminal; on a terminal
        /// it is asked for.
        #[arg(long, value_name = "PHRASE")]
        confirm: Option<String>,
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// Run a restore drill now: load the latest dump into a throwaway database and check it.
    Drill {
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// Show when points are made, how long they are kept and how often drills run; with options,
    /// change just those.
    Settings(SettingsChanges),
}

/// What `keepsake restore-point settings` changes; what is not given stays as it is.
#[derive(Args, Debug, Default, PartialEq, Eq)]
pub struct SettingsChanges {
    /// Make a scheduled point every day at this hour (0-23, the box's local time), or `never`.
    #[arg(long, value_name = "HOUR|never", value_parser = parse_hour)]
    pub daily_at: Option<OrNever<u8>>,
    /// Keep the newest N scheduled points.
    #[arg(long, value_name = "N", value_parser = count())]
    pub keep_last: Option<u32>,
    /// Keep the newest scheduled point of each of the last N hours that have one.
    #[arg(long, value_name = "N", value_parser = count())]
    pub keep_hourly: Option<u32>,
    /// Keep the newest scheduled point of each of the last N days that have one.
    #[arg(long, value_name = "N", value_parser = count())]
    pub keep_daily: Option<u32>,
    /// Keep the newest scheduled point of each of the last N weeks that have one.
    #[arg(long, value_name = "N", value_parser = count())]
    pub keep_weekly: Option<u32>,
    /// Keep the newest scheduled point of each of the last N months that have one.
    #[arg(long, value_name = "N", value_parser = count())]
    pub keep_monthly: Option<u32>,
    /// Keep the newest scheduled point of each of the last N years that have one.
    #[arg(long, value_name = "N", value_parser = count())]
    pub keep_yearly: Option<u32>,
    /// Days safety points (made before an update, a restore or a reset) are kept.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=i64::from(RETENTION_WITHIN_DAYS_MAX)))]
    pub safety_days: Option<u32>,
    /// Run a restore drill every this many days (1-90), or `never`.
    #[arg(long, value_name = "DAYS|never", value_parser = parse_drill_days)]
    pub drill_every: Option<OrNever<u16>>,
}

/// A value that may also be `never` (`OrNever(None)`). Not `Option<Option<T>>`, which clap reads
/// as "a flag whose value may be left out".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrNever<T>(pub Option<T>);

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. The password is read from standard input when it is not a terminal;
    /// otherwise a strong one is made up and printed once.
    Create {
        name: String,
        /// owner, admin, operator or viewer.
        #[arg(long, default_value = "owner", value_parser = parse_role)]
        role: keepsake_api::Role,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Set a new password (read from standard input, or made up and printed); ends their sessions.
    ResetPassword { name: String },
    #[command(name = "reset-2fa")]
    /// Remove someone's authenticator app, recovery codes and passkeys, so they can sign in with
    /// their password alone and set them up again.
    Reset2fa {
        name: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// All accounts.
    List,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain; fails and names the first row that was edited or deleted.
    Verify {
        /// A chain head witnessed earlier, outside this machine (from a backup drive or the weekly
        /// summary): also check that today's chain still leads to it, so a log rewritten since
        /// (hashes and all) is caught.
        #[arg(long, value_name = "HASH", value_parser = parse_head)]
        head: Option<String>,
    },
    /// Recent entries.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// Recent jobs, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, value_parser = parse_state)]
        state: Option<JobState>,
    },
    /// One job and its log.
    Show { id: i64 },
    /// Follow a job's progress until it ends.
    Watch { id: i64 },
    /// Cancel a queued or running job.
    Cancel {
        id: i64,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
}

fn parse_state(s: &str) -> Result<JobState, String> {
    JobState::parse(s)
        .ok_or_else(|| format!("`{s}` is not a job state: use queued, running, succeeded, failed or cancelled"))
}

/// The head is checked by the agent, which knows its form; here only what can never be a head
/// (nothing, or spaces from a sloppy copy and paste) is refused before asking.
fn parse_head(s: &str) -> Result<String, String> {
    let head = s.trim();
    if head.is_empty() {
        return Err("the head is empty: give the hash exactly as it was witnessed".to_owned());
    }
    if head.chars().any(char::is_whitespace) {
        return Err(format!("`{head}` contains spaces: give the hash exactly as it was witnessed"));
    }
    Ok(head.to_owned())
}

fn count() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(0..=i64::from(RETENTION_COUNT_MAX))
}

fn parse_or_never<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    s: &str,
    what: &str,
    range: std::ops::RangeInclusive<T>,
) -> Result<OrNever<T>, String> {
    if s.eq_ignore_ascii_case("never") {
        return Ok(OrNever(None));
    }
    match s.parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(OrNever(Some(v))),
        _ => Err(format!("`{s}` is not {what}: use {} to {}, or never", range.start(), range.end())),
    }
}

fn parse_hour(s: &str) -> Result<OrNever<u8>, String> {
    parse_or_never(s, "an hour", 0..=23)
}

fn parse_drill_days(s: &str) -> Result<OrNever<u16>, String> {
    parse_or_never(s, "a number of days", 1..=90)
}

/// A restore scope as the API names it: database, library, files or instance.
fn parse_scope(s: &str) -> Result<RestoreScope, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("`{s}` is not a scope: use database, library, files or instance"))
}

/// A role as the API names it: owner, admin, operator or viewer.
fn parse_role(s: &str) -> Result<keepsake_api::Role, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("`{s}` is not a role: use owner, admin, operator or viewer"))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn audit_verify_takes_an_optional_witnessed_head() {
        let cli = Cli::try_parse_from(["keepsake", "audit", "verify"]).unwrap();
        assert!(matches!(cli.command, Command::Audit(AuditCommand::Verify { head: None })));
        let cli = Cli::try_parse_from(["keepsake", "audit", "verify", "--head", " abc123 "]).unwrap();
        assert!(matches!(cli.command, Command::Audit(AuditCommand::Verify { head: Some(h) }) if h == "abc123"));
        let err = Cli::try_parse_from(["keepsake", "audit", "verify", "--head", ""]).unwrap_err();
        assert!(err.to_string().contains("the head is empty"), "{err}");
        let err = Cli::try_parse_from(["keepsake", "audit", "verify", "--head", "ab cd"]).unwrap_err();
        assert!(err.to_string().contains("contains spaces"), "{err}");
    }

    fn restore_point(args: &[&str]) -> RestorePointCommand {
        let cli = Cli::try_parse_from(["keepsake", "restore-point"].iter().chain(args)).unwrap();
        match cli.command {
            Command::RestorePoint(cmd) => cmd,
            other => panic!("{other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        Cli::try_parse_from(["keepsake"].iter().chain(args)).unwrap_err().to_string()
    }

    #[test]
    fn restore_point_list_create_pin_delete_and_drill() {
        assert!(matches!(restore_point(&["list"]), RestorePointCommand::List));
        let cli = Cli::try_parse_from(["keepsake", "restore-point", "list", "--json"]).unwrap();
        assert!(cli.json);
        assert!(matches!(restore_point(&["create"]), RestorePointCommand::Create { note: None, no_wait: false }));
        assert!(matches!(
            restore_point(&["create", "--note", "before tidying", "--no-wait"]),
            RestorePointCommand::Create { note: Some(n), no_wait: true } if n == "before tidying"
        ));
        assert!(matches!(restore_point(&["pin", "kp-1"]), RestorePointCommand::Pin { id } if id == "kp-1"));
        assert!(matches!(restore_point(&["unpin", "kp-1"]), RestorePointCommand::Unpin { id } if id == "kp-1"));
        assert!(matches!(restore_point(&["delete", "kp-1"]), RestorePointCommand::Delete { yes: false, .. }));
        assert!(matches!(restore_point(&["delete", "kp-1", "-y"]), RestorePointCommand::Delete { yes: true, .. }));
        assert!(matches!(restore_point(&["drill"]), RestorePointCommand::Drill { no_wait: false }));
        assert!(error(&["restore-point", "pin"]).contains("<ID>"));
    }

    #[test]
    fn restore_takes_a_scope_paths_and_a_phrase() {
        let cmd = restore_point(&[
            "restore",
            "kp-1",
            "--scope",
            "files",
            "--path",
            "upload/a.jpg",
            "--path",
            "upload/b",
            "--confirm",
            "restore 2 files",
        ]);
        let RestorePointCommand::Restore { id, scope, paths, confirm, no_wait } = cmd else { panic!("{cmd:?}") };
        assert_eq!((id.as_str(), scope), ("kp-1", RestoreScope::Files));
        assert_eq!(paths, ["upload/a.jpg", "upload/b"]);
        assert_eq!(confirm.as_deref(), Some("restore 2 files"));
        assert!(!no_wait);
        for (word, scope) in [
            ("database", RestoreScope::Database),
            ("library", RestoreScope::Library),
            ("instance", RestoreScope::Instance),
        ] {
            let cmd = restore_point(&["restore", "sanoid:tank@x", "--scope", word]);
            assert!(matches!(cmd, RestorePointCommand::Restore { scope: s, .. } if s == scope), "{word}");
        }
        assert!(error(&["restore-point", "restore", "kp-1"]).contains("--scope"));
        let err = error(&["restore-point", "restore", "kp-1", "--scope", "everything"]);
        assert!(err.contains("use database, library, files or instance"), "{err}");
    }

    #[test]
    fn settings_change_only_what_is_given() {
        let RestorePointCommand::Settings(c) = restore_point(&["settings"]) else { panic!() };
        assert_eq!(c, SettingsChanges::default());
        let RestorePointCommand::Settings(c) = restore_point(&[
            "settings",
            "--daily-at",
            "3",
            "--keep-daily",
            "7",
            "--keep-yearly",
            "0",
            "--drill-every",
            "never",
        ]) else {
            panic!()
        };
        assert_eq!(
            c,
            SettingsChanges {
                daily_at: Some(OrNever(Some(3))),
                keep_daily: Some(7),
                keep_yearly: Some(0),
                drill_every: Some(OrNever(None)),
                ..SettingsChanges::default()
            }
        );
        let RestorePointCommand::Settings(c) = restore_point(&["settings", "--daily-at", "Never"]) else { panic!() };
        assert_eq!(c.daily_at, Some(OrNever(None)));
        assert!(error(&["restore-point", "settings", "--daily-at", "24"]).contains("use 0 to 23, or never"));
        assert!(error(&["restore-point", "settings", "--drill-every", "0"]).contains("use 1 to 90, or never"));
        assert!(error(&["restore-point", "settings", "--keep-daily=-1"]).contains("is not in 0..=10000"));
        assert!(error(&["restore-point", "settings", "--keep-daily", "10001"]).contains("is not in 0..=10000"));
        assert!(error(&["restore-point", "settings", "--safety-days", "0"]).contains("is not in 1..=3650"));
    }

    #[test]
    fn reset_immich_and_its_undo() {
        let cli = Cli::try_parse_from(["keepsake", "reset-immich"]).unwrap();
        assert!(matches!(cli.command, Command::ResetImmich { undo: false, confirm: None, no_wait: false }));
        let cli = Cli::try_parse_from(["keepsake", "reset-immich", "--undo", "--confirm", "undo reset"]).unwrap();
        assert!(matches!(cli.command, Command::ResetImmich { undo: true, confirm: Some(c), .. } if c == "undo reset"));
    }

    #[test]
    fn a_wrong_job_state_says_which_are_right() {
        let err = Cli::try_parse_from(["keepsake", "jobs", "list", "--state", "done"]).unwrap_err();
        assert!(err.to_string().contains("use queued, running, succeeded, failed or cancelled"), "{err}");
    }
}
