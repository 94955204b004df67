//! Password hashing (argon2id) and the password rules.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use super::AuthError;

pub use keepsake_api::limits::{
    PASSWORD_MAX_BYTES, PASSWORD_MAX_CHARS as MAX_LENGTH, PASSWORD_MIN_CHARS as MIN_LENGTH,
};

/// Refuses a password too big to hash cheaply. Every path that hashes or verifies a caller's
/// password checks this first: argon2 over a megabyte is a denial of service.
pub fn check_size(password: &str) -> Result<(), AuthError> {
    super::check_bytes("the password", password, PASSWORD_MAX_BYTES)?;
    super::check_chars("the password", password, MAX_LENGTH)
}

/// Checks a new password against the rules; the message says what to change.
pub fn check_rules(password: &str, name: &str) -> Result<(), AuthError> {
    check_size(password)?;
    if password.chars().count() < MIN_LENGTH {
        return Err(AuthError::bad_request(
            "password.too_short",
            format!("the password is too short: use at least {MIN_LENGTH} characters (a few words make a good one)"),
        ));
    }
    if password.eq_ignore_ascii_case(name) {
        return Err(AuthError::bad_request("password.is_name", "the password must not be the account name"));
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Internal(format!("cannot hash password: {e}")))
}

pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the account does not exist, so a wrong name takes as long as a
/// wrong password and timing does not reveal which names exist.
pub fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash("not-a-real-password-0123456789").expect("hashing works"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_argon2id_and_verifies() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn rules_say_what_is_wrong() {
        assert!(check_rules("short", "alice").unwrap_err().to_string().contains("at least 10"));
        assert!(check_rules("Alice12345", "alice12345").is_err());
        assert!(check_rules("a good long passphrase", "alice").is_ok());
        assert_eq!(check_rules(&"x".repeat(MAX_LENGTH + 1), "alice").unwrap_err().code(), "input.too_long");
        assert_eq!(check_size(&"é".repeat(PASSWORD_MAX_BYTES)).unwrap_err().code(), "input.too_long");
    }
}
