//! Alerts and notifications: rules watch typed events and time, alerts are the rules' persisted
//! states, and messages go out on each alert transition through the configured channels.
//!
//! - [`rules`]: the built-in rules, their thresholds and words.
//! - [`evaluate`]: events (and time) to observations; [`engine`]: observations to transitions,
//!   history and queued messages, in the same transaction as the outbox cursor.
//! - [`delivery`]: the durable queue's worker: sends with retries and backoff, survives restarts.
//! - [`summary`]: the weekly summary email; [`password_reset`]: forgotten passwords by email.
//! - [`message`]: the words of each message; [`channels`]: channel configuration and its checks.
//!
//! Every other subsystem reports through here by publishing an [`crate::events::Event`]; nothing
//! else calls into this module except the API handlers, through [`Alerts`].

pub mod channels;
pub mod delivery;
pub mod engine;
pub mod evaluate;
pub mod message;
pub mod password_reset;
pub mod rules;
pub mod summary;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use keepsake_api::{
    AlertHistory, AlertInfo, AlertList, AlertState, HistoryEntry, HistoryQuery, RuleInfo, RuleList, RuleUpdate,
    Threshold,
};
use tokio::sync::Notify;

use crate::events::Events;
use crate::store::{AlertRow, RuleOverride, Store, StoreError};
use crate::vault::SecretBox;

/// The outbox consumer name of the rule engine (persisted: never rename).
pub const CONSUMER: &str = "alerts";
/// How often time-based rules are re-evaluated and the summary schedule checked.
pub const TICK: Duration = Duration::from_secs(60);
/// Resolved alerts stay listed this long.
const RECENT: TimeDelta = TimeDelta::days(7);
/// Samples (backups per drive) are kept this long; failed sign-ins only as long as their window.
const SAMPLE_RETENTION: TimeDelta = TimeDelta::days(60);
/// History, finished messages and resolved alerts are kept this long.
const HISTORY_RETENTION: TimeDelta = TimeDelta::days(365);

#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error(transparent)]
    Secrets(#[from] crate::vault::SecretsError),
}

impl AlertsError {
    pub fn code(&self) -> &'static str {
        match self {
            AlertsError::Store(e) => e.code(),
            AlertsError::NotFound { code, .. } | AlertsError::Invalid { code, .. } => code,
            AlertsError::Secrets(e) => e.code(),
        }
    }

    pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> AlertsError {
        AlertsError::Invalid { code, message: message.into() }
    }

    pub(crate) fn not_found(code: &'static str, message: impl Into<String>) -> AlertsError {
        AlertsError::NotFound { code, message: message.into() }
    }
}

pub type Result<T, E = AlertsError> = std::result::Result<T, E>;

/// Settings of the alerts module.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// The dashboard's address, for links in messages.
    pub origin: Option<url::Url>,
    /// The first retry of a message that could not be sent waits this long; each next one twice
    /// as long, up to [`delivery::MAX_BACKOFF`].
    pub retry_base: Duration,
    pub tick: Duration,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig { origin: None, retry_base: Duration::from_secs(30), tick: TICK }
    }
}

/// The alerts module's handle. Cheap to share behind an `Arc`.
pub struct Alerts {
    pub(crate) store: Arc<Store>,
    pub(crate) events: Events,
    pub(crate) sealer: Arc<SecretBox>,
    pub(crate) config: AlertsConfig,
    /// Built on the first send: it loads the system's trusted roots and an HTTP client, memory
    /// an appliance without channels need not spend.
    sender: std::sync::OnceLock<keepsake_notify::Sender>,
    /// Wakes the delivery worker when messages are queued.
    pub(crate) wake: Notify,
}

impl Alerts {
    pub fn new(store: Arc<Store>, events: Events, sealer: Arc<SecretBox>, config: AlertsConfig) -> Result<Arc<Alerts>> {
        Ok(Arc::new(Alerts { store, events, sealer, config, sender: std::sync::OnceLock::new(), wake: Notify::new() }))
    }

