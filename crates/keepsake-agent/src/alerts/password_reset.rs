//! Mailing password-reset links. The token is made by `auth::reset`; this file only knows how to
//! reach the account's mailbox: through the first enabled email channel's server, to the
//! account's own address. The link is sent at once and never queued, because the queue is stored
//! and a reset link must exist only as a hash at rest.

use keepsake_api::{ChannelSettings, Severity};

use keepsake_notify::{Link, Message, MessageKind};

use super::message::dashboard;
use super::{Alerts, Result};
use crate::auth::reset::RESET_TTL;
use crate::store::{ChannelRow, UserRow};
use crate::vault::Secret;

impl Alerts {
    fn reset_channel(&self) -> Result<Option<ChannelRow>> {
        Ok(self.store.channels()?.into_iter().find(|c| c.enabled && matches!(c.settings, ChannelSettings::Email(_))))
    }

    /// Whether a forgotten password can be reset by email (an email channel is set up).
    pub fn reset_by_email_available(&self) -> Result<bool> {
        Ok(self.reset_channel()?.is_some())
    }

    /// Mails `user` the reset link for `token`. Errors are logged, not returned: the caller's
    /// answer must not depend on them.
    pub async fn mail_reset_link(&self, user: &UserRow, token: &str) {
        let (Some(address), Ok(Some(channel))) = (user.email.clone(), self.reset_channel()) else {
            tracing::warn!(user = %user.name, "no email channel or address: the reset link was not sent");
            return;
        };
        let ChannelSettings::Email(mut email) = channel.settings.clone() else { return };
        email.to = vec![address];
        let secret = match self.open_secret(&channel) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the email channel's secret: the reset link was not sent");
                return;
            }
        };
        // The token travels in the fragment: browsers do not send it to the server, so it never
        // reaches a web server's or proxy's log.
        let link = format!("{}/reset-password#token={token}", dashboard(self.config.origin.as_ref()));
        let message = Message {
            key: format!("reset-{}-{}", user.id, chrono::Utc::now().timestamp_micros()),
            kind: MessageKind::PasswordReset,
            severity: Severity::Info,
            title: "Reset your Keepsake password".into(),
            what_happened: format!("Someone asked to reset the password of the Keepsake account {}.", user.name),
            what_it_means: format!(
                "The link below lets you choose a new password. It works once, for {} minutes. Using it signs \
                 the account out everywhere.",
                RESET_TTL.num_minutes()
            ),
            what_to_do: "If it was you, open the link. If it was not you, ignore this email: your password \
                         stays as it is."
                .into(),
            link: Some(Link { label: "Choose a new password".into(), url: link }),
            facts: Vec::new(),
            sections: Vec::new(),
            rule: "password_reset".into(),
            subject: user.name.clone(),
            at: chrono::Utc::now(),
        };
        let sent = self.send(&ChannelSettings::Email(email), secret.as_ref().map(Secret::expose), &message).await;
        match sent {
            Ok(_) => tracing::info!(user = %user.name, "password-reset link sent"),
            Err(e) => {
                tracing::error!(user = %user.name, error = %super::channels::scrub(&e.to_string(), secret.as_ref()), "cannot send the password-reset link")
            }
        }
    }
}
