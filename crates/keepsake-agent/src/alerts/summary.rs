//! The weekly summary email: backups per drive, restore points, snapshots, free space, the week's
//! alerts, available updates, and the audit chain's head — a witness kept outside the box, which
//! `keepsake audit verify --head HASH` can later check the log against.
//!
//! It is queued like any message (so it is retried and survives restarts), once per ISO week and
//! email channel that asks for it: its key names the week, so a restart cannot queue it twice.

use std::time::Duration;

use chrono::{DateTime, Datelike, Local, TimeDelta, Utc};
use keepsake_api::{ChannelSettings, HistoryKind, Severity, SummarySettings};

use super::evaluate::{CertFact, DriveFact, FACT_DATASET, FACT_DRIVE, FACT_POOL, FACT_UPDATE, SAMPLE_BACKUP};
use keepsake_notify::{Link, Message, MessageKind, Section};

use super::message::dashboard;
use super::{Alerts, AlertsError, Result};
use crate::events::Event;
use crate::host::command::{Ran, run};
use crate::host::human_bytes;

const SETTING: &str = "alerts.weekly_summary";

pub fn default_settings() -> SummarySettings {
    SummarySettings { enabled: true, weekday: 1, hour: 8 }
}

impl Alerts {
    pub fn summary_settings(&self) -> Result<SummarySettings> {
        Ok(self.store.setting(SETTING)?.and_then(|v| serde_json::from_str(&v).ok()).unwrap_or_else(default_settings))
    }

    pub fn set_summary_settings(&self, s: &SummarySettings) -> Result<SummarySettings> {
        if !(1..=7).contains(&s.weekday) || s.hour > 23 {
            return Err(AlertsError::invalid("summary.bad_time", "weekday is 1 (Monday) to 7 (Sunday), hour 0 to 23"));
        }
        self.store.set_setting(SETTING, &serde_json::to_string(s).expect("plain data serializes"))?;
        self.summary_settings()
    }

