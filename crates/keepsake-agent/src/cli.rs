//! `keepsake`, the root console command: a client of the agent's API, like the dashboard.
//!
//! It holds no logic of its own beyond presenting: everything it does goes through the socket, so
//! the console and the dashboard can never disagree about what happened.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use keepsake_api::client::JobQuery;
use keepsake_api::{Client, FacilityState, Job, JobResult, JobState, LogLine, event};

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
        #[arg(long, default_value = "owner")]
        role: String,
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
    Verify,
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

/// Runs the command; the result is the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let client = Client::new(&cli.socket);
    match cli.command {
        Command::Health => {
            let h = client.health().await?;
            print_json_or(cli.json, &h, || println!("agent: {}", h.status))?;
        }
        Command::Status => {
            let s = client.status().await?;
            print_json_or(cli.json, &s, || {
                println!("Keepsake agent {} — up {}", s.version, humanize_secs(s.uptime_seconds));
                for f in &s.facilities {
                    println!(
                        "  {:<8} {:<24} {}{}",
                        state_word(f.state),
                        f.label,
                        f.version.as_deref().map(|v| format!("{v} — ")).unwrap_or_default(),
                        f.detail
                    );
                    if let Some(r) = &f.remedy {
                        println!("  {:<8} {:<24} → {r}", "", "");
                    }
                }
            })?;
        }
        Command::SelfCheck { no_wait } => {
            let job = client.start_self_check().await?;
            if no_wait {
                print_json_or(cli.json, &job, || println!("started self-check as job {}", job.id))?;
                return Ok(0);
            }
            let job = follow(&client, job.id, cli.json).await?;
            return Ok(report_outcome(&job, cli.json));
        }
        Command::Jobs(JobsCommand::List { limit, kind, state }) => {
            let list = client.jobs(&JobQuery { limit: Some(limit), kind, state }).await?;
            print_json_or(cli.json, &list, || {
                if list.jobs.is_empty() {
                    println!("no jobs");
                }
                for j in &list.jobs {
                    println!(
                        "{:>6}  {:<10} {:<20} {}  {}",
                        j.id,
                        j.state.as_str(),
                        j.kind,
                        j.created_at.format("%Y-%m-%d %H:%M:%S"),
                        j.error.as_deref().unwrap_or("")
                    );
                }
            })?;
        }
        Command::Jobs(JobsCommand::Show { id }) => {
            let job = client.job(id).await?;
            let log = client.job_log(id).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"job": job, "log": log.lines}))?);
            } else {
                print_job(&job);
                for l in &log.lines {
                    print_log(l);
                }
            }
        }
        Command::Jobs(JobsCommand::Watch { id }) => {
            let job = follow(&client, id, cli.json).await?;
            return Ok(report_outcome(&job, cli.json));
        }
        Command::User(cmd) => return user_command(&client, cmd, cli.json).await,
        Command::Audit(AuditCommand::Verify) => {
            let v: keepsake_api::AuditVerification =
                client.call_json(http::Method::POST, "/api/v1/audit/verify", Some(&serde_json::json!({}))).await?;
            print_json_or(cli.json, &v, || {
                if v.ok {
                    println!("audit log intact: {} entries verified", v.checked);
                } else {
                    println!(
                        "AUDIT LOG TAMPERED: row {}: {}",
                        v.bad_row.unwrap_or(0),
                        v.problem.as_deref().unwrap_or("chain broken")
                    );
                }
            })?;
            return Ok(if v.ok { 0 } else { 1 });
        }
        Command::Audit(AuditCommand::List { limit }) => {
            let l: keepsake_api::AuditList =
                client.call_json(http::Method::GET, &format!("/api/v1/audit?limit={limit}"), None).await?;
            print_json_or(cli.json, &l, || {
                for e in l.entries.iter().rev() {
                    println!(
                        "{:>6} {} {:<16} {:<28} {:<18} {} {}",
                        e.id,
                        e.at.format("%Y-%m-%d %H:%M:%S"),
                        e.actor,
                        e.action,
                        e.outcome,
                        e.target.as_deref().unwrap_or("-"),
                        e.source
                    );
                }
            })?;
        }
        Command::Jobs(JobsCommand::Cancel { id, yes }) => {
            let job = client.job(id).await?;
            if !yes && !confirm(&format!("Cancel job {} ({}, {})?", job.id, job.kind, job.state.as_str()))? {
                eprintln!("not cancelled");
                return Ok(1);
            }
            let job = client.cancel_job(id).await?;
            print_json_or(cli.json, &job, || {
                println!(
                    "job {id}: {}",
                    if job.state == JobState::Cancelled { "cancelled" } else { "cancel requested" }
                )
            })?;
        }
    }
    Ok(0)
}

