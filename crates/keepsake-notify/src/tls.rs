//! Which certificate authorities are trusted, and the one TLS configuration (rustls with ring,
//! no OpenSSL) both SMTP and HTTP use.
//!
//! The roots are the system's (`/etc/ssl/certs` on Debian and NixOS, or `SSL_CERT_FILE`), read
//! once when the [`crate::Sender`] is made; if the system has none, Mozilla's list built into
//! `webpki-roots`. An email channel may add its own authority (`extra_ca_pem`).

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The system's trusted roots, as DER certificates; empty if it has none (then Mozilla's list
/// is used, see [`root_store`]).
pub(crate) fn system_roots() -> Vec<CertificateDer<'static>> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, _ignored) = store.add_parsable_certificates(found.certs.iter().cloned());
    if added > 0 { found.certs } else { Vec::new() }
}

/// The certificates in a PEM text; an error says what is wrong with it.
pub(crate) fn parse_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("it is not PEM ({e})"))?;
    if certs.is_empty() {
        return Err("it has no \"-----BEGIN CERTIFICATE-----\" block".to_owned());
    }
    let mut store = RootCertStore::empty();
    for cert in &certs {
        store.add(cert.clone()).map_err(|e| format!("a certificate in it cannot be read ({e})"))?;
    }
    Ok(certs)
}

/// The ring crypto provider, explicitly, so no process-wide default is needed.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A root store with the given certificates, or Mozilla's built-in list when there are none.
pub(crate) fn root_store(roots: &[CertificateDer<'static>]) -> RootCertStore {
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(roots.iter().cloned());
    if store.is_empty() {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    store
}

/// The HTTP client's TLS configuration.
pub(crate) fn client_config(roots: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig, rustls::Error> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(root_store(roots))
        .with_no_client_auth())
}
