//! From events to observations: which rule's condition holds (or no longer holds) for which
//! subject. Also keeps the facts and samples later evaluations and the weekly summary read (a
//! drive's last good backup, the latest pool health, failed sign-ins over time), in the same
//! transaction as the event's other consequences.
//!
//! Two entry points: [`on_event`] for each event from the outbox, and [`on_tick`] for rules that
//! change with time alone (a drive's backup growing old, a quiet period ending a restart loop).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::rules::{self, RuleConfig};
use crate::events::Event;
use crate::host::human_bytes;
use crate::store::{Result, StoreError, Tx};

/// A rule's condition for one subject, as just seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub rule: &'static str,
    pub subject: String,
    pub firing: bool,
    /// One line: what happened (for a firing observation).
    pub title: String,
    /// What happened, in a sentence or two.
    pub detail: String,
    pub facts: Vec<(String, String)>,
}

impl Observation {
    fn firing(rule: &'static str, subject: &str, title: String, detail: String, facts: Vec<(String, String)>) -> Self {
        Observation { rule, subject: subject.to_owned(), firing: true, title, detail, facts }
    }

    fn resolved(rule: &'static str, subject: &str) -> Self {
        Observation {
            rule,
            subject: subject.to_owned(),
            firing: false,
            title: String::new(),
            detail: String::new(),
            facts: Vec::new(),
        }
    }

    fn either(firing: bool, rule: &'static str, subject: &str, title: String, detail: String) -> Self {
        if firing { Self::firing(rule, subject, title, detail, Vec::new()) } else { Self::resolved(rule, subject) }
    }

    fn with_facts(mut self, facts: Vec<(String, String)>) -> Self {
        self.facts = facts;
        self
    }
}

/// Failed sign-ins are counted over this window.
pub const LOGIN_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// A restart loop or an account backoff resolves after this long without a new one.
pub const QUIET_PERIOD: TimeDelta = TimeDelta::minutes(60);
/// A low-space alert resolves only this many points above its threshold, so it does not flap.
const SPACE_HYSTERESIS: u64 = 2;

/// What the alerts module remembers about an enrolled drive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveFact {
    pub label: String,
    pub enrolled_at: DateTime<Utc>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_failure: Option<DateTime<Utc>>,
}

/// A certificate's validity, as last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertFact {
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

pub const FACT_DRIVE: &str = "drive";
pub const FACT_POOL: &str = "pool";
pub const FACT_DATASET: &str = "dataset";
pub const FACT_UPDATE: &str = "update";
pub const FACT_CERT: &str = "certificate";
/// The newest restore point, for the weekly summary (read by `summary.rs` as words).
pub const FACT_RESTORE_POINTS: &str = "restore_points";
pub const SAMPLE_LOGIN_FAILED: &str = "login_failed";
pub const SAMPLE_BACKUP: &str = "backup";

fn cfg<'a>(configs: &'a [RuleConfig], id: &str) -> &'a RuleConfig {
    configs.iter().find(|c| c.rule.id == id).expect("every rule has a configuration")
}

fn fact_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

fn read_fact<T: for<'de> Deserialize<'de>>(raw: &str) -> Result<T> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("bad alert fact: {e}")))
}

fn drive_fact(tx: &Tx<'_>, drive: &str) -> Result<Option<DriveFact>> {
    tx.facts(FACT_DRIVE)?.into_iter().find(|(s, _, _)| s == drive).map(|(_, v, _)| read_fact(&v)).transpose()
}

fn is_firing(tx: &Tx<'_>, rule: &str, subject: &str) -> Result<bool> {
    Ok(tx.alert(rule, subject)?.is_some_and(|a| a.state == keepsake_api::AlertState::Firing))
}

