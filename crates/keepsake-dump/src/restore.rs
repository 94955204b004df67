//! Reading a dump back for a restore: decompress it (zstd, gzip or plain, by its first bytes) and
//! apply Immich's `search_path` fix, as one async byte stream to copy into psql's stdin.
//!
//! pg_dump makes every session it restores start with an empty `search_path`; Immich's functions
//! and extensions expect `public`, so Immich's documented restore pipes the dump through
//! `sed "s/SELECT pg_catalog.set_config('search_path', '', false);/SELECT
//! pg_catalog.set_config('search_path', 'public, pg_catalog', true);/g"`. [`SearchPathFix`] does
//! the same, stricter: only a line that is exactly [`SEARCH_PATH_LINE`], outside table data, is
//! replaced, so the same text inside a longer line or as a row of COPY data is left alone.
//!
//! The fixed line sets the path for the current transaction only (`true`): feed the stream to
//! `psql --single-transaction --set ON_ERROR_STOP=on`, as Immich does, or it has no effect.
//!
//! The work runs on one thread of Tokio's blocking pool that reads the file, decompresses, fixes
//! and sends chunks down a bounded channel; [`RestoreStream`] reads them. Dropping the stream stops
//! the thread. Memory stays at a few chunks whatever the dump's size.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

use crate::{Compression, DumpError};

/// The line pg_dump writes near the top of a dump (pg_dumpall: of each database in it).
pub const SEARCH_PATH_LINE: &str = "SELECT pg_catalog.set_config('search_path', '', false);";
/// What Immich's restore instructions replace it with.
pub const SEARCH_PATH_FIXED: &str = "SELECT pg_catalog.set_config('search_path', 'public, pg_catalog', true);";

const CHUNK: usize = 1 << 20;
const DEPTH: usize = 4;

/// Rewrites whole lines equal to [`SEARCH_PATH_LINE`] into [`SEARCH_PATH_FIXED`] in a byte stream
/// fed in pieces of any size; everything else passes unchanged. A line is the bytes between two
/// `\n` (or the start or end of the stream); a line split across pieces is still recognised.
///
/// Lines of table data are never rewritten: from a `COPY … FROM stdin;` line to the `\.` line that
/// ends its data, lines are rows (a one-column text table may well hold that exact text). Outside
/// them only statements remain; the line could then hide only inside a multi-line string or
/// function body of the schema itself, where Immich's `sed` would rewrite it too.
#[derive(Debug, Clone, Default)]
pub struct SearchPathFix {
    /// The start of the current line, while it is too short to classify.
    head: Vec<u8>,
    /// Copying the rest of a classified line through to its `\n`.
    passing: bool,
    /// The line being passed through is a `COPY` statement: its last bytes, to see `FROM stdin;`.
    copy_stmt: Option<Vec<u8>>,
    /// Inside the data of a `COPY … FROM stdin;`.
    in_copy: bool,
    replaced: u64,
}

const COPY_PREFIX: &[u8] = b"COPY ";
const COPY_SUFFIX: &[u8] = b" FROM stdin;";
const COPY_END: &[u8] = b"\\.";

impl SearchPathFix {
    pub fn new() -> SearchPathFix {
        SearchPathFix::default()
    }

    /// Appends the fixed form of `input` to `out`. The first bytes of a line may be held back until
    /// the next piece (or [`finish`](Self::finish)) shows whether the line is the one to rewrite.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + 32);
        while !input.is_empty() {
            if self.passing {
                let (seg, ended) = match memchr::memchr(b'\n', input) {
                    Some(i) => (&input[..=i], true),
                    None => (input, false),
                };
                out.extend_from_slice(seg);
                input = &input[seg.len()..];
                if let Some(tail) = &mut self.copy_stmt {
                    keep_tail(tail, seg);
                }
                if ended {
                    self.passing = false;
                    if let Some(tail) = self.copy_stmt.take() {
                        self.in_copy = tail[..tail.len() - 1].ends_with(COPY_SUFFIX);
                    }
                }
                continue;
            }
            // Classifying: gather up to one byte more than the longest whole line we look for.
            let limit = if self.in_copy { COPY_END.len() + 1 } else { SEARCH_PATH_LINE.len() + 1 };
            let take = (limit - self.head.len()).min(input.len());
            if let Some(i) = memchr::memchr(b'\n', &input[..take]) {
                self.head.extend_from_slice(&input[..i]);
                input = &input[i + 1..];
                self.whole_line(out);
                out.push(b'\n');
            } else {
                self.head.extend_from_slice(&input[..take]);
                input = &input[take..];
                if self.head.len() == limit {
                    // Longer than any line to rewrite: pass the rest through.
                    if !self.in_copy && self.head.starts_with(COPY_PREFIX) {
                        let mut tail = Vec::new();
                        keep_tail(&mut tail, &self.head);
                        self.copy_stmt = Some(tail);
                    }
                    out.extend_from_slice(&self.head);
                    self.head.clear();
                    self.passing = true;
                }
            }
        }
    }

    /// A complete short line (without its `\n`) is in `head`: write it, fixed or not.
    fn whole_line(&mut self, out: &mut Vec<u8>) {
        let line = &self.head[..];
        if self.in_copy {
            self.in_copy = line != COPY_END;
            out.extend_from_slice(line);
        } else if line == SEARCH_PATH_LINE.as_bytes() {
            out.extend_from_slice(SEARCH_PATH_FIXED.as_bytes());
            self.replaced += 1;
        } else {
            self.in_copy = line.starts_with(COPY_PREFIX) && line.ends_with(COPY_SUFFIX);
            out.extend_from_slice(line);
        }
        self.head.clear();
    }

    /// Ends the stream: a held-back last line (one with no `\n` after it) is written, fixed if
    /// it is the line to rewrite.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.passing && !self.head.is_empty() {
            self.whole_line(out);
        }
        *self = SearchPathFix { replaced: self.replaced, ..SearchPathFix::default() };
    }

    /// How many lines were rewritten so far.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }
}

