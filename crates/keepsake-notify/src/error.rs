//! What went wrong with one delivery: what failed, the server's reply word for word, what to do,
//! and whether trying again later can help.

use std::fmt;
use std::time::Duration;

/// Which step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendErrorKind {
    /// The channel's settings cannot work (a bad address, a missing secret, a bad template).
    Config,
    /// No connection: the name does not resolve, nothing listens, the network is down.
    Connect,
    /// The secure connection failed: an unknown or mismatched certificate, no STARTTLS.
    Tls,
    /// The server refused the credentials, or needs some.
    Auth,
    /// The server answered and refused the message.
    Rejected,
    /// No complete answer within the time allowed.
    Timeout,
    /// The server's answer made no sense (not SMTP or HTTP as expected).
    Protocol,
}

/// A server's numeric answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyCode {
    /// An SMTP reply code (`550`).
    Smtp(u16),
    /// An HTTP status (`400`).
    Http(u16),
}

/// Why a message was not delivered. Its `Display` is the whole story for a person: what failed,
/// the server's reply verbatim, and what to do, e.g. `the SMTP server refused the message: 550
/// 5.7.1 Relaying denied. Check ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub kind: SendErrorKind,
    /// What failed and why, in a few words, without the server's reply.
    pub message: String,
    /// The server's reply, exactly as it came (an SMTP reply with its code; an HTTP status line
    /// and up to 4 KiB of the body).
    pub server_reply: Option<String>,
    /// What to do about it.
    pub hint: String,
    pub code: Option<ReplyCode>,
    /// How long the server asked to wait (HTTP `Retry-After`, in seconds).
    pub retry_after: Option<Duration>,
}

impl SendError {
    pub fn new(kind: SendErrorKind, message: impl Into<String>, hint: impl Into<String>) -> Self {
        SendError {
            kind,
            message: message.into(),
            server_reply: None,
            hint: hint.into(),
            code: None,
            retry_after: None,
        }
    }

    pub(crate) fn config(message: impl Into<String>, hint: impl Into<String>) -> Self {
        SendError::new(SendErrorKind::Config, message, hint)
    }

    pub(crate) fn with_reply(mut self, code: Option<ReplyCode>, reply: impl Into<String>) -> Self {
        self.code = code;
        self.server_reply = Some(reply.into());
        self
    }

    /// Whether sending the same message again cannot succeed until someone changes something:
    /// settings, credentials or certificates, an SMTP 5xx, an HTTP 4xx other than 408 and 429, a
    /// redirect. Connection failures, timeouts, SMTP 4xx and HTTP 5xx are worth retrying.
    pub fn is_permanent(&self) -> bool {
        match self.kind {
            SendErrorKind::Config | SendErrorKind::Tls | SendErrorKind::Auth | SendErrorKind::Protocol => true,
            SendErrorKind::Connect | SendErrorKind::Timeout => false,
            SendErrorKind::Rejected => match self.code {
                Some(ReplyCode::Smtp(code)) => code >= 500,
                Some(ReplyCode::Http(408 | 429)) => false,
                Some(ReplyCode::Http(status)) => status < 500,
                None => true,
            },
        }
    }

    /// How long the server asked to wait before the next try (an HTTP 429 or 503 with
    /// `Retry-After` in seconds).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(reply) = &self.server_reply {
            write!(f, ": {reply}")?;
        }
        if !self.hint.is_empty() {
            let last = self.server_reply.as_deref().unwrap_or(&self.message).trim_end();
            let sep = if last.ends_with(['.', '!', '?']) { " " } else { ". " };
            write!(f, "{sep}{}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for SendError {}

/// What to do about a certificate the TLS library refused, or `None` if `err` is not about one.
pub(crate) fn certificate_hint(err: &rustls::Error) -> Option<&'static str> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(why) = err else {
        return matches!(err, rustls::Error::NoCertificatesPresented)
            .then_some("The server sent no certificate; check the address and the security setting.");
    };
    Some(match why {
        C::UnknownIssuer | C::BadSignature => {
            "The server's certificate comes from an authority this box does not trust. If it is your own \
             authority (a home server), paste that authority's certificate (PEM) into the channel."
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "Enter the name the server's certificate is for (the error names it) as the server name."
        }
        C::Expired | C::ExpiredContext { .. } => {
            "The server's certificate has expired: whoever runs the server must renew it (or check this box's clock)."
        }
        C::NotValidYet | C::NotValidYetContext { .. } => {
            "The server's certificate is not valid yet: check this box's clock."
        }
        C::Revoked => "The server's certificate was revoked: whoever runs the server must replace it.",
        _ => "The server's certificate cannot be trusted; check the server name and the security setting.",
    })
}

/// The messages of an error and its sources, joined with `": "`, each said once.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// The first error in the chain of type `T`. An `io::Error` wrapping another error hides it from
/// `source()` (it returns the wrapped error's own source), so look inside those too.
pub(crate) fn find_source<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            let inner: &(dyn std::error::Error + 'static) = inner;
            if let Some(found) = find_source::<T>(inner) {
                return Some(found);
            }
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(code: ReplyCode) -> SendError {
        SendError::new(SendErrorKind::Rejected, "refused", "").with_reply(Some(code), "x")
    }

    #[test]
    fn smtp_5xx_is_permanent_and_4xx_is_not() {
        assert!(rejected(ReplyCode::Smtp(550)).is_permanent());
        assert!(rejected(ReplyCode::Smtp(554)).is_permanent());
        assert!(!rejected(ReplyCode::Smtp(451)).is_permanent());
        assert!(!rejected(ReplyCode::Smtp(421)).is_permanent());
    }

    #[test]
    fn http_4xx_is_permanent_except_408_and_429_and_5xx_is_not() {
        for status in [400, 401, 403, 404, 410, 413, 422] {
            assert!(rejected(ReplyCode::Http(status)).is_permanent(), "{status}");
        }
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(!rejected(ReplyCode::Http(status)).is_permanent(), "{status}");
        }
        assert!(rejected(ReplyCode::Http(301)).is_permanent());
    }

    #[test]
    fn kinds_without_a_code() {
        let of = |kind| SendError::new(kind, "m", "h");
        assert!(of(SendErrorKind::Config).is_permanent());
        assert!(of(SendErrorKind::Auth).is_permanent());
        assert!(of(SendErrorKind::Tls).is_permanent());
        assert!(!of(SendErrorKind::Connect).is_permanent());
        assert!(!of(SendErrorKind::Timeout).is_permanent());
    }

    #[test]
    fn display_has_the_reply_verbatim_then_the_hint() {
        let e = SendError::new(SendErrorKind::Rejected, "the SMTP server refused the message", "Check the sender.")
            .with_reply(Some(ReplyCode::Smtp(550)), "550 5.7.1 Relaying denied");
        assert_eq!(e.to_string(), "the SMTP server refused the message: 550 5.7.1 Relaying denied. Check the sender.");
        let e = SendError::config("no address", "Add one.");
        assert_eq!(e.to_string(), "no address. Add one.");
    }
}
