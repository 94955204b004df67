//! Why a stack cannot be built from its settings. Each message says what is wrong, why it
//! matters and what to change.

use std::path::PathBuf;

use thiserror::Error;

/// A setting or image reference that cannot become a working Immich stack.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpecError {
    #[error(
        "the database password may only contain the letters A-Z, a-z and the digits 0-9 \
         (Immich's example.env allows nothing else, other characters break its connection string); \
         generate a new one with generate_db_password()"
    )]
    PasswordCharacters,

    #[error(
        "the database password has {len} characters, fewer than the {min} required; \
         generate a new one with generate_db_password()"
    )]
    PasswordTooShort { len: usize, min: usize },

    #[error(
        "the {what} path {path:?} is relative; Docker would resolve it against its own working \
         directory, not ours: give an absolute path"
    )]
    RelativePath { what: &'static str, path: PathBuf },

    #[error("the {what} path {path:?} cannot be used as a bind mount: {reason}")]
    UnusablePath { what: &'static str, path: PathBuf, reason: &'static str },

    #[error(
        "{first} and {second} would both listen on 127.0.0.1:{port} (host network); \
         give each service its own port in the stack's port settings"
    )]
    PortConflict { first: &'static str, second: &'static str, port: u16 },

    #[error("the {what} port is 0; choose a port between 1 and 65535")]
    PortZero { what: &'static str },

    #[error("the image reference {reference:?} is not valid: {reason}")]
    InvalidImage { reference: String, reason: String },

    #[error("the {what} {value:?} is not valid: {reason}")]
    InvalidName { what: &'static str, value: String, reason: &'static str },
}
