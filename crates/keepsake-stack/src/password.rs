//! The database password: generated from the OS random source, and the rule it must obey.
//!
//! Immich's example.env says only A-Za-z0-9 may be used (other characters break the
//! connection URL the server builds), so generation draws from exactly those 62 characters.

use thiserror::Error;

/// The shortest password `build` accepts. 16 alphanumeric characters carry ~95 bits.
pub const MIN_DB_PASSWORD_LEN: usize = 16;

/// The length `generate_db_password` produces (~190 bits).
pub const GENERATED_DB_PASSWORD_LEN: usize = 32;

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The OS random source failed.
#[derive(Debug, Error)]
#[error(
    "could not read the operating system's random source to make a database password: {0}; \
     check that /dev/urandom (or getrandom(2)) is available to this process"
)]
pub struct PasswordError(String);

/// 32 characters from A-Za-z0-9, drawn from the OS random source without modulo bias.
pub fn try_generate_db_password() -> Result<String, PasswordError> {
    let mut out = String::with_capacity(GENERATED_DB_PASSWORD_LEN);
    let mut buf = [0u8; 64];
    while out.len() < GENERATED_DB_PASSWORD_LEN {
        getrandom::fill(&mut buf).map_err(|e| PasswordError(e.to_string()))?;
        for &b in &buf {
            // 248 = 4 * 62: bytes at or above it would favour the first characters.
            if b < 248 && out.len() < GENERATED_DB_PASSWORD_LEN {
                out.push(ALPHABET[usize::from(b % 62)] as char);
            }
        }
    }
    Ok(out)
}

/// Like [`try_generate_db_password`], for callers that cannot go on without randomness.
///
/// # Panics
/// When the OS random source fails, which on Linux means the process cannot make any secret.
pub fn generate_db_password() -> String {
    match try_generate_db_password() {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// True when `s` is at least [`MIN_DB_PASSWORD_LEN`] characters, all from A-Za-z0-9.
pub fn valid_db_password(s: &str) -> bool {
    s.len() >= MIN_DB_PASSWORD_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_passwords_are_valid_and_differ() {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let p = generate_db_password();
            assert_eq!(p.len(), GENERATED_DB_PASSWORD_LEN);
            assert!(valid_db_password(&p), "{p}");
            assert!(seen.insert(p), "a repeated password");
        }
    }

    #[test]
    fn generated_passwords_use_the_whole_alphabet() {
        // 200 * 32 draws: every one of the 62 characters appears unless generation is broken
        // (chance of a miss per character ~ e^-103).
        let all: String = (0..200).map(|_| generate_db_password()).collect();
        for &c in ALPHABET {
            assert!(all.as_bytes().contains(&c), "{} never drawn", c as char);
        }
    }

    #[test]
    fn validity_rule() {
        let cases = [
            ("abcdefghijklmnop", true),
            ("ABCDEFGH12345678", true),
            ("abcdefghijklmno", false),  // 15
            ("abcdefghijklmno!", false), // symbol
            ("abcdefghijklmnö1", false), // non-ASCII
            ("abcdefgh ijklmnop", false),
            ("", false),
        ];
        for (p, ok) in cases {
            assert_eq!(valid_db_password(p), ok, "{p:?}");
        }
    }
}