async fn user_command(client: &Client, cmd: UserCommand, json: bool) -> anyhow::Result<i32> {
    use keepsake_api::{UserInfo, UserList};
    let find = |users: UserList, name: &str| {
        users
            .users
            .into_iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| anyhow::anyhow!("there is no account named `{name}`"))
    };
    match cmd {
        UserCommand::List => {
            let l: UserList = client.call_json(http::Method::GET, "/api/v1/users", None).await?;
            print_json_or(json, &l, || {
                for u in &l.users {
                    println!(
                        "{:>4} {:<20} {:<9} {}{}",
                        u.id,
                        u.name,
                        u.role,
                        u.display_name,
                        if u.disabled { " (disabled)" } else { "" }
                    );
                }
            })?;
        }
        UserCommand::Create { name, role, display_name } => {
            let (password, made_up) = read_or_make_password()?;
            let body =
                serde_json::json!({"name": name, "display_name": display_name, "password": password, "role": role});
            let u: UserInfo = client.call_json(http::Method::POST, "/api/v1/users", Some(&body)).await?;
            print_json_or(json, &u, || {
                println!("created {} ({})", u.name, u.role);
                if made_up {
                    println!("password: {password}\n(shown once: give it to {} and ask them to change it)", u.name);
                }
            })?;
        }
        UserCommand::ResetPassword { name } => {
            let u = find(client.call_json(http::Method::GET, "/api/v1/users", None).await?, &name)?;
            let (password, made_up) = read_or_make_password()?;
            let _: serde_json::Value = client
                .call_json(
                    http::Method::POST,
                    &format!("/api/v1/users/{}/password", u.id),
                    Some(&serde_json::json!({"password": password})),
                )
                .await?;
            println!("password of {} reset; their sessions ended", u.name);
            if made_up {
                println!("new password: {password}\n(shown once)");
            }
        }
        UserCommand::Reset2fa { name, yes } => {
            let u = find(client.call_json(http::Method::GET, "/api/v1/users", None).await?, &name)?;
            if !yes && !confirm(&format!("Remove every second factor (app, recovery codes, passkeys) of {}?", u.name))?
            {
                eprintln!("nothing changed");
                return Ok(1);
            }
            let _: serde_json::Value = client
                .call_json(
                    http::Method::POST,
                    &format!("/api/v1/users/{}/reset-second-factor", u.id),
                    Some(&serde_json::json!({})),
                )
                .await?;
            println!(
                "second factors of {} removed; they can sign in with their password and set them up again",
                u.name
            );
        }
    }
    Ok(0)
}

/// A password from standard input (when piped), or a strong made-up one.
fn read_or_make_password() -> anyhow::Result<(String, bool)> {
    if !std::io::stdin().is_terminal() {
        let mut s = String::new();
        std::io::stdin().read_line(&mut s)?;
        let s = s.trim_end_matches(['\n', '\r']).to_owned();
        if !s.is_empty() {
            return Ok((s, false));
        }
    }
    const WORDS: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut raw = [0u8; 20];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let s: String = raw.iter().map(|b| WORDS[*b as usize % WORDS.len()] as char).collect();
    Ok((format!("{}-{}-{}-{}", &s[0..5], &s[5..10], &s[10..15], &s[15..20]), true))
}

/// Follows a job's events to its end, drawing a progress bar on a terminal.
async fn follow(client: &Client, id: i64, json: bool) -> anyhow::Result<Job> {
    let mut events = client.events(&format!("/api/v1/jobs/{id}/events")).await?;
    let bar = if json || !std::io::stderr().is_terminal() { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut last = None;
    while let Some(ev) = events.next().await? {
        match ev.event.as_str() {
            event::JOB => {
                let job: Job = ev.json()?;
                if let Some(t) = job.progress.total {
                    bar.set_length(t);
                }
                bar.set_position(job.progress.done);
                bar.set_message(job.progress.phase.clone());
                last = Some(job);
            }
            event::LOG if !json => {
                let line: LogLine = ev.json()?;
                bar.suspend(|| print_log(&line));
            }
            _ => {}
        }
        if last.as_ref().is_some_and(|j| j.state.is_terminal()) {
            break;
        }
    }
    bar.finish_and_clear();
    match last {
        Some(j) if j.state.is_terminal() => Ok(j),
        _ => Ok(client.job(id).await?),
    }
}

fn report_outcome(job: &Job, json: bool) -> i32 {
    if json {
        println!("{}", serde_json::to_string_pretty(job).unwrap_or_default());
    } else {
        match job.state {
            JobState::Succeeded => {
                if let Some(JobResult::SelfCheck(report)) = &job.result {
                    if report.problems == 0 {
                        println!("All {} checks passed.", report.checks.len());
                    } else {
                        println!("{} of {} checks need attention.", report.problems, report.checks.len());
                    }
                } else {
                    println!("job {} succeeded", job.id);
                }
            }
            _ => println!("job {} {}: {}", job.id, job.state.as_str(), job.error.as_deref().unwrap_or("")),
        }
    }
    if job.state == JobState::Succeeded { 0 } else { 1 }
}

fn print_job(j: &Job) {
    println!("job {} — {} — {}", j.id, j.kind, j.state.as_str());
    println!("  asked by {} at {}", j.requested_by, j.created_at);
    if let Some(t) = j.finished_at {
        println!("  finished at {t}");
    }
    println!(
        "  progress: {}{} {} — {}",
        j.progress.done,
        j.progress.total.map(|t| format!("/{t}")).unwrap_or_default(),
        j.progress.unit,
        j.progress.phase
    );
    if let Some(e) = &j.error {
        println!("  error: {e}");
    }
}

fn print_log(l: &LogLine) {
    println!("{} {:<5} {}", l.at.format("%H:%M:%S"), format!("{:?}", l.level).to_lowercase(), l.message);
}

fn state_word(s: FacilityState) -> &'static str {
    match s {
        FacilityState::Ok => "ok",
        FacilityState::Degraded => "ATTENTION",
        FacilityState::Missing => "MISSING",
    }
}

fn humanize_secs(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

fn print_json_or<T: serde::Serialize>(json: bool, v: &T, text: impl FnOnce()) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(v)?);
    } else {
        text();
    }
    Ok(())
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{question} Refusing without confirmation: not a terminal. Pass --yes to confirm.");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn humanizes_uptime() {
        assert_eq!(super::humanize_secs(5), "5s");
        assert_eq!(super::humanize_secs(125), "2m 5s");
        assert_eq!(super::humanize_secs(7300), "2h 1m");
        assert_eq!(super::humanize_secs(90000), "1d 1h");
    }
}
