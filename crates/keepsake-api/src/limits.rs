//! Size limits on every identity input the agent stores, in one place: the agent enforces them
//! (answering `input.too_long` with the limit) and the OpenAPI document states them, so input
//! valid by the document is never refused for its size.
//!
//! Lengths are in bytes of UTF-8 unless the name says `_CHARS`. Byte limits bound storage and work
//! (argon2 over a megabyte password is a denial of service); character limits are what people see.

/// Account names: 1 to 32 of `a-z 0-9 . _ -` (so bytes and characters agree).
pub const NAME_MAX: usize = 32;
/// Display names, in characters.
pub const DISPLAY_NAME_MAX_CHARS: usize = 64;
/// Passwords, in characters (the byte bound below applies too).
pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 1024;
/// Passwords in bytes: checked before any hashing, so argon2's work is bounded.
pub const PASSWORD_MAX_BYTES: usize = 4096;
/// A TOTP or recovery code as typed (spaces and dashes allowed).
pub const CODE_MAX: usize = 32;
/// Passkey names, in characters.
pub const PASSKEY_NAME_MAX_CHARS: usize = 64;
/// Group names, in characters.
pub const GROUP_NAME_MAX_CHARS: usize = 64;
/// Permissions one group may list (there are fewer grantable permissions than this).
pub const GROUP_PERMISSIONS_MAX: usize = 64;
/// Groups one user may be in.
pub const USER_GROUPS_MAX: usize = 64;
/// Secret values, in bytes.
pub const SECRET_VALUE_MAX: usize = 64 * 1024;
/// Secret names, in bytes.
pub const SECRET_NAME_MAX: usize = 64;
/// The client's User-Agent as recorded with a session; longer ones are cut, not refused.
pub const USER_AGENT_MAX: usize = 200;
/// The client's address as recorded (an IPv6 address with zone fits); longer ones are cut.
pub const ADDRESS_MAX: usize = 64;
/// A claimed name recorded for a caller who is not (yet) known, e.g. the audit actor of a failed
/// sign-in; longer claims are cut to this and marked with `…`.
pub const CLAIMED_NAME_MAX: usize = 64;
/// WebAuthn ceremony ids (ours are 43 characters).
pub const CEREMONY_ID_MAX: usize = 64;
/// Rows of sign-in backoff bookkeeping kept; beyond this the oldest unlocked entries are dropped.
pub const BACKOFF_ROWS_MAX: usize = 10_000;
/// Audit fields as recorded; longer values are cut (see [`truncate_for_record`]), never refused,
/// so an oversized request is still audited.
pub const AUDIT_ACTOR_MAX: usize = 64;
pub const AUDIT_WORD_MAX: usize = 64;
pub const AUDIT_SOURCE_MAX: usize = 128;
pub const AUDIT_TARGET_MAX: usize = 512;
pub const AUDIT_DETAIL_MAX: usize = 2048;

/// Cuts `value` to at most `max` bytes on a character boundary, marking the cut with `…`, and
/// replaces control characters with `?`: for recording what a caller sent or claimed (an audit
/// actor, a user agent) without letting them choose its size or inject lines.
pub fn truncate_for_record(value: &str, max: usize) -> String {
    let clean = |s: &str| s.chars().map(|c| if c.is_control() { '?' } else { c }).collect::<String>();
    if value.len() <= max {
        return clean(value);
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", clean(&value[..end]))
}

// Patterns and character counts the wire types state in the OpenAPI document. JSON Schema counts
// characters, not bytes, so a field limited in bytes here is documented either as ASCII (where a
// character is a byte) or with a character limit small enough that any text within it fits.

/// An Immich release: `v3.2.2` (the `v` optional, a pre-release suffix allowed).
pub const IMMICH_VERSION_PATTERN: &str = "^v?[0-9]{1,5}\\.[0-9]{1,5}\\.[0-9]{1,5}(-[0-9A-Za-z.-]{1,32})?$";

/// Account names as created: 1 to 32 lowercase letters, digits, dots, dashes or underscores.
pub const ACCOUNT_NAME_PATTERN: &str = "^[a-z0-9][a-z0-9._-]{0,31}$";
/// Printable ASCII only: names claimed at sign-in, codes and ceremony ids.
pub const ASCII_PATTERN: &str = "^[\\x20-\\x7e]*$";
/// Labels people give (display, group and passkey names): no control characters (Unicode's Cc:
/// U+0000-U+001F and U+007F-U+009F), written as ranges because JSON Schema's regular expressions
/// (ECMA-262 without the `u` flag) have no `\p{..}` classes.
pub const NO_CONTROL_PATTERN: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*$";
/// Labels that must also show something: at least one visible character.
pub const VISIBLE_PATTERN: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x1f\\x7f-\\x9f\\s][^\\x00-\\x1f\\x7f-\\x9f]*$";
/// Secret values, in characters: at four bytes a character this stays within [`SECRET_VALUE_MAX`].
pub const SECRET_VALUE_MAX_CHARS: usize = SECRET_VALUE_MAX / 4;

