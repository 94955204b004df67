//! The [`Sender`]: one per process, holding what outlives a message (the HTTP client and its
//! connections, the trusted roots) and sending each message to the channel it is given.

use std::sync::Arc;
use std::time::Duration;

use keepsake_api::ChannelSettings;
use rustls::pki_types::CertificateDer;

use crate::error::SendError;
use crate::{Message, email, tls, webhook};

/// How a [`Sender`] behaves.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// The most one send may take, connecting, encryption and the server's answer included.
    pub timeout: Duration,
    /// The `User-Agent` of HTTP requests, e.g. `Keepsake/0.1`.
    pub user_agent: String,
}

/// What the server said when it took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// For SMTP the final reply (`250 2.0.0 Ok: queued as 4XyZ`); for HTTP the status
    /// (`HTTP 204 No Content`).
    pub detail: String,
}

/// Sends messages. Cheap to share (`Arc` it); sends may run concurrently.
pub struct Sender {
    pub(crate) http: reqwest::Client,
    pub(crate) roots: Arc<Vec<CertificateDer<'static>>>,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("roots", &self.roots.len())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// Reads the system's trusted roots and builds the HTTP client. Fails only if the TLS setup
    /// cannot be built (it has no input from the user but `user_agent`, whose invisible or
    /// non-ASCII characters are dropped).
    pub fn new(opts: SenderOptions) -> Result<Sender, SendError> {
        let roots = tls::system_roots();
        let config = tls::client_config(&roots)
            .map_err(|e| SendError::config(format!("cannot set up TLS: {e}"), "This is a bug in Keepsake."))?;
        let user_agent: String = opts.user_agent.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').collect();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(if user_agent.is_empty() { "Keepsake".to_owned() } else { user_agent })
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| {
                SendError::config(
                    format!("cannot set up the HTTP client: {}", crate::error::chain(&e)),
                    "This is a bug in Keepsake.",
                )
            })?;
        Ok(Sender { http, roots: Arc::new(roots), timeout: opts.timeout })
    }

    /// Sends `msg` through one channel, once. `secret` is the channel's secret: the SMTP
    /// password, the ntfy token, the Discord or Slack webhook address, the webhook's bearer token.
    ///
    /// This does not call [`crate::validate()`] (the agent does when settings are saved), so a
    /// test server on loopback can stand in for Discord; it does refuse what it cannot send at
    /// all, as a [`crate::SendErrorKind::Config`] error.
    pub async fn send(
        &self,
        settings: &ChannelSettings,
        secret: Option<&str>,
        msg: &Message,
    ) -> Result<Sent, SendError> {
        let secret = secret.filter(|s| !s.is_empty());
        match settings {
            ChannelSettings::Email(email) => email::send(self, email, secret, msg).await,
            ChannelSettings::Ntfy(ntfy) => webhook::send_ntfy(self, ntfy, secret, msg).await,
            ChannelSettings::Discord(_) => webhook::send_discord(self, secret, msg).await,
            ChannelSettings::Slack(_) => webhook::send_slack(self, secret, msg).await,
            ChannelSettings::Webhook(hook) => webhook::send_generic(self, hook, secret, msg).await,
        }
    }
}
