//! Persistence of alerts: rule overrides, alert states and their history, channels, the
//! notification queue, the newest facts and samples the rules read, and password-reset tokens.
//! What the rules mean and when a message goes out is `crate::alerts`'s business; this file only
//! stores and fetches.
//!
//! Methods are written on [`Tx`] so the alert engine can apply one event's every consequence (the
//! alert's change, its history, its queued messages and the consumer's cursor) in one transaction.

use chrono::{DateTime, Utc};
use keepsake_api::{AlertState, HistoryKind, NotifyOn, Severity};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Result, Store, StoreError, Tx, now, on_constraint, parse_ts, ts};

/// A rule's settings as changed from its defaults (`None`: the default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleOverride {
    pub id: String,
    pub threshold: Option<u32>,
    pub muted: bool,
    pub min_repeat_minutes: Option<u32>,
}

/// One rule's state for one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: i64,
    pub rule: String,
    pub subject: String,
    pub state: AlertState,
    pub severity: Severity,
    pub title: String,
    pub message: String,
    pub facts: Vec<(String, String)>,
    pub since: DateTime<Utc>,
    pub changed_at: DateTime<Utc>,
    /// When the condition was last seen (firing) — for rules that resolve after a quiet period.
    pub observed_at: DateTime<Utc>,
    /// How many times it changed state; part of each notification's key.
    pub transitions: i64,
    /// Whether the current (or last) firing was announced, so its "resolved" is announced too.
    pub notified_firing: bool,
    pub last_notified_at: Option<DateTime<Utc>>,
    pub snoozed_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub alert_id: Option<i64>,
    pub rule: String,
    pub subject: String,
    pub kind: HistoryKind,
    pub channel: Option<String>,
    pub detail: String,
}

/// A channel as stored: settings as JSON (`keepsake_api::ChannelSettings`), secret sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRow {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub settings: keepsake_api::ChannelSettings,
    pub secret: Option<Vec<u8>>,
    pub notify_on: NotifyOn,
    pub rules: std::collections::BTreeMap<String, NotifyOn>,
    pub weekly_summary: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Sending,
    Sent,
    Failed,
}

/// A queued message for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRow {
    pub id: i64,
    pub key: String,
    pub channel_id: i64,
    pub alert_id: Option<i64>,
    /// The message, as JSON the alerts module wrote.
    pub message: String,
    pub state: DeliveryState,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// An unused password-reset token's owner and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRow {
    pub user_id: i64,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

fn word<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => unreachable!("not a unit enum: {other:?}"),
    }
}

fn parse_word<T: DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| StoreError::Corrupt(format!("unknown value {s:?}: {e}")))
}

fn json<T: DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("bad stored JSON: {e}")))
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

fn opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

const ALERT_COLUMNS: &str = "id, rule, subject, state, severity, title, message, facts, since, changed_at, \
     observed_at, transitions, notified_firing, last_notified_at, snoozed_until";

type RawAlert = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
);

fn raw_alert(r: &Row<'_>) -> rusqlite::Result<RawAlert> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
        r.get(14)?,
    ))
}

fn alert_row(r: RawAlert) -> Result<AlertRow> {
    let (id, rule, subject, state, severity, title, message, facts, since, changed, observed, transitions, nf, ln, sn) =
        r;
    Ok(AlertRow {
        id,
        rule,
        subject,
        state: parse_word(&state)?,
        severity: parse_word(&severity)?,
        title,
        message,
        facts: json(&facts)?,
        since: parse_ts(&since)?,
        changed_at: parse_ts(&changed)?,
        observed_at: parse_ts(&observed)?,
        transitions,
        notified_firing: nf != 0,
        last_notified_at: opt_ts(ln)?,
        snoozed_until: opt_ts(sn)?,
    })
}

const CHANNEL_COLUMNS: &str = "id, name, enabled, settings, secret, notify_on, rules, weekly_summary, created_at";

type RawChannel = (i64, String, i64, String, Option<Vec<u8>>, String, String, i64, String);

