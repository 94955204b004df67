//! The delivery worker: sends queued messages, retrying with backoff, and survives restarts.
//!
//! A message is marked `sending` (committed) before it is handed to the server and `sent` after
//! the server accepted it. A message that cannot be sent is retried after `retry_base`, doubling
//! up to [`MAX_BACKOFF`], for [`GIVE_UP_AFTER`]; a refusal that will not change by itself (a 5xx
//! SMTP reply, a 4xx webhook answer) fails at once. At start, messages an earlier agent left
//! queued are tried at once, and one it left `sending` (killed between the server's "accepted" and
//! the mark) is sent again with the same key, which becomes the email's Message-ID and the
//! webhook's `Idempotency-Key`, so the receiving side can tell it is the same message.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use keepsake_api::HistoryKind;

use keepsake_notify::Message;

use super::{Alerts, channels::scrub};
use crate::store::{NotificationRow, StoreError};
use crate::vault::Secret;

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);
/// A message that could not be sent for this long is given up (and says so in the history).
pub const GIVE_UP_AFTER: TimeDelta = TimeDelta::hours(48);

/// A time after every queued message's next attempt. (Not `DateTime::MAX_UTC`: timestamps are
/// compared as RFC 3339 text, and a year beyond 9999 sorts wrong.)
pub fn far_future() -> DateTime<Utc> {
    use chrono::TimeZone;
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single().expect("a valid date")
}

/// The wait before attempt `attempts + 1`.
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    let factor = 1u32.checked_shl(attempts.saturating_sub(1).min(20)).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

enum Outcome {
    Sent(String),
    Retry(DateTime<Utc>, String),
    GiveUp(String),
}

impl Alerts {
    pub(super) async fn deliver_loop(self: Arc<Self>) {
        match self.store.requeue_interrupted_notifications() {
            Ok(0) => {}
            Ok(n) => tracing::warn!(n, "sending again messages an earlier agent was sending when it stopped"),
            Err(e) => tracing::error!(error = %e, "cannot requeue interrupted messages"),
        }
        let mut first = true;
        loop {
            // After a restart, everything queued is tried at once: the agent may have been down
            // for a long time, and the fault may be gone.
            let at = if first { far_future() } else { Utc::now() };
            first = false;
            if let Err(e) = self.deliver_due(at).await {
                tracing::error!(error = %e, "cannot read the message queue; retrying in 10 s");
                tokio::time::sleep(Duration::from_secs(10)).await;
                continue;
            }
            let wait = match self.store.next_notification_due() {
                Ok(Some(t)) => (t - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(super::TICK),
                _ => super::TICK,
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sends every message due at `at`; returns how many were attempted.
    pub async fn deliver_due(&self, at: DateTime<Utc>) -> Result<usize, StoreError> {
        let due = self.store.due_notifications(at, 50)?;
        for n in &due {
            self.deliver(n).await?;
        }
        Ok(due.len())
    }

    #[tracing::instrument(name = "deliver", skip_all, fields(notification = n.id, key = %n.key))]
    async fn deliver(&self, n: &NotificationRow) -> Result<(), StoreError> {
        let Some(channel) = self.store.channel(n.channel_id)? else { return Ok(()) };
        let message: Message = match serde_json::from_str(&n.message) {
            Ok(m) => m,
            Err(e) => {
                let why = format!("the queued message is unreadable: {e}");
                return self.finish(n, ("unknown", &n.key), &channel.name, Outcome::GiveUp(why));
            }
        };
        let about = (message.rule.as_str(), message.subject.as_str());
        if !channel.enabled {
            return self.finish(n, about, &channel.name, Outcome::GiveUp("the channel was turned off".into()));
        }
        let secret = match self.open_secret(&channel) {
            Ok(s) => s,
            Err(e) => {
                let why = format!("cannot read the channel's secret: {e}");
                return self.finish(n, about, &channel.name, Outcome::GiveUp(why));
            }
        };
        self.store.mark_notification_sending(n.id)?;
        let sent = self.send(&channel.settings, secret.as_ref().map(Secret::expose), &message).await;
        fault_after_send(sent.is_ok());
        let attempts = n.attempts + 1;
        let outcome = match sent {
            Ok(s) => Outcome::Sent(s.detail),
            Err(e) => {
                let text = scrub(&e.to_string(), secret.as_ref());
                let next = Utc::now()
                    + TimeDelta::from_std(e.retry_after().unwrap_or(backoff(self.config.retry_base, attempts)))
                        .unwrap_or(TimeDelta::minutes(30));
                if e.is_permanent() {
                    Outcome::GiveUp(text)
                } else if next - n.created_at > GIVE_UP_AFTER {
                    Outcome::GiveUp(format!("still failing after {} attempts: {text}", attempts))
                } else {
                    Outcome::Retry(next, text)
                }
            }
        };
        self.finish(n, about, &channel.name, outcome)
    }

    /// Records what became of a message, with the rule and subject it is `about`.
    fn finish(
        &self,
        n: &NotificationRow,
        about: (&str, &str),
        channel: &str,
        outcome: Outcome,
    ) -> Result<(), StoreError> {
        let (rule, subject) = about;
        self.store.transaction(|tx| {
            match &outcome {
                Outcome::Sent(detail) => {
                    tx.mark_notification_sent(n.id)?;
                    tx.add_history(n.alert_id, rule, subject, HistoryKind::Notified, Some(channel), detail)?;
                    tracing::info!(channel, "message delivered");
                }
                Outcome::Retry(next, error) => {
                    tx.mark_notification_retry(n.id, *next, error)?;
                    let detail = format!("{error} (trying again at {})", next.format("%H:%M:%S UTC"));
                    tx.add_history(n.alert_id, rule, subject, HistoryKind::DeliveryFailed, Some(channel), &detail)?;
                    tracing::warn!(channel, %error, %next, "message not delivered; will retry");
                }
                Outcome::GiveUp(error) => {
                    tx.mark_notification_failed(n.id, error)?;
                    let detail = format!("gave up: {error}");
                    tx.add_history(n.alert_id, rule, subject, HistoryKind::DeliveryFailed, Some(channel), &detail)?;
                    tracing::error!(channel, %error, "message not delivered; giving up");
                }
            }
            Ok(())
        })
    }
}

/// Test builds only: `KEEPSAKE_TEST_FAULT=exit_after_send` ends the process right after a server
/// accepted a message and before it is marked sent — the crash the idempotency key is for.
fn fault_after_send(accepted: bool) {
    #[cfg(debug_assertions)]
    if accepted && std::env::var("KEEPSAKE_TEST_FAULT").as_deref() == Ok("exit_after_send") {
        tracing::warn!("KEEPSAKE_TEST_FAULT: exiting between send and mark");
        std::process::exit(86);
    }
    #[cfg(not(debug_assertions))]
    let _ = accepted;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Duration::from_secs(30);
        assert_eq!(backoff(b, 1), Duration::from_secs(30));
        assert_eq!(backoff(b, 2), Duration::from_secs(60));
        assert_eq!(backoff(b, 3), Duration::from_secs(120));
        assert_eq!(backoff(b, 40), MAX_BACKOFF);
        assert_eq!(backoff(b, 0), Duration::from_secs(30));
    }
}