// Alerts and notifications.

/// Channel names, in characters.
pub const CHANNEL_NAME_MAX_CHARS: usize = 64;
/// Recipients of one email channel.
pub const CHANNEL_RECIPIENTS_MAX: usize = 10;
/// A channel's secret (an SMTP password, a token, a webhook address), in characters.
pub const CHANNEL_SECRET_MAX_CHARS: usize = 2048;
/// Email addresses (RFC 5321's path limit).
pub const EMAIL_MAX: usize = 254;
/// An address as `local@domain` in printable ASCII with no spaces, `<`, `>`, `,` or `;`, so it
/// cannot smuggle a second recipient or a header; the agent parses it properly as well.
pub const EMAIL_PATTERN: &str = "^[!#-+\\-9=?A-Z^-~.]+@[A-Za-z0-9.\\[\\]:-]+$";
/// An address or nothing (to remove one).
pub const EMAIL_OR_EMPTY_PATTERN: &str = "^$|^[!#-+\\-9=?A-Z^-~.]+@[A-Za-z0-9.\\[\\]:-]+$";
/// Host names as DNS allows them.
pub const HOSTNAME_MAX: usize = 253;
/// Host names or IP addresses (an IPv6 address in brackets).
pub const HOSTNAME_PATTERN: &str = "^[A-Za-z0-9._:\\[\\]-]+$";
/// Addresses of webhooks and ntfy servers.
pub const URL_MAX: usize = 2048;
/// `http://` or `https://` and printable ASCII.
pub const URL_PATTERN: &str = "^https?://[\\x21-\\x7e]+$";
/// ntfy topics as ntfy accepts them.
pub const NTFY_TOPIC_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";
/// A certificate authority in PEM, in characters.
pub const PEM_MAX_CHARS: usize = 16 * 1024;
/// SMTP user names, in characters.
pub const SMTP_USERNAME_MAX_CHARS: usize = 256;
/// A webhook's body template, in characters.
pub const TEMPLATE_MAX_CHARS: usize = 8192;
/// Rule ids and alert subjects as filters, in characters.
pub const ALERT_SUBJECT_MAX_CHARS: usize = 128;
/// A password-reset token: 32 random bytes in unpadded base64url.
pub const RESET_TOKEN_PATTERN: &str = "^[A-Za-z0-9_-]{43}$";

/// Whether `s` is an address [`EMAIL_PATTERN`] accepts, within [`EMAIL_MAX`]: the same check in
/// code, for the places that take an address outside a documented body.
pub fn is_plausible_email(s: &str) -> bool {
    let local_ok =
        |c: char| c.is_ascii_graphic() && !matches!(c, '"' | ',' | ':' | ';' | '<' | '>' | '@' | '[' | '\\' | ']');
    let domain_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | ':' | '-');
    match s.split_once('@') {
        Some((local, domain)) if s.len() <= EMAIL_MAX => {
            !local.is_empty() && !domain.is_empty() && local.chars().all(local_ok) && domain.chars().all(domain_ok)
        }
        _ => false,
    }
}

/// The phrases typed to confirm a reset and its undo.
pub const CONFIRM_RESET: &str = "reset everything";
pub const CONFIRM_UNDO_RESET: &str = "undo reset";
/// The phrase typed to confirm a restore (the plan names it too).
pub const CONFIRM_RESTORE: &str = "restore";