    /// Sends one message to one channel.
    pub(crate) async fn send(
        &self,
        settings: &keepsake_api::ChannelSettings,
        secret: Option<&str>,
        message: &keepsake_notify::Message,
    ) -> Result<keepsake_notify::Sent, keepsake_notify::SendError> {
        let sender = match self.sender.get() {
            Some(s) => s,
            None => {
                let built = keepsake_notify::Sender::new(keepsake_notify::SenderOptions {
                    timeout: Duration::from_secs(20),
                    user_agent: format!("Keepsake/{}", crate::VERSION),
                })?;
                self.sender.get_or_init(|| built)
            }
        };
        sender.send(settings, secret, message).await
    }

    /// Starts the rule engine, the time-based checks and the delivery worker (they run for as
    /// long as the runtime does).
    pub fn start(self: &Arc<Self>) -> Result<()> {
        let consumer = self.events.consumer(CONSUMER)?;
        tokio::spawn(Arc::clone(self).follow_events(consumer));
        tokio::spawn(Arc::clone(self).tick_loop());
        tokio::spawn(Arc::clone(self).deliver_loop());
        Ok(())
    }

    fn context<'a>(&'a self, configs: &'a [rules::RuleConfig]) -> engine::Context<'a> {
        engine::Context { configs, origin: self.config.origin.as_ref(), now: Utc::now() }
    }

    /// Handles every pending event, each in one transaction with its cursor; returns how many.
    pub fn process_pending(&self, consumer: &mut crate::events::Consumer) -> Result<usize> {
        let batch = consumer.pending(100)?;
        for d in &batch {
            let applied = self.store.transaction(|tx| {
                let configs = engine::configs(tx)?;
                let applied = engine::apply_event(tx, &self.context(&configs), &d.event)?;
                tx.ack_outbox(CONSUMER, d.seq)?;
                Ok::<_, StoreError>(applied)
            })?;
            if applied.queued > 0 {
                self.wake.notify_one();
            }
        }
        Ok(batch.len())
    }

    async fn follow_events(self: Arc<Self>, mut consumer: crate::events::Consumer) {
        loop {
            match self.process_pending(&mut consumer) {
                Ok(0) => consumer.wait().await,
                Ok(_) => {}
                Err(e) => {
                    // The event stays unacknowledged and comes again: nothing is skipped.
                    tracing::error!(error = %e, "cannot apply an event to the alert rules; retrying in 10 s");
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
            }
        }
    }

    /// Re-evaluates the time-based rules and queues a due weekly summary.
    pub async fn tick(&self) -> Result<()> {
        let applied = self.store.transaction(|tx| {
            let configs = engine::configs(tx)?;
            let applied = engine::apply_tick(tx, &self.context(&configs))?;
            let now = Utc::now();
            tx.prune_samples(now - SAMPLE_RETENTION)?;
            tx.prune_samples_of(evaluate::SAMPLE_LOGIN_FAILED, now - evaluate::LOGIN_WINDOW * 2)?;
            tx.prune_alert_history(now - HISTORY_RETENTION)?;
            Ok::<_, StoreError>(applied)
        })?;
        let summaries = self.queue_summary_if_due(chrono::Local::now()).await?;
        if applied.queued + summaries > 0 {
            self.wake.notify_one();
        }
        Ok(())
    }

    async fn tick_loop(self: Arc<Self>) {
        let mut every = tokio::time::interval(self.config.tick);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = self.tick().await {
                tracing::error!(error = %e, "cannot re-evaluate the time-based alert rules");
            }
        }
    }

    fn info(&self, a: AlertRow) -> AlertInfo {
        let help = rules::rule(&a.rule).and_then(|r| r.help).map(str::to_owned);
        AlertInfo {
            id: a.id,
            rule: a.rule,
            subject: a.subject,
            state: a.state,
            severity: a.severity,
            title: a.title,
            message: a.message,
            since: a.since,
            changed_at: a.changed_at,
            snoozed_until: a.snoozed_until.filter(|u| *u > Utc::now()),
            help,
        }
    }

    /// Firing alerts (most severe first), then those resolved within the last week.
    pub fn list(&self) -> Result<AlertList> {
        let now = Utc::now();
        let mut rows = self.store.alerts_changed_since(now - RECENT)?;
        rows.sort_by(|a, b| {
            let key = |x: &AlertRow| (x.state != AlertState::Firing, std::cmp::Reverse(x.severity));
            key(a).cmp(&key(b)).then(b.changed_at.cmp(&a.changed_at))
        });
        let firing: Vec<&AlertRow> = rows.iter().filter(|a| a.state == AlertState::Firing).collect();
        let worst = firing.iter().filter(|a| a.snoozed_until.is_none_or(|u| u <= now)).map(|a| a.severity).max();
        let count = firing.len() as u32;
        Ok(AlertList { alerts: rows.into_iter().map(|a| self.info(a)).collect(), firing: count, worst })
    }

