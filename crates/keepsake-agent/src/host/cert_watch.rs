//! The certificate watcher: reads the validity dates of the TLS certificates Caddy serves, and
//! publishes them as events when they change.
//!
//! Contract of [`run`] (the agent spawns it once; it never returns):
//! - Every `period` (the first time at once), for each [`CertTarget`] in turn, it connects over TCP
//!   to the target's address and does a TLS handshake asking for the target's server name (SNI),
//!   the two together bounded by `timeout`. It reads the dates of the leaf certificate served and
//!   closes the connection; it sends no request.
//! - It publishes [`Event::CertificateExpiry`] (`host` = the server name) when the dates differ
//!   from those it last published for that target, so every target once, the first time it
//!   answers, then after each renewal. Unchanged dates are not published again: the alert rule
//!   compares them with the clock by itself.
//! - The certificate is not trusted, only read: see [`ReadOnlyVerifier`]. An expired, untrusted
//!   or misnamed certificate is read like any other; reporting it is the point.
//! - When a target cannot be reached, the handshake fails or the certificate is unreadable,
//!   nothing is published for it; the failure is logged as a warning once per distinct failure,
//!   and once more when the target answers again. A publish that fails is retried at the next
//!   check.
//!
//! The date extraction ([`validity`]), what to publish ([`Published`]) and the target syntax
//! ([`CertTarget`]'s `FromStr`) are pure and unit-tested; the loop only connects.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::blocking::secs;
use crate::events::{Event, Events};

/// One certificate to watch: connect to `address` and ask for `server_name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertTarget {
    /// The name sent as SNI, which picks the certificate Caddy serves, and the event's `host`.
    pub server_name: String,
    /// `host:port` to connect to (`[::1]:443` for an IPv6 address).
    pub address: String,
}

impl fmt::Display for CertTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.server_name, self.address)
    }
}

/// Why a `NAME@HOST:PORT` is not a [`CertTarget`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertTargetError {
    #[error("`{0}` is not NAME@HOST:PORT (for example immich.local@127.0.0.1:443)")]
    Shape(String),
    #[error("`{0}` is not a server name (a DNS name such as immich.local, or an IP address)")]
    ServerName(String),
    #[error("`{0}` is not HOST:PORT with a port from 1 to 65535 (write an IPv6 address as [::1]:443)")]
    Address(String),
}

impl FromStr for CertTarget {
    type Err = CertTargetError;

    fn from_str(s: &str) -> Result<CertTarget, CertTargetError> {
        let (name, address) = s.split_once('@').ok_or_else(|| CertTargetError::Shape(s.to_owned()))?;
        if name.is_empty() || address.is_empty() {
            return Err(CertTargetError::Shape(s.to_owned()));
        }
        // The same check the handshake makes, so a bad name fails at start, not every period.
        ServerName::try_from(name).map_err(|_| CertTargetError::ServerName(name.to_owned()))?;
        let bad_address = || CertTargetError::Address(address.to_owned());
        let (host, port) = address.rsplit_once(':').ok_or_else(bad_address)?;
        let port: u16 = port.parse().map_err(|_| bad_address())?;
        // A bare IPv6 address has colons of its own: it must be bracketed to say where the port is.
        let bare_v6 = !host.starts_with('[') && host.contains(':');
        if host.is_empty() || port == 0 || bare_v6 || host.contains(char::is_whitespace) {
            return Err(bad_address());
        }
        Ok(CertTarget { server_name: name.to_owned(), address: address.to_owned() })
    }
}

/// A certificate's validity window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// Why a target's certificate could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("`{0}` is not a server name")]
    ServerName(String),
    #[error("cannot connect to {address}: {source}")]
    Connect { address: String, source: std::io::Error },
    #[error("TLS handshake with {address} failed: {source}")]
    Handshake { address: String, source: std::io::Error },
    #[error("{address} did not complete a TLS handshake within {within}")]
    TimedOut { address: String, within: String },
    #[error("{0} sent no certificate")]
    NoCertificate(String),
    #[error("the certificate served is unreadable: {0}")]
    Unreadable(String),
}

