//! TOTP (RFC 6238) second factor and one-time recovery codes.

use sha2::{Digest, Sha256};
use totp_rs::{Builder, Secret, Totp};

use super::AuthError;

const ISSUER: &str = "Keepsake";
/// Recovery codes come from an alphabet without look-alikes (no 0/o, 1/l/i).
const CODE_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

fn totp(secret: &[u8], account: &str) -> Result<Totp, AuthError> {
    Builder::new()
        .with_secret(Secret::from(secret.to_vec()))
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| AuthError::Internal(format!("cannot set up TOTP: {e}")))
}

pub fn new_secret() -> Result<Vec<u8>, AuthError> {
    let mut s = vec![0u8; 20];
    getrandom::fill(&mut s).map_err(|e| AuthError::Internal(format!("no randomness: {e}")))?;
    Ok(s)
}

/// What an authenticator app needs: the secret in base32, the otpauth:// URL and a QR code of it
/// as a PNG data URL.
pub fn enrollment(secret: &[u8], account: &str) -> Result<(String, String, String), AuthError> {
    let t = totp(secret, account)?;
    let url = t.to_url().map_err(|e| AuthError::Internal(format!("cannot make the otpauth URL: {e}")))?;
    let qr = t.to_qr_base64().map_err(|e| AuthError::Internal(format!("cannot draw the QR code: {e}")))?;
    Ok((Secret::from(secret.to_vec()).to_base32(), url, format!("data:image/png;base64,{qr}")))
}

/// Checks a 6-digit code, allowing one step of clock skew either way. Returns the time step the
/// code belongs to, so the caller can refuse a second use of it.
pub fn check(secret: &[u8], account: &str, code: &str) -> Result<Option<u64>, AuthError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Ok(None);
    }
    Ok(totp(secret, account)?.check_current(&code))
}

/// The current code, for tests and the root console.
pub fn current(secret: &[u8], account: &str) -> Result<String, AuthError> {
    Ok(totp(secret, account)?.generate_current().to_string())
}

/// The code of the next 30-second step: still accepted now (one step of skew), and not a replay of
/// the current one. For tests that use two codes in a row.
pub fn next(secret: &[u8], account: &str) -> Result<String, AuthError> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    Ok(totp(secret, account)?.generate(now + 30).to_string())
}

/// Ten fresh recovery codes like `k7m2-x9qa`.
pub fn recovery_codes() -> Result<Vec<String>, AuthError> {
    (0..10)
        .map(|_| {
            let mut raw = [0u8; 8];
            getrandom::fill(&mut raw).map_err(|e| AuthError::Internal(format!("no randomness: {e}")))?;
            let s: String = raw.iter().map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char).collect();
            Ok(format!("{}-{}", &s[..4], &s[4..]))
        })
        .collect()
}

/// Recovery codes are stored hashed, compared case- and dash-insensitively.
pub fn hash_recovery_code(code: &str) -> String {
    let norm: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    Sha256::digest(norm.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_code_checks_and_others_do_not() {
        let s = new_secret().unwrap();
        let code = current(&s, "alice").unwrap();
        assert!(check(&s, "alice", &code).unwrap().is_some());
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 500_000) % 1_000_000);
        assert!(check(&s, "alice", &wrong).unwrap().is_none());
        assert!(check(&s, "alice", "abcdef").unwrap().is_none());
    }

    #[test]
    fn enrollment_has_an_otpauth_url_and_a_png() {
        let (b32, url, qr) = enrollment(&new_secret().unwrap(), "alice").unwrap();
        assert!(url.starts_with("otpauth://totp/Keepsake:alice?"));
        assert!(url.contains(&b32));
        assert!(qr.starts_with("data:image/png;base64,"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_loosely() {
        let codes = recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes.iter().collect::<std::collections::HashSet<_>>().len(), 10);
        assert_eq!(hash_recovery_code(&codes[0]), hash_recovery_code(&codes[0].to_uppercase().replace('-', "")));
    }
}