/// The observations one event causes, recording facts and samples on the way.
pub fn on_event(tx: &Tx<'_>, configs: &[RuleConfig], event: &Event, now: DateTime<Utc>) -> Result<Vec<Observation>> {
    use rules::{
        ACCOUNT_BACKOFF, BACKUP_FAILED, BACKUP_OVERDUE, BACKUP_VERIFY_FAILED, CONTAINER_CRASHED,
        CONTAINER_RESTART_LOOP, CONTAINER_UNHEALTHY, DEVICE_ERRORS, DRILL_FAILED, DRIVE_SAFE_TO_REMOVE, LOGIN_SPIKE,
        POOL_UNHEALTHY, REBUILD_FAILED, SPACE_LOW, UPDATE_AVAILABLE,
    };
    let obs = match event {
        Event::JobFinished { .. } | Event::FacilityChanged { .. } => vec![],
        Event::LoginFailed { name, source } => {
            tx.add_sample(SAMPLE_LOGIN_FAILED, name, false)?;
            let n = tx.samples_since(SAMPLE_LOGIN_FAILED, now - LOGIN_WINDOW)?.len() as u32;
            let limit = cfg(configs, LOGIN_SPIKE).threshold();
            if n >= limit {
                vec![Observation::firing(
                    LOGIN_SPIKE,
                    "dashboard",
                    format!("{n} failed sign-ins in 15 minutes"),
                    format!(
                        "{n} sign-ins to the dashboard failed within 15 minutes; the latest was for {name} from {source}."
                    ),
                    vec![("Failed sign-ins".into(), n.to_string()), ("Latest from".into(), source.clone())],
                )]
            } else {
                vec![]
            }
        }
        Event::Security { action, actor, target, .. } if action == "security.login_backoff" => {
            // The target lists the backoff keys (`account:anna,address:192.0.2.7`).
            let target = target.clone().unwrap_or_default();
            let key = |prefix: &str| target.split(',').find_map(|k| k.strip_prefix(prefix)).map(str::to_owned);
            let account = key("account:").unwrap_or_else(|| actor.clone());
            let from = key("address:").unwrap_or_else(|| "an unknown address".into());
            // Only for accounts that exist: guesses at made-up names are the spike rule's business,
            // and an alert per made-up name would let anyone flood the owner's mailbox.
            if tx.user_by_name(&account)?.is_none() {
                vec![]
            } else {
                vec![Observation::firing(
                    ACCOUNT_BACKOFF,
                    &account,
                    format!("Sign-ins to {account} are being slowed down"),
                    format!("Too many wrong passwords were typed for {account}; the latest came from {from}."),
                    vec![("Account".into(), account.clone()), ("From".into(), from.clone())],
                )]
            }
        }
        Event::Security { .. } => vec![],
        Event::PoolHealth { pool, state, read_errors, write_errors, checksum_errors, data_errors, detail } => {
            tx.set_fact(FACT_POOL, pool, &fact_json(&event))?;
            let facts = vec![
                ("Pool".into(), pool.clone()),
                ("State".into(), state.clone()),
                ("Read errors".into(), read_errors.to_string()),
                ("Write errors".into(), write_errors.to_string()),
                ("Checksum errors".into(), checksum_errors.to_string()),
            ];
            let errors = read_errors + write_errors + checksum_errors;
            vec![
                Observation::either(
                    state != "ONLINE",
                    POOL_UNHEALTHY,
                    pool,
                    format!("Pool {pool} is {state}"),
                    format!("The storage pool {pool} is {state}. {detail}").trim().to_owned(),
                )
                .with_facts(facts.clone()),
                Observation::either(
                    errors > 0 || *data_errors,
                    DEVICE_ERRORS,
                    pool,
                    if *checksum_errors > 0 {
                        format!("Pool {pool} has {checksum_errors} checksum errors")
                    } else {
                        format!("Pool {pool} has {errors} disk errors")
                    },
                    format!(
                        "ZFS counted {read_errors} read, {write_errors} write and {checksum_errors} checksum errors on {pool}{}.",
                        if *data_errors { ", and some data could not be repaired" } else { "" }
                    ),
                )
                .with_facts(facts),
            ]
        }
        Event::DatasetSpace { dataset, available_bytes, used_bytes } => {
            tx.set_fact(FACT_DATASET, dataset, &fact_json(&event))?;
            let total = available_bytes.saturating_add(*used_bytes);
            let free_pct = u64::from(keepsake_zpool::free_percent(*used_bytes, *available_bytes));
            let limit = u64::from(cfg(configs, SPACE_LOW).threshold());
            let firing =
                if is_firing(tx, SPACE_LOW, dataset)? { free_pct < limit + SPACE_HYSTERESIS } else { free_pct < limit };
            vec![
                Observation::either(
                    firing,
                    SPACE_LOW,
                    dataset,
                    format!("Only {free_pct}% free on {dataset}"),
                    format!(
                        "{dataset} has {} free of {} ({free_pct}%); the alert threshold is {limit}%.",
                        human_bytes(*available_bytes),
                        human_bytes(total)
                    ),
                )
                .with_facts(vec![
                    ("Dataset".into(), dataset.clone()),
                    ("Free".into(), human_bytes(*available_bytes)),
                    ("Used".into(), human_bytes(*used_bytes)),
                ]),
            ]
        }
        Event::ContainerCrashed { container, exit_code, out_of_memory: false } => vec![Observation::firing(
            CONTAINER_CRASHED,
            container,
            format!("Container {container} crashed (exit code {exit_code})"),
            format!("The container {container} stopped on its own with exit code {exit_code}."),
            vec![("Container".into(), container.clone()), ("Exit code".into(), exit_code.to_string())],
        )],
        Event::ContainerCrashed { container, exit_code, out_of_memory: true } => vec![Observation::firing(
            CONTAINER_CRASHED,
            container,
            format!("Container {container} ran out of memory"),
            format!(
                "The system stopped the container {container} because the box ran out of memory (exit code {exit_code}). If it keeps happening, turn machine learning off or give the box more memory."
            ),
            vec![
                ("Container".into(), container.clone()),
                ("Exit code".into(), exit_code.to_string()),
                ("Cause".into(), "out of memory".into()),
            ],
        )],
        Event::ContainerRestartLoop { container, restarts, window_secs } => vec![Observation::firing(
            CONTAINER_RESTART_LOOP,
            container,
            format!("Container {container} keeps restarting"),
            format!("The container {container} crashed {restarts} times within {} minutes.", window_secs / 60),
            vec![("Container".into(), container.clone()), ("Crashes".into(), restarts.to_string())],
        )],
        Event::ContainerHealth { container, healthy } => vec![Observation::either(
            !healthy,
            CONTAINER_UNHEALTHY,
            container,
            format!("Container {container} is unhealthy"),
            format!("The health check of {container} is failing."),
        )],
        Event::ContainerRunning { container } => vec![Observation::resolved(CONTAINER_CRASHED, container)],
        Event::DriveEnrolled { drive, label } => {
            let fact = DriveFact { label: label.clone(), enrolled_at: now, last_success: None, last_failure: None };
            if drive_fact(tx, drive)?.is_none() {
                tx.set_fact(FACT_DRIVE, drive, &fact_json(&fact))?;
            }
            vec![]
        }
        Event::DriveForgotten { drive } => {
            tx.delete_fact(FACT_DRIVE, drive)?;
            vec![
                Observation::resolved(BACKUP_FAILED, drive),
                Observation::resolved(BACKUP_OVERDUE, drive),
                Observation::resolved(BACKUP_VERIFY_FAILED, drive),
                Observation::resolved(DRIVE_SAFE_TO_REMOVE, drive),
            ]
        }
        Event::BackupFinished { drive, label, job_id, ok, error } => {
            tx.add_sample(SAMPLE_BACKUP, drive, *ok)?;
            let mut fact = drive_fact(tx, drive)?.unwrap_or(DriveFact {
                label: label.clone(),
                enrolled_at: now,
                last_success: None,
                last_failure: None,
            });
            fact.label = label.clone();
            if *ok {
                fact.last_success = Some(now);
            } else {
                fact.last_failure = Some(now);
            }
            tx.set_fact(FACT_DRIVE, drive, &fact_json(&fact))?;
            let mut facts = vec![("Drive".into(), label.clone())];
            if let Some(id) = job_id {
                facts.push(("Job".into(), format!("#{id}")));
            }
            let mut out = vec![
                Observation::either(
                    !ok,
                    BACKUP_FAILED,
                    drive,
                    format!("The backup to {label} failed"),
                    format!(
                        "The backup to the drive {label} failed: {}.",
                        error.as_deref().unwrap_or("no reason given")
                    ),
                )
                .with_facts(facts),
            ];
            if *ok {
                out.push(Observation::resolved(BACKUP_OVERDUE, drive));
            }
            out
        }
        Event::DriveVerified { drive, label, job_id, full, files_checked, problems, error } => {
            let what = if *full { "full check" } else { "sampled check" };
            let detail = match error {
                Some(e) => format!("The {what} of the drive {label} could not finish: {e}."),
                None => format!(
                    "The {what} of the drive {label} read back {files_checked} files and found {problems} missing, \
                     changed or unreadable."
                ),
            };
            let mut facts = vec![("Drive".into(), label.clone()), ("Problems".into(), problems.to_string())];
            if let Some(id) = job_id {
                facts.push(("Job".into(), format!("#{id}")));
            }
            vec![
                Observation::either(
                    *problems > 0 || error.is_some(),
                    BACKUP_VERIFY_FAILED,
                    drive,
                    format!("The backup on {label} failed its check"),
                    detail,
                )
                .with_facts(facts),
            ]
        }
        Event::DriveInUse { drive, .. } | Event::DriveUnplugged { drive, .. } => {
            vec![Observation::resolved(DRIVE_SAFE_TO_REMOVE, drive)]
        }
        Event::DriveSafeToRemove { drive, label } => vec![Observation::firing(
            DRIVE_SAFE_TO_REMOVE,
            drive,
            format!("{label} can be removed"),
            format!("The drive {label} was unmounted; it is safe to unplug it now."),
            vec![("Drive".into(), label.clone())],
        )],
        Event::RestoreDrillFinished { job_id, ok, error } => vec![
            Observation::either(
                !ok,
                DRILL_FAILED,
                "restore drill",
                "The restore drill failed".into(),
                format!("The restore drill failed: {}.", error.as_deref().unwrap_or("no reason given")),
            )
            .with_facts(job_id.map(|id| vec![("Job".into(), format!("#{id}"))]).unwrap_or_default()),
        ],
        Event::RestorePointCreated { id, kind, size } => {
            let words = format!(
                "{id} ({}, {}), made {}",
                kind.replace('_', "-"),
                crate::host::storage::human(*size),
                now.format("%Y-%m-%d %H:%M UTC")
            );
            tx.set_fact(FACT_RESTORE_POINTS, "Newest", &words)?;
            Vec::new()
        }
        Event::UpdateAvailable { current, latest } => {
            tx.set_fact(FACT_UPDATE, "immich", &fact_json(&event))?;
            vec![
                Observation::either(
                    latest != current,
                    UPDATE_AVAILABLE,
                    "immich",
                    format!("Immich {latest} is available"),
                    format!("Immich {latest} is available; this appliance runs {current}."),
                )
                .with_facts(vec![("Running".into(), current.clone()), ("Available".into(), latest.clone())]),
            ]
        }
        Event::CertificateExpiry { host, not_before, not_after } => {
            let fact = CertFact { not_before: *not_before, not_after: *not_after };
            tx.set_fact(FACT_CERT, host, &fact_json(&fact))?;
            vec![certificate(configs, host, &fact, now)]
        }
        Event::RebuildFinished { ok, generation, error } => vec![
            Observation::either(
                !ok,
                REBUILD_FAILED,
                "host",
                "Applying a system change failed".into(),
                format!("nixos-rebuild failed: {}.", error.as_deref().unwrap_or("no reason given")),
            )
            .with_facts(generation.map(|g| vec![("Generation".into(), g.to_string())]).unwrap_or_default()),
        ],
    };
    Ok(obs)
}