/// The validity dates of a DER certificate.
///
/// x509-parser (rusticata) rather than RustCrypto's `x509-cert`: both are maintained and both are
/// already built into the agent (by webauthn-rs), so neither adds code. x509-parser relaxes a few
/// RFC rules that certificates in the wild break (a UTCTime with +0000 for Z, non-ASCII names),
/// where `x509-cert` decodes strict DER only; a watcher that reports on whatever is served should
/// not go blind on a certificate that TLS clients accept. It also gives the dates as Unix times.
pub fn validity(der: &[u8]) -> Result<Validity, CheckError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| CheckError::Unreadable(e.to_string()))?;
    let date = |t: x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0)
            .ok_or_else(|| CheckError::Unreadable(format!("the date {t} is out of range")))
    };
    let v = cert.validity();
    Ok(Validity { not_before: date(v.not_before)?, not_after: date(v.not_after)? })
}

/// What the watcher last published, per target, and what to publish next.
#[derive(Debug, Default)]
pub struct Published {
    dates: HashMap<CertTarget, Validity>,
}

impl Published {
    /// The event to publish for `target` now serving `validity`: none when these are the dates
    /// last published for it.
    pub fn change(&self, target: &CertTarget, validity: Validity) -> Option<Event> {
        (self.dates.get(target) != Some(&validity)).then(|| Event::CertificateExpiry {
            host: target.server_name.clone(),
            not_before: validity.not_before,
            not_after: validity.not_after,
        })
    }

    /// Remembers `validity` as published for `target`.
    pub fn record(&mut self, target: &CertTarget, validity: Validity) {
        self.dates.insert(target.clone(), validity);
    }
}

/// Accepts any certificate, because the watcher only reads the served certificate's dates and
/// trusts it for nothing: no data is sent, and nothing received but the certificate is used.
/// Verifying the chain would need Caddy's local root and would refuse exactly the certificates
/// worth reporting (expired ones). The handshake signatures are still checked with the provider's
/// algorithms, so the peer proves it holds the certificate's key and this stays a real TLS
/// handshake rather than a certificate dump.
#[derive(Debug)]
pub struct ReadOnlyVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ReadOnlyVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Reads the certificate a target serves.
#[derive(Clone)]
pub struct Checker {
    connector: TlsConnector,
    timeout: Duration,
}

impl Checker {
    /// A checker whose connect and handshake together may take `timeout`. Uses rustls' ring
    /// provider, like the rest of the workspace (keepsake-notify).
    pub fn new(timeout: Duration) -> Result<Checker, CheckError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(ReadOnlyVerifier { algorithms: provider.signature_verification_algorithms });
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Checker { connector: TlsConnector::from(Arc::new(config)), timeout })
    }

    /// The validity dates of the leaf certificate `target` serves.
    pub async fn read(&self, target: &CertTarget) -> Result<Validity, CheckError> {
        let name = ServerName::try_from(target.server_name.clone())
            .map_err(|_| CheckError::ServerName(target.server_name.clone()))?;
        let address = &target.address;
        let handshake = async {
            let tcp = TcpStream::connect(address)
                .await
                .map_err(|source| CheckError::Connect { address: address.clone(), source })?;
            self.connector
                .connect(name, tcp)
                .await
                .map_err(|source| CheckError::Handshake { address: address.clone(), source })
        };
        let mut tls = tokio::time::timeout(self.timeout, handshake)
            .await
            .map_err(|_| CheckError::TimedOut { address: address.clone(), within: secs(self.timeout) })??;
        let leaf = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec());
        // A polite close (close_notify), so Caddy does not log a broken connection; bounded like
        // the rest, and its outcome does not matter.
        let _ = tokio::time::timeout(self.timeout, tls.shutdown()).await;
        validity(&leaf.ok_or_else(|| CheckError::NoCertificate(address.clone()))?)
    }
}

/// Reads every target's certificate every `period` and publishes changes into `events`; see the
/// module header.
pub async fn run(events: Events, targets: Vec<CertTarget>, period: Duration, timeout: Duration) {
    let checker = match Checker::new(timeout) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "certificate watcher: cannot start; certificates are not watched");
            return;
        }
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut published = Published::default();
    let mut failures: HashMap<CertTarget, Failure> = HashMap::new();
    loop {
        tick.tick().await;
        for target in &targets {
            let failure = failures.entry(target.clone()).or_default();
            match checker.read(target).await {
                Ok(validity) => {
                    failure.ok(target);
                    if let Some(event) = published.change(target, validity) {
                        match events.publish(&event) {
                            Ok(_) => published.record(target, validity),
                            Err(e) => tracing::error!(
                                error = %e, target = %target,
                                "cannot publish a certificate's dates; retrying at the next check"
                            ),
                        }
                    }
                }
                Err(e) => failure.failed(target, e.to_string()),
            }
        }
    }
}

