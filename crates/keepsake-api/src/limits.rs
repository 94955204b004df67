//! Input limits the agent enforces, stated once: the wire types carry them into the OpenAPI
//! document (as `maxLength`, `pattern`, ranges), the dispatcher enforces that document, and the
//! identity code checks the same numbers again before anything is stored.

/// Account names: 1 to 32 lowercase letters, digits, dots, dashes or underscores.
pub const ACCOUNT_NAME_PATTERN: &str = "^[a-z0-9][a-z0-9._-]{0,31}$";
/// The longest name a sign-in may claim (longer ones cannot exist).
pub const LOGIN_NAME_MAX: usize = 64;
/// Display names, passkey names and group names, in characters.
pub const LABEL_MAX: usize = 64;
/// Text with at least one visible character and no control characters.
pub const LABEL_PATTERN: &str = r"^[^\p{Cc}]*[^\p{Cc}\s][^\p{Cc}]*$";
/// New passwords: at least this many characters.
pub const PASSWORD_MIN: usize = 10;
/// Passwords, in characters (argon2 on a megabyte is a denial of service).
pub const PASSWORD_MAX: usize = 256;
/// One-time codes (TOTP or recovery).
pub const CODE_MAX: usize = 64;
/// A secret's value, in characters.
pub const SECRET_MAX: usize = 8192;
/// How many groups or permissions one request may name.
pub const LIST_MAX: usize = 256;
/// Opaque WebAuthn ceremony identifiers.
pub const CEREMONY_MAX: usize = 128;