/// A restore point's note, in characters.
pub const RESTORE_NOTE_MAX_CHARS: usize = 200;
/// Files or folders chosen in one file restore.
pub const RESTORE_PATHS_MAX: usize = 100;
/// One path inside the library, in bytes of UTF-8 (Linux's PATH_MAX).
pub const RESTORE_PATH_MAX: usize = 4096;
/// A relative path: no leading `/`, no control character. (`.`, `..` and empty segments are refused
/// by the agent, with `restore.bad_path`.)
pub const RESTORE_PATH_PATTERN: &str = "^[^/\\x00-\\x1f\\x7f][^\\x00-\\x1f\\x7f]*$";
/// A folder to list: empty, or a relative path as above.
pub const RESTORE_FOLDER_PATTERN: &str = "^$|^[^/\\x00-\\x1f\\x7f][^\\x00-\\x1f\\x7f]*$";
/// Entries listed from one folder of a snapshot.
pub const RESTORE_LIST_MAX: usize = 2000;
/// A filesystem UUID as udev reports it: exFAT and FAT `ABCD-1234`, ext4 and others the long form.
pub const DRIVE_UUID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9-]{3,63}$";
/// A backup drive's name, in characters.
pub const DRIVE_NAME_MAX_CHARS: usize = 64;
/// An exFAT volume label holds 11 UTF-16 units.
pub const DRIVE_LABEL_MAX_CHARS: usize = 11;
/// The phrase that confirms formatting a device that holds data starts with this, then the
/// device's label (or its kernel name when it has none).
pub const CONFIRM_FORMAT_PREFIX: &str = "erase ";
/// Days deleted files stay set aside on a drive, at most.
pub const KEEP_DELETED_DAYS_MAX: u32 = 3650;
/// The configuration bundle's passphrase, in characters.
pub const PASSPHRASE_MIN_CHARS: usize = 12;
pub const PASSPHRASE_MAX_CHARS: usize = 256;
/// A retention count (restic allows any; a bound keeps the arithmetic and the table small).
pub const RETENTION_COUNT_MAX: u32 = 10_000;
/// Safety points are kept at most this many days.
pub const RETENTION_WITHIN_DAYS_MAX: u32 = 3650;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_check_agrees_with_the_documented_pattern() {
        let re = regex_lite_match;
        for s in ["anna@example.org", "a.b+c@mail.example", "x@[127.0.0.1]", "o'neil@example.org"] {
            assert!(is_plausible_email(s), "{s}");
            assert!(re(s), "{s}");
        }
        for s in ["", "anna", "@example.org", "anna@", "a b@example.org", "a<b@x", "a@b@c", "a,b@x", "a@x y", "a\nb@x"]
        {
            assert!(!is_plausible_email(s), "{s:?}");
        }
        assert!(!is_plausible_email(&format!("{}@x.org", "a".repeat(EMAIL_MAX))));
    }

    /// EMAIL_PATTERN's classes, spelled out, so the test checks the pattern's meaning, not a copy.
    fn regex_lite_match(s: &str) -> bool {
        assert_eq!(EMAIL_PATTERN, "^[!#-+\\-9=?A-Z^-~.]+@[A-Za-z0-9.\\[\\]:-]+$");
        let local = |c: char| {
            c == '!'
                || ('#'..='+').contains(&c)
                || ('-'..='9').contains(&c)
                || c == '='
                || c == '?'
                || c.is_ascii_uppercase()
                || ('^'..='~').contains(&c)
                || c == '.'
        };
        let domain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | ':' | '-');
        s.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && l.chars().all(local) && d.chars().all(domain))
    }

    #[test]
    fn truncation_is_bounded_on_a_character_boundary_and_defuses_control_characters() {
        assert_eq!(truncate_for_record("anna", 64), "anna");
        assert_eq!(truncate_for_record("a\nb", 64), "a?b");
        let long = "é".repeat(1000);
        let t = truncate_for_record(&long, 64);
        assert!(t.len() <= 64, "{}", t.len());
        assert!(t.ends_with('…'));
    }
}