/// Logs a target's failures once per distinct failure, and its recovery.
#[derive(Default)]
struct Failure {
    last: Option<String>,
}

impl Failure {
    fn failed(&mut self, target: &CertTarget, why: String) {
        if self.last.as_ref() != Some(&why) {
            tracing::warn!(error = %why, "certificate watcher: cannot read the certificate of {target}; publishing nothing for it until it answers");
            self.last = Some(why);
        }
    }

    fn ok(&mut self, target: &CertTarget) {
        if self.last.take().is_some() {
            tracing::info!("certificate watcher: {target} answers again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn target(s: &str) -> CertTarget {
        s.parse().unwrap()
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    /// A self-signed certificate for `name`, valid on the days given.
    fn certificate(name: &str, from: (i32, u8, u8), to: (i32, u8, u8)) -> (rcgen::Certificate, rcgen::KeyPair) {
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
        let key = rcgen::KeyPair::generate().unwrap();
        (params.self_signed(&key).unwrap(), key)
    }

    #[test]
    fn targets_are_name_at_host_port() {
        assert_eq!(
            target("immich.local@127.0.0.1:443"),
            CertTarget { server_name: "immich.local".into(), address: "127.0.0.1:443".into() }
        );
        assert_eq!(target("immich.local@localhost:8443").address, "localhost:8443");
        assert_eq!(target("keepsake.local@[::1]:443").address, "[::1]:443");
        assert_eq!(target("127.0.0.1@127.0.0.1:443").server_name, "127.0.0.1");
        assert_eq!(target("immich.local@127.0.0.1:443").to_string(), "immich.local@127.0.0.1:443");
    }

    #[test]
    fn malformed_targets_say_what_is_wrong() {
        let err = |s: &str| s.parse::<CertTarget>().unwrap_err();
        assert!(matches!(err("immich.local"), CertTargetError::Shape(_)));
        assert!(matches!(err("@127.0.0.1:443"), CertTargetError::Shape(_)));
        assert!(matches!(err("immich.local@"), CertTargetError::Shape(_)));
        assert!(matches!(err("immich local@127.0.0.1:443"), CertTargetError::ServerName(_)));
        assert!(matches!(err("immich.local@127.0.0.1"), CertTargetError::Address(_)));
        assert!(matches!(err("immich.local@127.0.0.1:0"), CertTargetError::Address(_)));
        assert!(matches!(err("immich.local@127.0.0.1:70000"), CertTargetError::Address(_)));
        assert!(matches!(err("immich.local@:443"), CertTargetError::Address(_)));
        assert!(matches!(err("immich.local@::1:443"), CertTargetError::Address(_)));
        assert_eq!(
            err("immich.local").to_string(),
            "`immich.local` is not NAME@HOST:PORT (for example immich.local@127.0.0.1:443)"
        );
    }

    #[test]
    fn the_dates_are_read_from_the_certificate() {
        let (cert, _) = certificate("immich.test", (2026, 3, 1), (2026, 5, 30));
        let v = validity(cert.der()).unwrap();
        assert_eq!(v, Validity { not_before: at(2026, 3, 1), not_after: at(2026, 5, 30) });
    }

    #[test]
    fn dates_after_2049_are_read_too() {
        // X.509 writes dates from 2050 on as GeneralizedTime instead of UTCTime.
        let (cert, _) = certificate("immich.test", (2049, 6, 1), (2051, 1, 2));
        let v = validity(cert.der()).unwrap();
        assert_eq!((v.not_before, v.not_after), (at(2049, 6, 1), at(2051, 1, 2)));
    }

    #[test]
    fn something_that_is_not_a_certificate_is_unreadable() {
        assert!(matches!(validity(b"not a certificate"), Err(CheckError::Unreadable(_))));
        let (cert, _) = certificate("immich.test", (2026, 3, 1), (2026, 5, 30));
        let truncated = &cert.der()[..cert.der().len() / 2];
        assert!(matches!(validity(truncated), Err(CheckError::Unreadable(_))));
    }

    #[test]
    fn dates_are_published_once_then_again_only_when_they_change() {
        let immich = target("immich.local@127.0.0.1:443");
        let first = Validity { not_before: at(2026, 3, 1), not_after: at(2026, 3, 2) };
        let mut p = Published::default();
        let event = p.change(&immich, first);
        assert_eq!(
            event,
            Some(Event::CertificateExpiry {
                host: "immich.local".into(),
                not_before: first.not_before,
                not_after: first.not_after
            })
        );
        // The publish failed: nothing recorded, so the next check offers it again.
        assert!(p.change(&immich, first).is_some());
        p.record(&immich, first);
        assert_eq!(p.change(&immich, first), None);

        // Renewed: new dates, published once.
        let hours = |h| at(2026, 3, 1) + chrono::TimeDelta::hours(h);
        let renewed = Validity { not_before: hours(8), not_after: hours(20) };
        assert!(
            matches!(p.change(&immich, renewed), Some(Event::CertificateExpiry { not_after, .. }) if not_after == renewed.not_after)
        );
        p.record(&immich, renewed);
        assert_eq!(p.change(&immich, renewed), None);
        // Only one date changed: still a change.
        assert!(p.change(&immich, Validity { not_before: at(2026, 1, 1), ..renewed }).is_some());
    }

    #[test]
    fn each_target_has_its_own_dates() {
        let immich = target("immich.local@127.0.0.1:443");
        let dashboard = target("keepsake.local@127.0.0.1:443");
        let v = Validity { not_before: at(2026, 3, 1), not_after: at(2026, 3, 2) };
        let mut p = Published::default();
        p.record(&immich, v);
        let got = p.change(&dashboard, v);
        assert!(matches!(&got, Some(Event::CertificateExpiry { host, .. }) if host == "keepsake.local"), "{got:?}");
    }

    /// A server configuration that serves `cert` and signs the handshake with `key`.
    fn server_config(cert: &rcgen::Certificate, key: &rcgen::KeyPair) -> rustls::ServerConfig {
        #[derive(Debug)]
        struct Serve(Arc<rustls::sign::CertifiedKey>);
        impl rustls::server::ResolvesServerCert for Serve {
            fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
                Some(Arc::clone(&self.0))
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let signer = provider.key_provider.load_private_key(key).unwrap();
        // No check that the key is the certificate's: one test needs a server without it.
        let served = rustls::sign::CertifiedKey::new(vec![cert.der().clone()], signer);
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Serve(Arc::new(served))))
    }

    /// A TLS server on loopback that serves one connection with `config`.
    async fn serve_once(config: rustls::ServerConfig) -> String {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            if let Ok(mut tls) = acceptor.accept(tcp).await {
                let _ = tls.shutdown().await;
            }
        });
        address
    }