    pub fn history(&self, q: &HistoryQuery) -> Result<AlertHistory> {
        let rows = self.store.history(q.before, q.limit.unwrap_or(100).clamp(1, 500), q.rule.as_deref())?;
        let entries = rows
            .into_iter()
            .map(|h| HistoryEntry {
                id: h.id,
                at: h.at,
                alert_id: h.alert_id,
                rule: h.rule,
                subject: h.subject,
                kind: h.kind,
                channel: h.channel,
                detail: h.detail,
            })
            .collect();
        Ok(AlertHistory { entries })
    }

    pub fn rules(&self) -> Result<RuleList> {
        let overrides = self.store.rule_overrides()?;
        let mut out = Vec::new();
        for c in rules::configs(&overrides) {
            let firing = self.store.firing_alerts(c.rule.id)?.len() as u32;
            out.push(rule_info(&c, firing));
        }
        Ok(RuleList { rules: out })
    }

    pub fn update_rule(&self, id: &str, u: &RuleUpdate) -> Result<RuleInfo> {
        let rule = rules::rule(id)
            .ok_or_else(|| AlertsError::not_found("rule.not_found", format!("there is no rule called {id:?}")))?;
        match (rule.threshold, u.threshold) {
            (None, Some(_)) => {
                return Err(AlertsError::invalid(
                    "rule.no_threshold",
                    format!("the rule {id} has no threshold to set"),
                ));
            }
            (Some(t), Some(v)) if v < t.min || v > t.max => {
                return Err(AlertsError::invalid(
                    "rule.threshold_out_of_range",
                    format!("the threshold of {id} must be between {} and {} {}", t.min, t.max, t.unit),
                ));
            }
            _ => {}
        }
        let overrides = self.store.rule_overrides()?;
        let mut o = overrides
            .iter()
            .find(|o| o.id == id)
            .cloned()
            .unwrap_or(RuleOverride { id: id.to_owned(), ..Default::default() });
        if let Some(t) = u.threshold {
            o.threshold = Some(t);
        }
        if let Some(m) = u.muted {
            o.muted = m;
        }
        if let Some(m) = u.min_repeat_minutes {
            o.min_repeat_minutes = Some(m);
        }
        self.store.set_rule_override(&o)?;
        let c = rules::RuleConfig::of(rule, &self.store.rule_overrides()?);
        Ok(rule_info(&c, self.store.firing_alerts(id)?.len() as u32))
    }

    /// Holds back an alert's messages for `minutes` (0 ends a snooze).
    pub fn snooze(&self, id: i64, minutes: u32) -> Result<AlertInfo> {
        let until = (minutes > 0).then(|| Utc::now() + TimeDelta::minutes(i64::from(minutes)));
        let missing = || AlertsError::not_found("alert.not_found", format!("there is no alert with id {id}"));
        let a = self.store.transaction(|tx| {
            let Some(a) = tx.alert_by_id(id)? else { return Ok(None) };
            tx.set_alert_snooze(id, until)?;
            let detail = match until {
                Some(u) => format!("snoozed until {}", u.format("%Y-%m-%d %H:%M UTC")),
                None => "snooze ended".to_owned(),
            };
            tx.add_history(Some(id), &a.rule, &a.subject, keepsake_api::HistoryKind::Snoozed, None, &detail)?;
            tx.alert_by_id(id)
        })?;
        let a = a.ok_or_else(missing)?;
        Ok(self.info(a))
    }
}

fn rule_info(c: &rules::RuleConfig, firing: u32) -> RuleInfo {
    RuleInfo {
        id: c.rule.id.to_owned(),
        title: c.rule.title.to_owned(),
        description: c.rule.description.to_owned(),
        severity: c.rule.severity,
        threshold: c.rule.threshold.map(|t| Threshold {
            value: c.threshold(),
            default: t.default,
            min: t.min,
            max: t.max,
            unit: t.unit.to_owned(),
        }),
        muted: c.muted,
        min_repeat_minutes: c.min_repeat_minutes,
        help: c.rule.help.map(str::to_owned),
        firing,
    }
}
