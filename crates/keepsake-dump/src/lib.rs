//! Immich database dumps as files: their names, writing them, checking them and reading them back
//! for a restore.
//!
//! - [`DumpName`] formats and parses the names Immich gives its dumps
//!   (`immich-db-backup-20250729T114018-v1.136.0-pg14.17.sql.gz`, the older epoch-millisecond names,
//!   the `restore-point-` and `uploaded-` prefixes) and ours, which end in `.sql.zst`.
//! - [`write_compressed`] streams SQL (pg_dump's output) through zstd into a file, atomically, and
//!   returns its size and BLAKE3 hash ([`PartInfo`]); [`hash_file`] and [`verify`] check a file
//!   against those before anything trusts it.
//! - [`restore_stream`] reads a dump back (zstd, gzip or plain SQL) as an async byte stream with
//!   Immich's `search_path` fix applied line by line ([`SearchPathFix`]), ready to pipe into psql.
//!
//! **Architecture invariant:** this crate works on async byte streams and on file paths handed to
//! it. It knows nothing of the agent, Docker, ZFS, the store or where dumps live: the caller runs
//! pg_dump and psql (in a container or not), chooses the directory and keeps the returned size
//! and hash. Compression, decompression and hashing run on Tokio's blocking pool, never on the
//! async workers.

mod name;
mod restore;
mod write;

use std::fmt;
use std::io;
use std::path::PathBuf;

pub use name::{DumpName, NameError, is_valid_name};
pub use restore::{RestoreProgress, RestoreStream, SEARCH_PATH_FIXED, SEARCH_PATH_LINE, SearchPathFix, restore_stream};
pub use write::{PartInfo, WriteOptions, hash_file, verify, write_compressed};

/// How a dump file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// zstd (`.sql.zst`): what Keepsake writes.
    Zstd,
    /// gzip (`.sql.gz`): what Immich writes.
    Gzip,
    /// Plain SQL (`.sql`).
    None,
}

impl Compression {
    /// The file name suffix, `.sql` included.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::Zstd => ".sql.zst",
            Compression::Gzip => ".sql.gz",
            Compression::None => ".sql",
        }
    }

    /// What the first bytes of a file say it is: the zstd or gzip magic number, or plain SQL.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else {
            Compression::None
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::None => "plain SQL",
        })
    }
}

/// What is wrong with a dump file that [`verify`] rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The file does not have the size recorded when it was written.
    Size { expected: u64, actual: u64 },
    /// The size is right but the bytes are not.
    Blake3 { expected: String, actual: String },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Size { expected, actual } => {
                write!(f, "it is {actual} bytes long where {expected} were written")
            }
            Mismatch::Blake3 { expected, actual } => {
                write!(f, "its BLAKE3 hash is {actual} where {expected} was recorded")
            }
        }
    }
}

/// Why writing, checking or reading a dump failed. Each message says what failed, why, and what
/// to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The destination path has no file name (it is `/` or ends in `..`).
    #[error("cannot write a dump to {}: the path names no file; pass a path ending in the dump's file name", path.display())]
    BadDestination { path: PathBuf },

    /// The destination exists already; dumps are never overwritten.
    #[error("cannot write a dump to {}: a file of that name exists and dumps are never overwritten; choose another name (dump names carry the time to the second) or remove the old file first", path.display())]
    Exists { path: PathBuf },

    /// Reading the SQL to compress failed (the dump command's output broke off).
    #[error(
        "reading the SQL to dump failed after {bytes} bytes: {source}; nothing was kept. Check the dump command's exit status and error output"
    )]
    Input { bytes: u64, source: io::Error },

    /// The SQL to compress was empty: the dump command wrote nothing.
    #[error(
        "the SQL to dump was empty: the dump command wrote nothing; nothing was kept. Check its exit status and error output"
    )]
    EmptyInput,

    /// Creating, writing, syncing or renaming the dump file failed.
    #[error("writing {} failed: {source}; nothing was kept. Check free space and permissions in that directory", path.display())]
    Write { path: PathBuf, source: io::Error },

    /// Opening or reading an existing dump file failed.
    #[error("reading {} failed: {source}. Check that the file exists and is readable", path.display())]
    Read { path: PathBuf, source: io::Error },

    /// The file is not what was written: a different size or different bytes.
    #[error("{} is corrupt: {mismatch}. Do not restore it: use another copy of this dump", path.display())]
    Corrupt { path: PathBuf, mismatch: Mismatch },

    /// The file could not be decompressed: damaged, truncated, or not what its first bytes said.
    #[error("{} could not be read as {compression}: {source}. The file is damaged or truncated: verify it and use another copy", path.display())]
    Decompress { path: PathBuf, compression: Compression, source: io::Error },

    /// A background task panicked or vanished; a bug.
    #[error("the {task} task stopped unexpectedly ({detail}). This is a bug in keepsake-dump: please report it")]
    Internal { task: &'static str, detail: String },
}

impl DumpError {
    /// The `DumpError` inside an `io::Error` returned by [`RestoreStream`]'s reads, if there is one.
    pub fn from_io(err: &io::Error) -> Option<&DumpError> {
        err.get_ref()?.downcast_ref::<DumpError>()
    }
}
