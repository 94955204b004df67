//! `keepsake stack`: how each Immich service is doing, installing or converging the stack, and
//! updating Immich (asks first), starting, stopping or restarting one service (a stop asks first:
//! Immich is down meanwhile).

use http::Method;
use keepsake_api::paths::{self, fill};
use keepsake_api::{
    Client, ContainerHealth, ContainerState, Done, Job, JobResult, StackAction, StackActionRequest,
    StackInstallRequest, StackRollbackRequest, StackService, StackStatus, StackUpdateRequest, StackVersions,
};

use crate::jobs::wait_for;
use crate::term::{confirm, print_json_or};

#[derive(clap::Subcommand, Debug)]
pub enum StackCommand {
    /// Every service: state, health, uptime, restarts, version, CPU and memory.
    Status,
    /// Install the stack, or make it as Keepsake wants it again after hand edits.
    Install {
        /// The Immich version of a first install (`v3.2.2`).
        #[arg(long)]
        version: Option<String>,
        /// Run machine learning (`true` or `false`).
        #[arg(long)]
        machine_learning: Option<bool>,
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// Update Immich (server and machine learning) to a version, with a restore point first and an
    /// automatic rollback if the new version does not come up healthy.
    Update {
        /// The version to update to (`v3.2.2`).
        version: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// The versions this box ran, and whether it can go back to each.
    Versions,
    /// Go back to an earlier version with the database of its restore point (what was added since
    /// is undone; a restore point of now is made first).
    Rollback {
        version: String,
        /// The confirmation phrase (`roll back`), for when standard input is not a terminal; on a
        /// terminal it is asked for.
        #[arg(long, value_name = "PHRASE")]
        confirm: Option<String>,
        /// Start it and return at once, without following its progress.
        #[arg(long)]
        no_wait: bool,
    },
    /// Start a service (database, redis, machine_learning, server), or without one the whole stack.
    Start { service: Option<ServiceArg> },
    /// Stop a service, or without one the whole stack; it stays stopped until started again.
    Stop {
        service: Option<ServiceArg>,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Restart a service, or without one the whole stack.
    Restart { service: Option<ServiceArg> },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "snake_case")]
pub enum ServiceArg {
    Database,
    Redis,
    MachineLearning,
    Server,
}

impl From<ServiceArg> for StackService {
    fn from(s: ServiceArg) -> StackService {
        match s {
            ServiceArg::Database => StackService::Database,
            ServiceArg::Redis => StackService::Redis,
            ServiceArg::MachineLearning => StackService::MachineLearning,
            ServiceArg::Server => StackService::Server,
        }
    }
}

pub async fn run(client: &Client, cmd: StackCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        StackCommand::Status => {
            let s: StackStatus = client.call_json(Method::GET, paths::STACK, None).await?;
            print_json_or(json, &s, || {
                for l in status_lines(&s) {
                    println!("{l}");
                }
            })?;
            Ok(if s.healthy { 0 } else { 1 })
        }
        StackCommand::Install { version, machine_learning, no_wait } => {
            let body = StackInstallRequest { version, machine_learning };
            let job: Job =
                client.call_json(Method::POST, paths::STACK_INSTALL, Some(&serde_json::to_value(&body)?)).await?;
            wait_for(client, job, "the install", no_wait, json).await
        }
        StackCommand::Update { version, yes, no_wait } => {
            let q = format!(
                "Update Immich to {version}? Immich is unavailable for a few minutes; a restore point is made first, and a failed update goes back by itself."
            );
            if !yes && !confirm(&q)? {
                eprintln!("not updated");
                return Ok(1);
            }
            let body = serde_json::to_value(StackUpdateRequest { version })?;
            let job: Job = client.call_json(Method::POST, paths::STACK_UPDATE, Some(&body)).await?;
            wait_for(client, job, "the update", no_wait, json).await
        }
        StackCommand::Versions => {
            let v: StackVersions = client.call_json(Method::GET, paths::STACK_VERSIONS, None).await?;
            print_json_or(json, &v, || {
                for x in &v.versions {
                    let what = match (&x.not_possible, &x.restore_point) {
                        (None, Some(p)) => format!("can go back to it (database of {p})"),
                        (Some(why), _) => why.clone(),
                        (None, None) => String::new(),
                    };
                    println!("  {:<10} {what}", x.version);
                }
            })?;
            Ok(0)
        }
        StackCommand::Rollback { version, confirm, no_wait } => {
            let confirm = match confirm {
                Some(c) => c,
                None => {
                    let q = format!(
                        "Going back to {version} loads the database of its restore point: what changed in Immich since then is undone (a restore point of now is made first)."
                    );
                    if !crate::term::ask_phrase(&q, "roll back", "--confirm 'roll back'")? {
                        eprintln!("not rolled back");
                        return Ok(1);
                    }
                    "roll back".to_owned()
                }
            };
            let body = serde_json::to_value(StackRollbackRequest { version, confirm })?;
            let job: Job = client.call_json(Method::POST, paths::STACK_ROLLBACK, Some(&body)).await?;
            wait_for(client, job, "the rollback", no_wait, json).await
        }
        StackCommand::Start { service } => act(client, service.map(Into::into), StackAction::Start, json).await,
        StackCommand::Restart { service } => act(client, service.map(Into::into), StackAction::Restart, json).await,
        StackCommand::Stop { service, yes } => {
            let s: Option<StackService> = service.map(Into::into);
            let q = match s {
                Some(s) => format!("Stop the {}? Immich will not work fully until it is started again.", s.label()),
                None => "Stop Immich (every service)? Nobody can use it until it is started again.".to_owned(),
            };
            if !yes && !confirm(&q)? {
                eprintln!("not stopped");
                return Ok(1);
            }
            act(client, s, StackAction::Stop, json).await
        }
    }
}

async fn act(client: &Client, service: Option<StackService>, action: StackAction, json: bool) -> anyhow::Result<i32> {
    let body = serde_json::to_value(StackActionRequest { action })?;
    let Some(service) = service else {
        let job: Job = client.call_json(Method::POST, paths::STACK_ACTION, Some(&body)).await?;
        return wait_for(client, job, &format!("the whole stack's {}", action.as_str()), false, json).await;
    };
    let path = fill(paths::STACK_SERVICE_ACTION, &[("service", &service.as_str())]);
    let done: Done = client.call_json(Method::POST, &path, Some(&body)).await?;
    print_json_or(json, &done, || println!("{}", done.message))?;
    Ok(0)
}

/// One line for the stack, then one per service.
pub fn status_lines(s: &StackStatus) -> Vec<String> {
    let mut out = vec![match (&s.engine_error, s.installed, s.healthy) {
        (Some(e), _, _) => format!("the Docker engine does not answer: {e}"),
        (None, false, _) => "the stack is not installed yet: `keepsake stack install`".to_owned(),
        (None, true, true) => {
            format!("Immich {} is running; every service is healthy", s.version.as_deref().unwrap_or("?"))
        }
        (None, true, false) => format!("Immich {}: not every service is healthy", s.version.as_deref().unwrap_or("?")),
    }];
    for v in &s.services {
        let state = match (v.state, v.health) {
            (ContainerState::Running, Some(ContainerHealth::Healthy)) => "running, healthy".to_owned(),
            (ContainerState::Running, Some(ContainerHealth::Starting)) => "running, starting".to_owned(),
            (ContainerState::Running, Some(ContainerHealth::Unhealthy)) => "running, UNHEALTHY".to_owned(),
            (ContainerState::Running, None) => "running".to_owned(),
            (ContainerState::Exited, _) => format!(
                "stopped (exit code {}{})",
                v.exit_code.map_or("?".into(), |c| c.to_string()),
                if v.oom_killed { ", out of memory" } else { "" }
            ),
            (other, _) => format!("{other:?}").to_lowercase(),
        };
        let mut extra = Vec::new();
        if let Some(u) = v.uptime_secs {
            extra.push(format!("up {}", human_secs(u)));
        }
        if v.restart_count > 0 {
            extra.push(format!("{} restarts", v.restart_count));
        }
        if let Some(c) = v.cpu_percent {
            extra.push(format!("CPU {c:.1}%"));
        }
        if let Some(m) = v.memory_bytes {
            extra.push(format!("memory {}", keepsake_api::human_bytes(m)));
        }
        if let Some(ver) = &v.version {
            extra.push(ver.clone());
        }
        let extra = if extra.is_empty() { String::new() } else { format!(" ({})", extra.join(", ")) };
        out.push(format!("  {:<18} {state}{extra}", v.service.label()));
        if let Some(d) = &v.drift {
            out.push(format!("  {:<18} differs from Keepsake's settings: {d}; `keepsake stack install` fixes it", ""));
        }
    }
    out
}

/// What a finished stack job produced; empty for other kinds.
pub fn result_lines(r: &JobResult) -> Vec<String> {
    if let JobResult::StackUpdated(u) = r {
        return vec![
            format!("Immich is updated from {} to {} and healthy after {} s", u.from, u.to, u.healthy_after_secs),
            format!("restore point {} holds Immich as it was before the update", u.restore_point),
        ];
    }
    if let JobResult::StackActed(a) = r {
        let names: Vec<&str> = a.services.iter().map(|s| s.label()).collect();
        return vec![format!("{}: {}", a.action.as_str(), names.join(", "))];
    }
    if let JobResult::StackRolledBack(b) = r {
        return vec![
            format!("Immich is back on {} with the database of {}", b.to, b.restored_from),
            format!(
                "restore point {} holds Immich as it was on {}: restore it to undo this",
                b.pre_rollback_point, b.from
            ),
        ];
    }
    let JobResult::StackInstalled(r) = r else { return Vec::new() };
    let names = |v: &[StackService]| v.iter().map(|s| s.label()).collect::<Vec<_>>().join(", ");
    let mut lines =
        vec![format!("Immich {} is installed; every service was healthy after {} s", r.version, r.healthy_after_secs)];
    if !r.pulled.is_empty() {
        lines.push(format!("pulled: {}", r.pulled.join(", ")));
    }
    for (what, v) in
        [("created", &r.created), ("made again (it had been changed)", &r.recreated), ("started", &r.started)]
    {
        if !v.is_empty() {
            lines.push(format!("{what}: {}", names(v)));
        }
    }
    if r.pulled.is_empty() && r.created.is_empty() && r.recreated.is_empty() && r.started.is_empty() {
        lines.push("nothing needed changing".to_owned());
    }
    lines
}

fn human_secs(s: u64) -> String {
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}
