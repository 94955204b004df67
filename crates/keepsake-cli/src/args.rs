//! The command line: every command, flag and help text of `keepsake`, and nothing that runs them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use keepsake_api::JobState;

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
}

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

    #[test]
    fn a_wrong_job_state_says_which_are_right() {
        let err = Cli::try_parse_from(["keepsake", "jobs", "list", "--state", "done"]).unwrap_err();
        assert!(err.to_string().contains("use queued, running, succeeded, failed or cancelled"), "{err}");
    }
}