    /// Queues this week's summary for every email channel that wants it, once the scheduled time
    /// has passed. Returns how many were queued.
    pub async fn queue_summary_if_due(&self, now: DateTime<Local>) -> Result<usize> {
        let s = self.summary_settings()?;
        let Some(scheduled) = scheduled_in_week_of(now, &s) else { return Ok(0) };
        if !s.enabled || now < scheduled {
            return Ok(0);
        }
        let week = now.iso_week();
        let tag = format!("{}-W{:02}", week.year(), week.week());
        // A channel set up after this week's time gets its first summary next week.
        let missing: Vec<_> = self
            .summary_channels()?
            .into_iter()
            .filter(|c| c.created_at <= scheduled.with_timezone(&Utc))
            .filter(|c| !self.store.notification_exists(&format!("summary-{tag}-ch{}", c.id)).unwrap_or(false))
            .collect();
        if missing.is_empty() {
            return Ok(0);
        }
        let mut queued = 0;
        for c in missing {
            let key = format!("summary-{tag}-ch{}", c.id);
            let draft = self.build_summary(key.clone(), Utc::now()).await?;
            if self.store.enqueue_notification(&key, c.id, None, &serde_json::to_string(&draft).expect("serializes"))? {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Queues a summary now, for every email channel that receives it; returns how many.
    pub async fn send_summary_now(&self) -> Result<usize> {
        let channels = self.summary_channels()?;
        if channels.is_empty() {
            return Err(AlertsError::invalid(
                "summary.no_channel",
                "no email channel receives the weekly summary: turn it on for an email channel first",
            ));
        }
        let stamp = Utc::now().timestamp_micros();
        let mut queued = 0;
        for c in channels {
            let key = format!("summary-now-{stamp}-ch{}", c.id);
            let draft = self.build_summary(key.clone(), Utc::now()).await?;
            if self.store.enqueue_notification(&key, c.id, None, &serde_json::to_string(&draft).expect("serializes"))? {
                queued += 1;
            }
        }
        self.wake.notify_one();
        Ok(queued)
    }

    fn summary_channels(&self) -> Result<Vec<crate::store::ChannelRow>> {
        Ok(self
            .store
            .channels()?
            .into_iter()
            .filter(|c| c.enabled && c.weekly_summary && matches!(c.settings, ChannelSettings::Email(_)))
            .collect())
    }

    /// The summary's content as of `now`.
    pub async fn build_summary(&self, key: String, now: DateTime<Utc>) -> Result<Message> {
        let week_ago = now - TimeDelta::days(7);
        let mut sections = Vec::new();

        let backups = self.store.samples_since(SAMPLE_BACKUP, week_ago)?;
        let mut lines = Vec::new();
        for (drive, raw, _) in self.store.facts(FACT_DRIVE)? {
            let Ok(d) = serde_json::from_str::<DriveFact>(&raw) else { continue };
            let ok = backups.iter().filter(|(s, _, ok)| *s == drive && *ok).count();
            let failed = backups.iter().filter(|(s, _, ok)| *s == drive && !*ok).count();
            let last = d.last_success.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "never".into());
            lines.push(format!("{}: {ok} backups this week, {failed} failed; last good backup {last}", d.label));
        }
        if lines.is_empty() {
            lines
                .push("No backup drive is enrolled yet: plug a USB drive in and enroll it on the Backups page.".into());
        }
        sections.push(("Backups".to_owned(), lines));

        let points = self.store.facts("restore_points")?;
        sections.push((
            "Restore points".to_owned(),
            if points.is_empty() {
                vec!["No restore point has been reported yet.".into()]
            } else {
                points.into_iter().map(|(s, v, _)| format!("{s}: {v}")).collect()
            },
        ));

        sections.push(("Snapshots".to_owned(), vec![snapshot_line().await]));

        let mut space = Vec::new();
        for (_, raw, at) in self.store.facts(FACT_DATASET)? {
            if let Ok(Event::DatasetSpace { dataset, available_bytes, used_bytes }) = serde_json::from_str(&raw) {
                let total = available_bytes.saturating_add(used_bytes);
                let pct = keepsake_zpool::free_percent(used_bytes, available_bytes);
                space.push(format!(
                    "{dataset}: {} free of {} ({pct}%), as of {}",
                    human_bytes(available_bytes),
                    human_bytes(total),
                    at.format("%Y-%m-%d")
                ));
            }
        }
        for (_, raw, _) in self.store.facts(FACT_POOL)? {
            if let Ok(Event::PoolHealth { pool, state, read_errors, write_errors, checksum_errors, .. }) =
                serde_json::from_str(&raw)
            {
                space.push(format!(
                    "Pool {pool}: {state}, {read_errors} read / {write_errors} write / {checksum_errors} checksum errors"
                ));
            }
        }
        if space.is_empty() {
            space.push("Not measured yet.".into());
        }
        sections.push(("Storage".to_owned(), space));

        let mut alerts: Vec<String> = self
            .store
            .history_since(week_ago)?
            .into_iter()
            .filter(|h| matches!(h.kind, HistoryKind::Fired | HistoryKind::Resolved))
            .rev()
            .map(|h| {
                let what = if h.kind == HistoryKind::Fired { "started" } else { "resolved" };
                format!(
                    "{} {what}: {}",
                    h.at.format("%a %d %b %H:%M"),
                    if h.kind == HistoryKind::Fired { h.detail } else { format!("{} ({})", h.rule, h.subject) }
                )
            })
            .collect();
        let firing = self.list()?.firing;
        if alerts.is_empty() {
            alerts.push("No alerts this week.".into());
        }
        alerts.push(format!("Firing now: {firing}."));
        sections.push(("Alerts this week".to_owned(), alerts));

        let mut updates = Vec::new();
        for (_, raw, _) in self.store.facts(FACT_UPDATE)? {
            if let Ok(Event::UpdateAvailable { current, latest }) = serde_json::from_str(&raw) {
                updates.push(if current == latest {
                    format!("Immich {current} is up to date.")
                } else {
                    format!("Immich {latest} is available (running {current}).")
                });
            }
        }
        for (host, raw, _) in self.store.facts(super::evaluate::FACT_CERT)? {
            if let Ok(c) = serde_json::from_str::<CertFact>(&raw) {
                updates
                    .push(format!("Certificate for {host} valid until {}.", c.not_after.format("%Y-%m-%d %H:%M UTC")));
            }
        }
        if updates.is_empty() {
            updates.push("No update check has run yet.".into());
        }
        sections.push(("Updates".to_owned(), updates));

        let head = self.store.audit_head()?;
        sections.push((
            "Audit log".to_owned(),
            match head {
                Some(h) => vec![
                    format!("Chain head: entry {} with hash {}", h.id, h.hash),
                    "Keep this email. `keepsake audit verify --head HASH` at the console proves that no entry up \
                     to this one was changed or removed since."
                        .into(),
                ],
                None => vec!["The audit log is empty.".into()],
            },
        ));

        Ok(Message {
            key,
            kind: MessageKind::Summary,
            severity: if firing > 0 { Severity::Warning } else { Severity::Info },
            title: format!("Weekly summary, week of {}", week_ago.format("%d %b %Y")),
            what_happened: "Your Keepsake appliance's week at a glance.".into(),
            what_it_means: if firing > 0 {
                format!("{firing} alert(s) are firing now; see the Alerts page.")
            } else {
                "Everything is in order.".into()
            },
            what_to_do: "Nothing, unless a section above says otherwise.".into(),
            link: Some(Link { label: "Open the dashboard".into(), url: dashboard(self.config.origin.as_ref()) }),
            facts: Vec::new(),
            sections: sections.into_iter().map(|(heading, lines)| Section { heading, lines }).collect(),
            rule: "summary".into(),
            subject: "weekly".into(),
            at: now,
        })
    }
}

/// This week's (ISO week: Monday first) scheduled moment, in local time.
pub fn scheduled_in_week_of(now: DateTime<Local>, s: &SummarySettings) -> Option<DateTime<Local>> {
    use chrono::TimeZone;
    let monday = now.date_naive() - chrono::Days::new(u64::from(now.weekday().num_days_from_monday()));
    let day = monday + chrono::Days::new(u64::from(s.weekday.clamp(1, 7) - 1));
    // `earliest`: a time skipped by a daylight-saving change is taken as the next valid one.
    Local.from_local_datetime(&day.and_hms_opt(u32::from(s.hour.min(23)), 0, 0)?).earliest()
}

async fn snapshot_line() -> String {
    match run("zfs", &["list", "-H", "-t", "snapshot", "-o", "name"], Duration::from_secs(10)).await {
        Ran::Ok(out) => {
            let n = out.lines().filter(|l| !l.trim().is_empty()).count();
            format!("{n} ZFS snapshots on the appliance.")
        }
        Ran::NotFound => "ZFS is not installed here.".into(),
        Ran::TimedOut => "ZFS did not answer in time; the snapshots could not be counted.".into(),
        Ran::Failed(e) | Ran::Error(e) => format!("The snapshots could not be counted: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, TimeZone, Timelike};

    use super::*;

    #[test]
    fn the_scheduled_moment_is_in_the_same_iso_week() {
        let s = SummarySettings { enabled: true, weekday: 1, hour: 8 };
        // Thursday 3 December 2026: Monday 30 November at 08:00.
        let thu = Local.with_ymd_and_hms(2026, 12, 3, 15, 0, 0).unwrap();
        let at = scheduled_in_week_of(thu, &s).unwrap();
        assert_eq!((at.month(), at.day(), at.hour()), (11, 30, 8));
        // Sunday belongs to the week that started on Monday.
        let sun = Local.with_ymd_and_hms(2026, 12, 6, 23, 0, 0).unwrap();
        let sunday_summary = SummarySettings { weekday: 7, hour: 20, ..s };
        let at = scheduled_in_week_of(sun, &sunday_summary).unwrap();
        assert_eq!((at.month(), at.day(), at.hour()), (12, 6, 20));
        assert!(sun >= at);
    }
}
