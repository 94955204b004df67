//! Channels: where messages go. Their settings are checked before they are stored (by the channel
//! crate, which knows each kind's rules), their secret is sealed by the vault's key and never
//! returned, and "send test" sends one message at once and reports the server's own answer.

use std::time::Instant;

use chrono::Utc;
use keepsake_api::{ChannelInfo, ChannelList, ChannelSettings, ChannelTestResult, ChannelUpsert};

use super::{Alerts, AlertsError, Result, message, rules};
use crate::store::ChannelRow;
use crate::vault::Secret;

fn info(c: ChannelRow) -> ChannelInfo {
    ChannelInfo {
        id: c.id,
        name: c.name,
        enabled: c.enabled,
        settings: c.settings,
        secret_set: c.secret.is_some(),
        notify_on: c.notify_on,
        rules: c.rules,
        weekly_summary: c.weekly_summary,
        created_at: c.created_at,
    }
}

/// The checks a channel's configuration must pass, with the secret it will have.
fn check(u: &ChannelUpsert, secret: Option<&str>) -> Result<()> {
    if let Some(unknown) = u.rules.keys().find(|r| rules::rule(r).is_none()) {
        let known: Vec<&str> = rules::RULES.iter().map(|r| r.id).collect();
        return Err(AlertsError::invalid(
            "channel.unknown_rule",
            format!("there is no rule called {unknown:?}; the rules are: {}", known.join(", ")),
        ));
    }
    if u.weekly_summary && !matches!(u.settings, ChannelSettings::Email(_)) {
        return Err(AlertsError::invalid(
            "channel.summary_needs_email",
            "the weekly summary is an email: turn it on for an email channel",
        ));
    }
    keepsake_notify::validate(&u.settings, secret)
        .map_err(|e| AlertsError::Invalid { code: e.code, message: e.message })
}

/// `text` with the secret blanked out: an HTTP client's error can quote the address it was given,
/// and a Discord or Slack address *is* the secret; errors go to API answers, logs and history.
pub fn scrub(text: &str, secret: Option<&Secret>) -> String {
    match secret.map(Secret::expose).filter(|s| s.len() >= 4) {
        Some(s) => text.replace(s, "<secret>"),
        None => text.to_owned(),
    }
}

impl Alerts {
    pub fn channels(&self) -> Result<ChannelList> {
        Ok(ChannelList { channels: self.store.channels()?.into_iter().map(info).collect() })
    }

    pub(crate) fn open_secret(&self, c: &ChannelRow) -> Result<Option<Secret>> {
        match &c.secret {
            None => Ok(None),
            Some(sealed) => {
                let plain = self.sealer.open_sealed(sealed)?;
                let text = String::from_utf8(plain).map_err(|_| crate::vault::SecretsError::Decrypt)?;
                Ok(Some(Secret::new(text)))
            }
        }
    }

    /// Saves a new channel (`id: None`) or replaces one. `secret`: `None` keeps the stored one
    /// (unless the kind changes, which drops it), `""` removes it.
    pub fn save_channel(&self, id: Option<i64>, u: &ChannelUpsert) -> Result<ChannelInfo> {
        let old = match id {
            Some(id) => Some(self.channel_row(id)?),
            None => None,
        };
        let kept = match (&u.secret, &old) {
            (Some(s), _) if s.is_empty() => None,
            (Some(s), _) => Some(Secret::new(s.clone())),
            (None, Some(o)) if o.settings.kind() == u.settings.kind() => self.open_secret(o)?,
            (None, _) => None,
        };
        check(u, kept.as_ref().map(Secret::expose))?;
        let sealed = kept.as_ref().map(|s| self.sealer.seal(s.expose().as_bytes())).transpose()?;
        let row = ChannelRow {
            id: id.unwrap_or(0),
            name: u.name.trim().to_owned(),
            enabled: u.enabled,
            settings: u.settings.clone(),
            secret: sealed,
            notify_on: u.notify_on,
            rules: u.rules.clone(),
            weekly_summary: u.weekly_summary,
            created_at: old.map(|o| o.created_at).unwrap_or_else(Utc::now),
        };
        let id = self.store.save_channel(&row)?;
        Ok(info(self.channel_row(id)?))
    }

    pub(crate) fn channel_row(&self, id: i64) -> Result<ChannelRow> {
        self.store
            .channel(id)?
            .ok_or_else(|| AlertsError::not_found("channel.not_found", format!("there is no channel with id {id}")))
    }

    /// Deletes a channel and its queued messages; returns what it was, for the audit log.
    pub fn delete_channel(&self, id: i64) -> Result<ChannelInfo> {
        let c = self.channel_row(id)?;
        self.store.delete_channel(id)?;
        Ok(info(c))
    }

    /// Sends a test message now and reports what the server said.
    pub async fn test_channel(&self, id: i64) -> Result<ChannelTestResult> {
        let c = self.channel_row(id)?;
        let secret = self.open_secret(&c)?;
        let key = format!("test-ch{}-{}", c.id, Utc::now().timestamp_micros());
        let draft = message::test(key, &c.name, self.config.origin.as_ref());
        let started = Instant::now();
        let sent = self.send(&c.settings, secret.as_ref().map(Secret::expose), &draft).await;
        let took_ms = started.elapsed().as_millis() as u64;
        Ok(match sent {
            Ok(_) => ChannelTestResult { delivered: true, error: None, took_ms },
            Err(e) => {
                ChannelTestResult { delivered: false, error: Some(scrub(&e.to_string(), secret.as_ref())), took_ms }
            }
        })
    }
}