/// Keeps the last `COPY_SUFFIX.len() + 1` bytes seen (the `+ 1` for the `\n`).
fn keep_tail(tail: &mut Vec<u8>, seg: &[u8]) {
    let n = COPY_SUFFIX.len() + 1;
    tail.extend_from_slice(&seg[seg.len().saturating_sub(n)..]);
    let extra = tail.len().saturating_sub(n);
    tail.drain(..extra);
}

/// Live counters of a restore, readable from any task while the stream is being read.
#[derive(Debug, Clone, Default)]
pub struct RestoreProgress {
    file: Arc<AtomicU64>,
    sql: Arc<AtomicU64>,
}

impl RestoreProgress {
    /// Bytes of the dump file read so far; against the file's size, this is the progress.
    pub fn file_bytes(&self) -> u64 {
        self.file.load(Ordering::Relaxed)
    }

    /// Bytes of SQL handed to the reader so far.
    pub fn sql_bytes(&self) -> u64 {
        self.sql.load(Ordering::Relaxed)
    }
}

enum Msg {
    Data(Bytes),
    End,
    Failed(io::Error),
}

/// The SQL of a dump, decompressed and fixed; read it to the end (with `tokio::io::copy` into
/// psql's stdin, say). A damaged file makes a read fail with an `io::Error` wrapping
/// [`DumpError::Decompress`] or [`DumpError::Read`] (see [`DumpError::from_io`]).
pub struct RestoreStream {
    rx: mpsc::Receiver<Msg>,
    current: Bytes,
    done: bool,
    compression: Compression,
    progress: RestoreProgress,
}

impl RestoreStream {
    /// How the file is compressed, from its first bytes.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// A handle on the counters, to read while the stream is being copied elsewhere.
    pub fn progress(&self) -> RestoreProgress {
        self.progress.clone()
    }
}

impl AsyncRead for RestoreStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.current.is_empty() {
                let n = this.current.len().min(buf.remaining());
                buf.put_slice(&this.current[..n]);
                this.current.advance(n);
                this.progress.sql.fetch_add(n as u64, Ordering::Relaxed);
                return Poll::Ready(Ok(()));
            }
            if this.done || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            match ready!(this.rx.poll_recv(cx)) {
                Some(Msg::Data(b)) => this.current = b,
                Some(Msg::End) => this.done = true,
                Some(Msg::Failed(e)) => {
                    this.done = true;
                    return Poll::Ready(Err(e));
                }
                None => {
                    this.done = true;
                    let e = DumpError::Internal { task: "restore", detail: "the reading thread ended early".into() };
                    return Poll::Ready(Err(io::Error::other(e)));
                }
            }
        }
    }
}