fn certificate(configs: &[RuleConfig], host: &str, c: &CertFact, now: DateTime<Utc>) -> Observation {
    let days_limit = TimeDelta::days(i64::from(cfg(configs, rules::CERT_EXPIRING).threshold()));
    let left = c.not_after - now;
    // Caddy renews a certificate when a third of its lifetime is left; a short-lived internal
    // certificate (12 hours for .local) is always "within N days", so only one Caddy failed to
    // renew in time counts.
    let lifetime = c.not_after - c.not_before;
    let firing = left < days_limit && left < lifetime / 3;
    let when = if left <= TimeDelta::zero() {
        "has expired".to_owned()
    } else if left < TimeDelta::days(2) {
        format!("expires in {} hours", left.num_hours())
    } else {
        format!("expires in {} days", left.num_days())
    };
    Observation::either(
        firing,
        rules::CERT_EXPIRING,
        host,
        format!("The certificate for {host} {when}"),
        format!("The TLS certificate Caddy serves for {host} {when} ({}).", c.not_after.format("%Y-%m-%d %H:%M UTC")),
    )
}

/// Observations that time alone causes.
pub fn on_tick(tx: &Tx<'_>, configs: &[RuleConfig], now: DateTime<Utc>) -> Result<Vec<Observation>> {
    use rules::{ACCOUNT_BACKOFF, BACKUP_OVERDUE, CONTAINER_RESTART_LOOP, LOGIN_SPIKE};
    let mut out = Vec::new();
    let overdue = TimeDelta::days(i64::from(cfg(configs, BACKUP_OVERDUE).threshold()));
    for (drive, raw, _) in tx.facts(FACT_DRIVE)? {
        let d: DriveFact = read_fact(&raw)?;
        let since = d.last_success.unwrap_or(d.enrolled_at);
        let age = now - since;
        let what = if d.last_success.is_some() { "its last successful backup" } else { "it was enrolled" };
        out.push(
            Observation::either(
                age > overdue,
                BACKUP_OVERDUE,
                &drive,
                format!("No backup to {} for {} days", d.label, age.num_days()),
                format!("The drive {} has had no successful backup for {} days since {what}.", d.label, age.num_days()),
            )
            .with_facts(vec![("Drive".into(), d.label.clone())]),
        );
    }
    for (host, raw, _) in tx.facts(FACT_CERT)? {
        out.push(certificate(configs, &host, &read_fact(&raw)?, now));
    }
    let limit = cfg(configs, LOGIN_SPIKE).threshold() as usize;
    if tx.samples_since(SAMPLE_LOGIN_FAILED, now - LOGIN_WINDOW)?.len() < limit {
        out.push(Observation::resolved(LOGIN_SPIKE, "dashboard"));
    }
    for rule in [CONTAINER_RESTART_LOOP, ACCOUNT_BACKOFF] {
        for a in tx.firing_alerts(rule)? {
            if now - a.observed_at > QUIET_PERIOD {
                out.push(Observation::resolved(rule, &a.subject));
            }
        }
    }
    Ok(out)
}
