//! The daily restore point and the periodic drill. Once a minute: a scheduled point is due when
//! the configured local hour has come and no scheduled point was made (or attempted) since it last
//! came; a drill is due when the last one is older than its interval. Both go through the job
//! manager like any other job, so their locks keep them from colliding with a restore.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Local, NaiveTime, TimeZone, Utc};
use keepsake_api::RestorePointKind;

use super::Inner;

const TICK: Duration = Duration::from_secs(60);

pub async fn run(inner: Arc<Inner>) {
    if inner.layout.is_none() {
        return;
    }
    let mut last_point_attempt: Option<DateTime<Utc>> = None;
    let mut last_drill_attempt: Option<DateTime<Utc>> = None;
    loop {
        tokio::time::sleep(TICK).await;
        let Ok(settings) = inner.settings() else { continue };
        let now = Utc::now();
        if let Some(hour) = settings.daily_at_hour
            && let Some(slot) = latest_slot(now, hour)
        {
            let made = inner.store.points().ok().and_then(|p| {
                p.into_iter().filter(|p| p.kind == RestorePointKind::Scheduled).map(|p| p.created_at).max()
            });
            let done = made.is_some_and(|t| t >= slot) || last_point_attempt.is_some_and(|t| t >= slot);
            if !done {
                last_point_attempt = Some(now);
                if let Err(e) = inner.submit_create(RestorePointKind::Scheduled, None, "schedule") {
                    tracing::warn!(error = %e, "cannot start the scheduled restore point");
                }
            }
        }
        if let Some(days) = settings.drill_every_days {
            let every = chrono::Duration::days(days as i64);
            let last = inner.store.last_drill().ok().flatten().map(|d| d.finished_at);
            let has_point = inner.store.points().is_ok_and(|p| p.iter().any(|p| p.complete));
            let due = has_point
                && last.is_none_or(|t| now - t >= every)
                && last_drill_attempt.is_none_or(|t| now - t >= chrono::Duration::hours(6));
            if due {
                last_drill_attempt = Some(now);
                if let Err(e) = inner.submit_drill("schedule") {
                    tracing::warn!(error = %e, "cannot start the scheduled restore drill");
                }
            }
        }
    }
}

/// The most recent time the local clock showed `hour`:00, at or before `now`.
pub fn latest_slot(now: DateTime<Utc>, hour: u8) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&Local);
    let at = NaiveTime::from_hms_opt(hour as u32, 0, 0)?;
    let today = Local.from_local_datetime(&local.date_naive().and_time(at)).earliest()?;
    let slot = if today <= local { today } else { today - chrono::Duration::days(1) };
    Some(slot.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_is_today_once_the_hour_has_come_else_yesterday() {
        let now = Utc::now();
        let slot = latest_slot(now, 3).unwrap();
        assert!(slot <= now && now - slot < chrono::Duration::days(1));
        assert_eq!(slot.with_timezone(&Local).format("%H:%M").to_string(), "03:00");
    }
}
