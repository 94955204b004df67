//! `keepsake self-check` and `keepsake jobs`: start, list, show, follow (with a progress bar on a
//! terminal) and cancel long operations. Other topics start their jobs and follow them here.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use keepsake_api::client::JobQuery;
use keepsake_api::paths;
use keepsake_api::{Client, Job, JobResult, JobState, LogLine, event};

use crate::args::JobsCommand;
use crate::term::{confirm, print_json_or};
use crate::{drive_view, restore_view};

pub async fn self_check(client: &Client, no_wait: bool, json: bool) -> anyhow::Result<i32> {
    let job = client.start_self_check().await?;
    wait_for(client, job, "self-check", no_wait, json).await
}

/// Follows a job just started (`what` it does) to its end, exit code 1 unless it succeeded; with
/// `no_wait`, says which job it is and returns at once.
pub async fn wait_for(client: &Client, job: Job, what: &str, no_wait: bool, json: bool) -> anyhow::Result<i32> {
    if no_wait {
        print_json_or(json, &job, || {
            println!("started {what} as job {0}; `keepsake jobs watch {0}` follows it", job.id)
        })?;
        return Ok(0);
    }
    let job = follow(client, job.id, json).await?;
    Ok(report_outcome(&job, json))
}

pub async fn run(client: &Client, cmd: JobsCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        JobsCommand::List { limit, kind, state } => {
            let list = client.jobs(&JobQuery { limit: Some(limit), kind, state }).await?;
            print_json_or(json, &list, || {
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
        JobsCommand::Show { id } => {
            let job = client.job(id).await?;
            let log = client.job_log(id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"job": job, "log": log.lines}))?);
            } else {
                print_job(&job);
                for l in &log.lines {
                    print_log(l);
                }
            }
        }
        JobsCommand::Watch { id } => {
            let job = follow(client, id, json).await?;
            return Ok(report_outcome(&job, json));
        }
        JobsCommand::Cancel { id, yes } => {
            let job = client.job(id).await?;
            if !yes && !confirm(&format!("Cancel job {} ({}, {})?", job.id, job.kind, job.state.as_str()))? {
                eprintln!("not cancelled");
                return Ok(1);
            }
            let job = client.cancel_job(id).await?;
            print_json_or(json, &job, || {
                println!(
                    "job {id}: {}",
                    if job.state == JobState::Cancelled { "cancelled" } else { "cancel requested" }
                )
            })?;
        }
    }
    Ok(0)
}

/// Follows a job's events to its end, drawing a progress bar on a terminal.
async fn follow(client: &Client, id: i64, json: bool) -> anyhow::Result<Job> {
    let mut events = client.events(&paths::fill(paths::JOB_EVENTS, &[("id", &id)])).await?;
    let bar = if json || !std::io::stderr().is_terminal() { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(bar_style(""));
    let mut unit = String::new();
    let mut last = None;
    while let Some(ev) = events.next().await? {
        match ev.event.as_str() {
            event::JOB => {
                let job: Job = ev.json()?;
                if job.progress.unit != unit {
                    // A new phase may count something else (files, then bytes).
                    unit.clone_from(&job.progress.unit);
                    bar.set_style(bar_style(&unit));
                    bar.reset_eta();
                }
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

/// Counts for people: bytes with their speed and the time left, anything else as numbers.
fn bar_style(unit: &str) -> ProgressStyle {
    let template = if unit == "bytes" {
        "{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left {msg}"
    } else {
        "{spinner} [{bar:30}] {pos}/{len} {msg}"
    };
    ProgressStyle::with_template(template).expect("valid template").progress_chars("=> ")
}

fn report_outcome(job: &Job, json: bool) -> i32 {
    if json {
        println!("{}", serde_json::to_string_pretty(job).unwrap_or_default());
    } else {
        match (job.state, &job.result) {
            (JobState::Succeeded, Some(JobResult::SelfCheck(report))) => {
                if report.problems == 0 {
                    println!("All {} checks passed.", report.checks.len());
                } else {
                    println!("{} of {} checks need attention.", report.problems, report.checks.len());
                }
            }
            (JobState::Succeeded, result) => {
                let lines = result
                    .as_ref()
                    .map(|r| {
                        [restore_view::result_lines(r), drive_view::result_lines(r), crate::stack::result_lines(r)]
                            .concat()
                    })
                    .unwrap_or_default();
                if lines.is_empty() {
                    println!("job {} succeeded", job.id);
                }
                for l in lines {
                    println!("{l}");
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
