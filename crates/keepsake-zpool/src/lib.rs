//! Reading what ZFS's commands print: `zpool status` ([`parse_status`]) and `zfs list -H -o
//! name,used,avail` ([`parse_list`]), as OpenZFS 2.x (NixOS) and zfs-fuse 0.7 (the test lab) print
//! them.
//!
//! This crate takes text and returns types. It does not run commands (the caller runs them, with
//! its own timeouts, and passes their output), and knows nothing of the agent, its store, its
//! events or alerts: deciding what a pool's state means is the caller's job. Bad input is a
//! [`ParseError`] naming the line, never a panic.
//!
//! Numbers: ZFS prints exact integers with `-p` and abbreviations otherwise (`1.2K`, `1.50G`);
//! both are read, and each result says whether it was exact. zfs-fuse 0.7 has no `-p` for either
//! command.

mod list;
mod number;
mod status;

pub use list::{DatasetSpace, free_percent, parse_list};
pub use number::Number;
pub use status::{Counters, DataErrors, PoolStatus, Section, State, Vdev, parse_status};

/// Why some output could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A line that does not fit where it is.
    #[error("line {line}: {what}: {text:?}")]
    Line { line: usize, what: &'static str, text: String },
    /// A pool's block ended without something it must have.
    #[error("pool {pool}: {what}")]
    Incomplete { pool: String, what: &'static str },
}

impl ParseError {
    /// Longest piece of the offending line kept in the error.
    const MAX_TEXT: usize = 120;

    pub(crate) fn at(line: usize, what: &'static str, text: &str) -> ParseError {
        let text = match text.char_indices().nth(Self::MAX_TEXT) {
            Some((cut, _)) => format!("{}...", &text[..cut]),
            None => text.to_owned(),
        };
        ParseError::Line { line, what, text }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_bad_line_is_shortened_in_the_error() {
        let err = parse_list(&"x".repeat(10_000)).unwrap_err().to_string();
        assert!(err.len() < 300, "{err}");
        assert!(err.ends_with("...\""), "{err}");
    }
}