    #[tokio::test]
    async fn an_expired_self_signed_certificate_for_another_name_is_still_read() {
        // Nothing a verifying client would accept: not trusted, not this name, long expired.
        let (cert, key) = certificate("someone-else.test", (2001, 1, 1), (2002, 1, 1));
        let address = serve_once(server_config(&cert, &key)).await;
        let checker = Checker::new(Duration::from_secs(10)).unwrap();
        let got = checker.read(&CertTarget { server_name: "immich.local".into(), address }).await.unwrap();
        assert_eq!(got, Validity { not_before: at(2001, 1, 1), not_after: at(2002, 1, 1) });
    }

    #[tokio::test]
    async fn a_server_without_the_certificates_key_fails_the_handshake() {
        // It sends a certificate but signs the handshake with another key: the signature check
        // that the verifier keeps refuses it, so a copied certificate is not reported as served.
        let (cert, _) = certificate("immich.local", (2026, 3, 1), (2026, 5, 30));
        let other = rcgen::KeyPair::generate().unwrap();
        let address = serve_once(server_config(&cert, &other)).await;
        let checker = Checker::new(Duration::from_secs(10)).unwrap();
        let err = checker.read(&CertTarget { server_name: "immich.local".into(), address }).await.unwrap_err();
        assert!(matches!(err, CheckError::Handshake { .. }), "{err}");
        assert!(err.to_string().to_lowercase().contains("signature"), "{err}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let checker = Checker::new(Duration::from_secs(5)).unwrap();
        let err = checker.read(&CertTarget { server_name: "immich.local".into(), address }).await.unwrap_err();
        assert!(matches!(err, CheckError::Connect { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out() {
        // Accepts the TCP connection (the kernel does, from the backlog) but never speaks TLS.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let checker = Checker::new(Duration::from_millis(300)).unwrap();
        let err = checker.read(&CertTarget { server_name: "immich.local".into(), address }).await.unwrap_err();
        assert!(matches!(err, CheckError::TimedOut { .. }), "{err}");
        drop(listener);
    }
}