fn raw_channel(r: &Row<'_>) -> rusqlite::Result<RawChannel> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
}

fn channel_row(r: RawChannel) -> Result<ChannelRow> {
    let (id, name, enabled, settings, secret, notify_on, rules, weekly, created) = r;
    Ok(ChannelRow {
        id,
        name,
        enabled: enabled != 0,
        settings: json(&settings)?,
        secret,
        notify_on: parse_word(&notify_on)?,
        rules: json(&rules)?,
        weekly_summary: weekly != 0,
        created_at: parse_ts(&created)?,
    })
}

const NOTIFICATION_COLUMNS: &str =
    "id, key, channel_id, alert_id, message, state, attempts, next_attempt_at, last_error, created_at, sent_at";

type RawNotification =
    (i64, String, i64, Option<i64>, String, String, u32, String, Option<String>, String, Option<String>);

fn raw_notification(r: &Row<'_>) -> rusqlite::Result<RawNotification> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn notification_row(r: RawNotification) -> Result<NotificationRow> {
    let (id, key, channel_id, alert_id, message, state, attempts, next, last_error, created, sent) = r;
    let state = match state.as_str() {
        "pending" => DeliveryState::Pending,
        "sending" => DeliveryState::Sending,
        "sent" => DeliveryState::Sent,
        "failed" => DeliveryState::Failed,
        other => return Err(StoreError::Corrupt(format!("unknown delivery state {other:?}"))),
    };
    Ok(NotificationRow {
        id,
        key,
        channel_id,
        alert_id,
        message,
        state,
        attempts,
        next_attempt_at: parse_ts(&next)?,
        last_error,
        created_at: parse_ts(&created)?,
        sent_at: opt_ts(sent)?,
    })
}

in_own_transaction! {
    fn rule_overrides(&self) -> Vec<RuleOverride>;
    fn set_rule_override(&self, o: &RuleOverride) -> ();
    fn alert(&self, rule: &str, subject: &str) -> Option<AlertRow>;
    fn alert_by_id(&self, id: i64) -> Option<AlertRow>;
    fn alerts_changed_since(&self, since: DateTime<Utc>) -> Vec<AlertRow>;
    fn firing_alerts(&self, rule: &str) -> Vec<AlertRow>;
    fn set_alert_snooze(&self, id: i64, until: Option<DateTime<Utc>>) -> ();
    fn add_history(&self, alert_id: Option<i64>, rule: &str, subject: &str, kind: HistoryKind, channel: Option<&str>, detail: &str) -> i64;
    fn history(&self, before: Option<i64>, limit: u32, rule: Option<&str>) -> Vec<HistoryRow>;
    fn history_since(&self, since: DateTime<Utc>) -> Vec<HistoryRow>;
    fn channels(&self) -> Vec<ChannelRow>;
    fn channel(&self, id: i64) -> Option<ChannelRow>;
    fn save_channel(&self, c: &ChannelRow) -> i64;
    fn delete_channel(&self, id: i64) -> bool;
    fn enqueue_notification(&self, key: &str, channel_id: i64, alert_id: Option<i64>, message: &str) -> bool;
    fn notification_exists(&self, key: &str) -> bool;
    fn due_notifications(&self, at: DateTime<Utc>, limit: u32) -> Vec<NotificationRow>;
    fn notifications_of(&self, alert_id: i64) -> Vec<NotificationRow>;
    fn next_notification_due(&self) -> Option<DateTime<Utc>>;
    fn mark_notification_sending(&self, id: i64) -> ();
    fn mark_notification_sent(&self, id: i64) -> ();
    fn mark_notification_retry(&self, id: i64, next: DateTime<Utc>, error: &str) -> ();
    fn mark_notification_failed(&self, id: i64, error: &str) -> ();
    fn requeue_interrupted_notifications(&self) -> usize;
    fn set_fact(&self, kind: &str, subject: &str, value: &str) -> ();
    fn facts(&self, kind: &str) -> Vec<(String, String, DateTime<Utc>)>;
    fn delete_fact(&self, kind: &str, subject: &str) -> ();
    fn add_sample(&self, kind: &str, subject: &str, ok: bool) -> ();
    fn samples_since(&self, kind: &str, since: DateTime<Utc>) -> Vec<(String, DateTime<Utc>, bool)>;
    fn prune_samples(&self, before: DateTime<Utc>) -> usize;
    fn prune_samples_of(&self, kind: &str, before: DateTime<Utc>) -> usize;
    fn prune_alert_history(&self, before: DateTime<Utc>) -> usize;
    fn insert_password_reset(&self, token_hash: &str, user_id: i64, expires_at: DateTime<Utc>) -> ();
    fn last_password_reset_at(&self, user_id: i64) -> Option<DateTime<Utc>>;
    fn password_reset(&self, token_hash: &str) -> Option<ResetRow>;
    fn use_password_reset(&self, token_hash: &str) -> bool;
}