/// Opens the dump at `path` for a restore. The compression is read from the file's first bytes
/// (zstd and gzip magic numbers; anything else is plain SQL), not from its name. Opening errors
/// come here; errors further into the file come from the stream's reads.
///
/// Check the file with [`verify`](crate::verify) first: a flipped byte in a gzip file may only
/// show at its very end, after psql has run most of the SQL.
pub async fn restore_stream(path: &Path) -> Result<RestoreStream, DumpError> {
    let path = path.to_owned();
    let progress = RestoreProgress::default();
    let file_counter = progress.file.clone();
    let opened = tokio::task::spawn_blocking(move || {
        let read_err = |source| DumpError::Read { path: path.clone(), source };
        // Never through a symbolic link: a dump folder another process can write to (Immich's
        // `backups/`) must not lead the reader to a file outside it.
        let opened = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&path);
        let mut file = BufReader::with_capacity(CHUNK, opened.map_err(read_err)?);
        let compression = Compression::sniff(file.fill_buf().map_err(read_err)?);
        Ok::<_, DumpError>((path, file, compression))
    })
    .await
    .map_err(|e| DumpError::Internal { task: "restore", detail: e.to_string() })?;
    let (path, file, compression) = opened?;
    let (tx, rx) = mpsc::channel(DEPTH);
    let counting = Counting { inner: file, count: file_counter };
    tokio::task::spawn_blocking(move || pump(path, counting, compression, tx));
    Ok(RestoreStream { rx, current: Bytes::new(), done: false, compression, progress })
}

/// The restore thread: read, decompress, fix, send; stops when the receiver is gone.
fn pump(path: PathBuf, file: Counting<BufReader<File>>, compression: Compression, tx: mpsc::Sender<Msg>) {
    let decoded: io::Result<Box<dyn Read>> = match compression {
        Compression::Zstd => zstd::Decoder::with_buffer(file).map(|d| Box::new(d) as Box<dyn Read>),
        Compression::Gzip => Ok(Box::new(flate2::bufread::MultiGzDecoder::new(file))),
        Compression::None => Ok(Box::new(file)),
    };
    let fail = |e: io::Error| {
        let err = match compression {
            Compression::None => DumpError::Read { path: path.clone(), source: e },
            _ => DumpError::Decompress { path: path.clone(), compression, source: e },
        };
        let _ = tx.blocking_send(Msg::Failed(io::Error::other(err)));
    };
    let mut reader = match decoded {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut fix = SearchPathFix::new();
    let mut buf = vec![0; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return fail(e),
        };
        let mut out = Vec::with_capacity(n + 256);
        if n == 0 {
            fix.finish(&mut out);
        } else {
            fix.push(&buf[..n], &mut out);
        }
        if !out.is_empty() && tx.blocking_send(Msg::Data(out.into())).is_err() {
            return; // The stream was dropped.
        }
        if n == 0 {
            let _ = tx.blocking_send(Msg::End);
            return;
        }
    }
}

struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
        self.count.fetch_add(amt as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use tokio::io::AsyncReadExt;

    use super::*;

    /// What the fix must do, written the obvious way: split into lines, replace whole matches
    /// outside COPY data.
    fn reference(input: &[u8]) -> Vec<u8> {
        let mut in_copy = false;
        let mut fixed: Vec<&[u8]> = Vec::new();
        for line in input.split(|&b| b == b'\n') {
            if in_copy {
                in_copy = line != b"\\.";
                fixed.push(line);
            } else if line == SEARCH_PATH_LINE.as_bytes() {
                fixed.push(SEARCH_PATH_FIXED.as_bytes());
            } else {
                in_copy = line.starts_with(b"COPY ") && line.ends_with(b" FROM stdin;");
                fixed.push(line);
            }
        }
        fixed.join(&b'\n')
    }

    fn run(pieces: &[&[u8]]) -> (Vec<u8>, u64) {
        let mut fix = SearchPathFix::new();
        let mut out = Vec::new();
        for p in pieces {
            fix.push(p, &mut out);
        }
        fix.finish(&mut out);
        (out, fix.replaced())
    }

    fn sample() -> Vec<u8> {
        let l = SEARCH_PATH_LINE;
        let near = &l[..10];
        let long_copy = "COPY public.assets (id, \"ownerId\", \"originalPath\", \"fileCreatedAt\") FROM stdin;";
        format!(
            "{l}\n--\n-- comment\n{l}\nSELECT 'x{l}';\n {l}\n{l} \n{l}{l}\n\
             SELECT pg_catalog.set_config('search_path', '', true);\n\
             SELECT pg_catalog.set_config('search_path', '',\n\n\n{near}\n\
             COPY t (a) FROM stdin;\n{l}\n1\\n{l}\n\\.\n{l}\n\
             {long_copy}\n{l}\n\\.x\n\\.\n\
             COPY t (a) FROM stdin;\n\\.\n\
             COPY x FROM stdin; -- not data\n{l}\n{l}"
        )
        .into_bytes()
    }

    #[test]
    fn rewrites_only_whole_lines() {
        let input = sample();
        let (out, replaced) = run(&[&input]);
        assert_eq!(String::from_utf8(out.clone()).unwrap(), String::from_utf8(reference(&input)).unwrap());
        // Lines 1 and 4, the line after the first COPY block, and the two lines after a comment
        // that only looks like COPY (the last with no newline); nothing inside other lines or
        // inside COPY data.
        assert_eq!(replaced, 5);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(&format!("{SEARCH_PATH_FIXED}\n")));
        assert!(text.ends_with(&format!("\n{SEARCH_PATH_FIXED}")));
        assert!(text.contains(&format!("SELECT 'x{SEARCH_PATH_LINE}';\n")));
        assert!(text.contains(&format!("\n {SEARCH_PATH_LINE}\n{SEARCH_PATH_LINE} \n")));
        assert!(text.contains(&format!("COPY t (a) FROM stdin;\n{SEARCH_PATH_LINE}\n")));
        assert!(text.contains(&format!("FROM stdin;\n{SEARCH_PATH_LINE}\n\\.x\n")));
        assert!(text.contains(&format!("\n\\.\n{SEARCH_PATH_FIXED}\nCOPY public.assets")));
    }

    #[test]
    fn finds_lines_split_across_buffers_at_every_point() {
        let input = sample();
        let want = reference(&input);
        for cut in 0..=input.len() {
            let (out, _) = run(&[&input[..cut], &input[cut..]]);
            assert_eq!(out, want, "split at {cut}");
        }
        for size in [1, 2, 3, 4, 7, 11, 12, 13, 55, 56, 57, 64] {
            let pieces: Vec<&[u8]> = input.chunks(size).collect();
            assert_eq!(run(&pieces).0, want, "pieces of {size}");
        }
    }

    #[test]
    fn edge_inputs() {
        assert_eq!(run(&[]).0, b"");
        assert_eq!(run(&[b"\n\n"]).0, b"\n\n");
        let l = SEARCH_PATH_LINE.as_bytes();
        assert_eq!(run(&[&l[..5]]).0, &l[..5]);
        assert_eq!(run(&[l]).0, SEARCH_PATH_FIXED.as_bytes());
        assert_eq!(run(&[b"SELECT", b"\n"]).0, b"SELECT\n");
        // Bytes that are not UTF-8 pass untouched.
        assert_eq!(run(&[b"\xff\xfe\n\x00"]).0, b"\xff\xfe\n\x00");
    }

    async fn read_all(path: &Path) -> io::Result<(Vec<u8>, Compression, RestoreProgress)> {
        let mut s = restore_stream(path).await.map_err(io::Error::other)?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok((out, s.compression(), s.progress()))
    }

    #[tokio::test]
    async fn reads_zstd_gzip_and_plain_with_the_fix_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut sql = sample();
        for i in 0..100_000 {
            writeln!(sql, "INSERT INTO t VALUES ({i});").unwrap();
        }
        sql.extend_from_slice(format!("\n{SEARCH_PATH_LINE}\n").as_bytes());
        let want = reference(&sql);

        let zst = dir.path().join("a.sql.zst");
        std::fs::write(&zst, zstd::encode_all(&sql[..], 3).unwrap()).unwrap();
        let gz = dir.path().join("a.sql.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&sql).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let plain = dir.path().join("a.sql");
        std::fs::write(&plain, &sql).unwrap();

        for (path, compression) in [(zst, Compression::Zstd), (gz, Compression::Gzip), (plain, Compression::None)] {
            let (out, c, progress) = read_all(&path).await.unwrap();
            assert_eq!(c, compression);
            assert!(out == want, "{compression}: output differs");
            assert_eq!(progress.file_bytes(), std::fs::metadata(&path).unwrap().len(), "{compression}");
            assert_eq!(progress.sql_bytes(), want.len() as u64);
        }
    }

    #[tokio::test]
    async fn a_symbolic_link_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, b"root only\n").unwrap();
        let link = dir.path().join("immich-db-backup-20260101T000000-v2.5.0-pg16.1.sql");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let err = restore_stream(&link).await.err().expect("a link is refused");
        assert!(matches!(err, DumpError::Read { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn truncated_or_missing_files_fail_the_read() {
        let dir = tempfile::tempdir().unwrap();
        let sql: Vec<u8> = (0..50_000).flat_map(|i| format!("INSERT INTO t VALUES ({i});\n").into_bytes()).collect();
        let full = zstd::encode_all(&sql[..], 3).unwrap();
        let cut = dir.path().join("cut.sql.zst");
        std::fs::write(&cut, &full[..full.len() - 100]).unwrap();
        let err = read_all(&cut).await.unwrap_err();
        let dump = DumpError::from_io(&err).unwrap_or_else(|| panic!("{err:?}"));
        assert!(matches!(dump, DumpError::Decompress { compression: Compression::Zstd, .. }), "{dump:?}");
        assert!(err.to_string().contains("damaged or truncated"), "{err}");

        let err = restore_stream(&dir.path().join("none.sql.zst")).await.err().unwrap();
        assert!(matches!(err, DumpError::Read { .. }), "{err:?}");
    }
}