impl Tx<'_> {
    pub fn rule_overrides(&self) -> Result<Vec<RuleOverride>> {
        let mut stmt = self.conn.prepare("SELECT id, threshold, muted, min_repeat_minutes FROM alert_rules")?;
        let rows = stmt.query_map([], |r| {
            Ok(RuleOverride {
                id: r.get(0)?,
                threshold: r.get(1)?,
                muted: r.get::<_, i64>(2)? != 0,
                min_repeat_minutes: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn set_rule_override(&self, o: &RuleOverride) -> Result<()> {
        self.conn.execute(
            "INSERT INTO alert_rules (id, threshold, muted, min_repeat_minutes) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(id) DO UPDATE SET threshold = ?2, muted = ?3, min_repeat_minutes = ?4",
            params![o.id, o.threshold, o.muted as i64, o.min_repeat_minutes],
        )?;
        Ok(())
    }

    pub fn alert(&self, rule: &str, subject: &str) -> Result<Option<AlertRow>> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE rule = ?1 AND subject = ?2");
        self.conn.query_row(&sql, params![rule, subject], raw_alert).optional()?.map(alert_row).transpose()
    }

    pub fn alert_by_id(&self, id: i64) -> Result<Option<AlertRow>> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1");
        self.conn.query_row(&sql, [id], raw_alert).optional()?.map(alert_row).transpose()
    }

    /// Firing alerts, and resolved ones that changed since `since`.
    pub fn alerts_changed_since(&self, since: DateTime<Utc>) -> Result<Vec<AlertRow>> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE state = 'firing' OR changed_at >= ?1 ORDER BY changed_at DESC"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([ts(since)], raw_alert)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(alert_row).collect()
    }

    pub fn firing_alerts(&self, rule: &str) -> Result<Vec<AlertRow>> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE state = 'firing' AND rule = ?1 ORDER BY id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([rule], raw_alert)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(alert_row).collect()
    }

    /// Inserts (`id == 0`) or updates an alert; returns its id.
    pub fn save_alert(&self, a: &AlertRow) -> Result<i64> {
        let p = params![
            a.rule,
            a.subject,
            word(&a.state),
            word(&a.severity),
            a.title,
            a.message,
            to_json(&a.facts),
            ts(a.since),
            ts(a.changed_at),
            ts(a.observed_at),
            a.transitions,
            a.notified_firing as i64,
            a.last_notified_at.map(ts),
            a.snoozed_until.map(ts),
        ];
        if a.id == 0 {
            Ok(self.conn.query_row(
                "INSERT INTO alerts (rule, subject, state, severity, title, message, facts, since, changed_at, \
                 observed_at, transitions, notified_firing, last_notified_at, snoozed_until) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id",
                p,
                |r| r.get(0),
            )?)
        } else {
            let n = self.conn.execute(
                "UPDATE alerts SET rule = ?1, subject = ?2, state = ?3, severity = ?4, title = ?5, message = ?6, \
                 facts = ?7, since = ?8, changed_at = ?9, observed_at = ?10, transitions = ?11, \
                 notified_firing = ?12, last_notified_at = ?13, snoozed_until = ?14 WHERE id = ?15",
                rusqlite::params_from_iter(p.iter().copied().chain([&a.id as &dyn rusqlite::ToSql])),
            )?;
            if n == 0 {
                return Err(StoreError::Corrupt(format!("alert {} vanished while being updated", a.id)));
            }
            Ok(a.id)
        }
    }

    pub fn set_alert_snooze(&self, id: i64, until: Option<DateTime<Utc>>) -> Result<()> {
        let n = self.conn.execute("UPDATE alerts SET snoozed_until = ?2 WHERE id = ?1", params![id, until.map(ts)])?;
        if n == 0 {
            return Err(StoreError::conflict("alert.not_found", format!("there is no alert with id {id}")));
        }
        Ok(())
    }

    pub fn add_history(
        &self,
        alert_id: Option<i64>,
        rule: &str,
        subject: &str,
        kind: HistoryKind,
        channel: Option<&str>,
        detail: &str,
    ) -> Result<i64> {
        Ok(self.conn.query_row(
            "INSERT INTO alert_history (at, alert_id, rule, subject, kind, channel, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
            params![ts(now()), alert_id, rule, subject, word(&kind), channel, detail],
            |r| r.get(0),
        )?)
    }

    fn history_where(&self, cond: &str, args: &[&dyn rusqlite::ToSql], limit: u32) -> Result<Vec<HistoryRow>> {
        let sql = format!(
            "SELECT id, at, alert_id, rule, subject, kind, channel, detail FROM alert_history WHERE {cond} \
             ORDER BY id DESC LIMIT {limit}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, at, alert_id, rule, subject, kind, channel, detail)| {
                Ok(HistoryRow {
                    id,
                    at: parse_ts(&at)?,
                    alert_id,
                    rule,
                    subject,
                    kind: parse_word(&kind)?,
                    channel,
                    detail,
                })
            })
            .collect()
    }

    /// Newest first, before the entry `before` (if given), at most `limit`.
    pub fn history(&self, before: Option<i64>, limit: u32, rule: Option<&str>) -> Result<Vec<HistoryRow>> {
        let before = before.unwrap_or(i64::MAX);
        match rule {
            Some(r) => self.history_where("id < ?1 AND rule = ?2", &[&before, &r], limit),
            None => self.history_where("id < ?1", &[&before], limit),
        }
    }

    pub fn history_since(&self, since: DateTime<Utc>) -> Result<Vec<HistoryRow>> {
        self.history_where("at >= ?1", &[&ts(since)], 10_000)
    }

    pub fn channels(&self) -> Result<Vec<ChannelRow>> {
        let mut stmt = self.conn.prepare(&format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY id"))?;
        let rows = stmt.query_map([], raw_channel)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(channel_row).collect()
    }

    pub fn channel(&self, id: i64) -> Result<Option<ChannelRow>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = ?1");
        self.conn.query_row(&sql, [id], raw_channel).optional()?.map(channel_row).transpose()
    }

    /// Inserts (`id == 0`) or replaces a channel; a taken name is `channel.name_taken`.
    pub fn save_channel(&self, c: &ChannelRow) -> Result<i64> {
        let taken = || format!("there is already a channel called {:?}; choose another name", c.name);
        let p = params![
            c.name,
            c.enabled as i64,
            to_json(&c.settings),
            c.secret,
            word(&c.notify_on),
            to_json(&c.rules),
            c.weekly_summary as i64,
            ts(c.created_at),
        ];
        if c.id == 0 {
            self.conn
                .query_row(
                    "INSERT INTO channels (name, enabled, settings, secret, notify_on, rules, weekly_summary, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                    p,
                    |r| r.get(0),
                )
                .map_err(on_constraint("channel.name_taken", taken))
        } else {
            let n = self
                .conn
                .execute(
                    "UPDATE channels SET name = ?1, enabled = ?2, settings = ?3, secret = ?4, notify_on = ?5, \
                     rules = ?6, weekly_summary = ?7, created_at = ?8 WHERE id = ?9",
                    rusqlite::params_from_iter(p.iter().copied().chain([&c.id as &dyn rusqlite::ToSql])),
                )
                .map_err(on_constraint("channel.name_taken", taken))?;
            if n == 0 {
                return Err(StoreError::conflict("channel.not_found", format!("there is no channel with id {}", c.id)));
            }
            Ok(c.id)
        }
    }

    pub fn delete_channel(&self, id: i64) -> Result<bool> {
        Ok(self.conn.execute("DELETE FROM channels WHERE id = ?1", [id])? > 0)
    }

    /// Queues a message unless one with the same key was ever queued; returns whether it was.
    pub fn enqueue_notification(
        &self,
        key: &str,
        channel_id: i64,
        alert_id: Option<i64>,
        message: &str,
    ) -> Result<bool> {
        let t = ts(now());
        Ok(self.conn.execute(
            "INSERT INTO notifications (key, channel_id, alert_id, message, state, next_attempt_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5) ON CONFLICT(key) DO NOTHING",
            params![key, channel_id, alert_id, message, t],
        )? > 0)
    }

    pub fn notification_exists(&self, key: &str) -> Result<bool> {
        Ok(self.conn.query_row("SELECT EXISTS (SELECT 1 FROM notifications WHERE key = ?1)", [key], |r| r.get(0))?)
    }

    fn notifications_where(&self, cond: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<NotificationRow>> {
        let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE {cond}");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(args, raw_notification)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(notification_row).collect()
    }

    /// Pending messages whose time has come, oldest first.
    pub fn due_notifications(&self, at: DateTime<Utc>, limit: u32) -> Result<Vec<NotificationRow>> {
        self.notifications_where(
            &format!("state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT {limit}"),
            &[&ts(at)],
        )
    }

    pub fn notifications_of(&self, alert_id: i64) -> Result<Vec<NotificationRow>> {
        self.notifications_where("alert_id = ?1 ORDER BY id", &[&alert_id])
    }

    pub fn next_notification_due(&self) -> Result<Option<DateTime<Utc>>> {
        let t: Option<String> =
            self.conn.query_row("SELECT MIN(next_attempt_at) FROM notifications WHERE state = 'pending'", [], |r| {
                r.get(0)
            })?;
        opt_ts(t)
    }

    pub fn mark_notification_sending(&self, id: i64) -> Result<()> {
        self.conn.execute("UPDATE notifications SET state = 'sending', attempts = attempts + 1 WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn mark_notification_sent(&self, id: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE notifications SET state = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1",
            params![id, ts(now())],
        )?;
        Ok(())
    }

    pub fn mark_notification_retry(&self, id: i64, next: DateTime<Utc>, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE notifications SET state = 'pending', next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
            params![id, ts(next), error],
        )?;
        Ok(())
    }

    pub fn mark_notification_failed(&self, id: i64, error: &str) -> Result<()> {
        self.conn
            .execute("UPDATE notifications SET state = 'failed', last_error = ?2 WHERE id = ?1", params![id, error])?;
        Ok(())
    }

    /// Messages left `sending` by an agent that died mid-send go back to the queue (with the same
    /// key, so a receiver that saw the first attempt can tell it is the same message).
    pub fn requeue_interrupted_notifications(&self) -> Result<usize> {
        Ok(self.conn.execute("UPDATE notifications SET state = 'pending' WHERE state = 'sending'", [])?)
    }

    pub fn set_fact(&self, kind: &str, subject: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO alert_facts (kind, subject, value, at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(kind, subject) DO UPDATE SET value = ?3, at = ?4",
            params![kind, subject, value, ts(now())],
        )?;
        Ok(())
    }

    /// `(subject, value, at)` of every fact of `kind`.
    pub fn facts(&self, kind: &str) -> Result<Vec<(String, String, DateTime<Utc>)>> {
        let mut stmt =
            self.conn.prepare("SELECT subject, value, at FROM alert_facts WHERE kind = ?1 ORDER BY subject")?;
        let rows = stmt
            .query_map([kind], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(|(s, v, at)| Ok((s, v, parse_ts(&at)?))).collect()
    }

    pub fn delete_fact(&self, kind: &str, subject: &str) -> Result<()> {
        self.conn.execute("DELETE FROM alert_facts WHERE kind = ?1 AND subject = ?2", params![kind, subject])?;
        Ok(())
    }

    pub fn add_sample(&self, kind: &str, subject: &str, ok: bool) -> Result<()> {
        self.conn.execute(
            "INSERT INTO alert_samples (kind, subject, at, ok) VALUES (?1, ?2, ?3, ?4)",
            params![kind, subject, ts(now()), ok as i64],
        )?;
        Ok(())
    }

    /// `(subject, at, ok)` of the samples of `kind` since `since`, oldest first.
    pub fn samples_since(&self, kind: &str, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>, bool)>> {
        let mut stmt =
            self.conn.prepare("SELECT subject, at, ok FROM alert_samples WHERE kind = ?1 AND at >= ?2 ORDER BY at")?;
        let rows = stmt
            .query_map(params![kind, ts(since)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)? != 0))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(|(s, at, ok)| Ok((s, parse_ts(&at)?, ok))).collect()
    }

    pub fn prune_samples(&self, before: DateTime<Utc>) -> Result<usize> {
        let n = self.conn.execute("DELETE FROM alert_samples WHERE at < ?1", [ts(before)])?;
        let m = self.conn.execute(
            "DELETE FROM password_resets WHERE expires_at < ?1 OR used_at IS NOT NULL AND used_at < ?1",
            [ts(before)],
        )?;
        Ok(n + m)
    }

    pub fn prune_samples_of(&self, kind: &str, before: DateTime<Utc>) -> Result<usize> {
        Ok(self.conn.execute("DELETE FROM alert_samples WHERE kind = ?1 AND at < ?2", params![kind, ts(before)])?)
    }

    /// Forgets history entries, delivered or abandoned messages, and resolved alerts older than
    /// `before`, so the tables do not grow for ever.
    pub fn prune_alert_history(&self, before: DateTime<Utc>) -> Result<usize> {
        let t = ts(before);
        let h = self.conn.execute("DELETE FROM alert_history WHERE at < ?1", [&t])?;
        let n = self
            .conn
            .execute("DELETE FROM notifications WHERE state IN ('sent', 'failed') AND created_at < ?1", [&t])?;
        let a = self.conn.execute("DELETE FROM alerts WHERE state = 'resolved' AND changed_at < ?1", [&t])?;
        Ok(h + n + a)
    }

    pub fn insert_password_reset(&self, token_hash: &str, user_id: i64, expires_at: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash, user_id, ts(now()), ts(expires_at)],
        )?;
        Ok(())
    }

    pub fn last_password_reset_at(&self, user_id: i64) -> Result<Option<DateTime<Utc>>> {
        let t: Option<String> =
            self.conn
                .query_row("SELECT MAX(created_at) FROM password_resets WHERE user_id = ?1", [user_id], |r| r.get(0))?;
        opt_ts(t)
    }

    pub fn password_reset(&self, token_hash: &str) -> Result<Option<ResetRow>> {
        let r = self
            .conn
            .query_row(
                "SELECT user_id, expires_at, used_at FROM password_resets WHERE token_hash = ?1",
                [token_hash],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)),
            )
            .optional()?;
        r.map(|(user_id, exp, used)| Ok(ResetRow { user_id, expires_at: parse_ts(&exp)?, used_at: opt_ts(used)? }))
            .transpose()
    }

    /// Marks a token used; false if it was already used (so two racing uses cannot both win).
    pub fn use_password_reset(&self, token_hash: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE password_resets SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL",
            params![token_hash, ts(now())],
        )? > 0)
    }
}
