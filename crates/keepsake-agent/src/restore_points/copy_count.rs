//! Counts the rows each `COPY … FROM stdin;` block of a plain SQL dump carries, as the dump streams
//! past on its way into psql, so a restore can check that every table got every row without
//! reading the dump twice.
//!
//! Only line starts matter: a line is either data inside a COPY block (one row; `\.` ends the
//! block) or, outside one, possibly a `COPY` header. Rows can be megabytes long (bytea), so only
//! the first [`HEADER_MAX`] bytes of a line are kept.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// The longest COPY header looked at (Immich's widest table lists about forty columns).
const HEADER_MAX: usize = 64 * 1024;

/// Rows per table (`public.asset`), as the dump's COPY blocks carry them.
pub type Counts = Arc<Mutex<BTreeMap<String, u64>>>;

/// The line-scanning state, separate from IO so it can be tested.
#[derive(Default)]
pub struct Scanner {
    line: Vec<u8>,
    truncated: bool,
    in_copy: Option<String>,
    counts: BTreeMap<String, u64>,
}

impl Scanner {
    pub fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.keep(&data[..i]);
                    self.end_line();
                    data = &data[i + 1..];
                }
                None => {
                    self.keep(data);
                    break;
                }
            }
        }
    }

    fn keep(&mut self, part: &[u8]) {
        let room = HEADER_MAX.saturating_sub(self.line.len());
        self.line.extend_from_slice(&part[..part.len().min(room)]);
        self.truncated |= part.len() > room;
    }

    fn end_line(&mut self) {
        match &self.in_copy {
            Some(table) => {
                if self.line == b"\\." && !self.truncated {
                    self.in_copy = None;
                } else {
                    *self.counts.entry(table.clone()).or_default() += 1;
                }
            }
            None => {
                if !self.truncated
                    && let Some(table) = copy_table(&self.line)
                {
                    self.counts.entry(table.clone()).or_default();
                    self.in_copy = Some(table);
                }
            }
        }
        self.line.clear();
        self.truncated = false;
    }

    #[cfg(test)]
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }
}

/// `COPY public.asset (id, …) FROM stdin;` → `public.asset`.
fn copy_table(line: &[u8]) -> Option<String> {
    let line = std::str::from_utf8(line).ok()?;
    let rest = line.strip_prefix("COPY ")?;
    if !line.ends_with(" FROM stdin;") {
        return None;
    }
    let end = rest.find(" (").or_else(|| rest.find(" FROM stdin;"))?;
    Some(rest[..end].to_owned())
}

/// An [`AsyncRead`] that passes bytes through unchanged and scans them.
pub struct CopyCounter<R> {
    inner: R,
    scanner: Scanner,
    shared: Counts,
}

impl<R> CopyCounter<R> {
    pub fn new(inner: R) -> CopyCounter<R> {
        CopyCounter { inner, scanner: Scanner::default(), shared: Counts::default() }
    }

    /// The counts, complete once the stream was read to its end.
    pub fn counts(&self) -> Counts {
        self.shared.clone()
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for CopyCounter<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[before..];
                if new.is_empty() {
                    *this.shared.lock().unwrap_or_else(|p| p.into_inner()) = this.scanner.counts.clone();
                } else {
                    this.scanner.push(new);
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "SET x = 1;\nCOPY public.asset (id, path) FROM stdin;\n1\t/a\n2\t/b\n\\.\n\
                        COPY public.\"user\" (id) FROM stdin;\n7\n\\.\n\
                        COPY public.empty (id) FROM stdin;\n\\.\nSELECT 'COPY x FROM stdin;';\n";

    fn scan_in_pieces(size: usize) -> BTreeMap<String, u64> {
        let mut s = Scanner::default();
        for chunk in DUMP.as_bytes().chunks(size) {
            s.push(chunk);
        }
        s.counts().clone()
    }

    #[test]
    fn counts_rows_per_table_whatever_the_chunking() {
        let want = BTreeMap::from([
            ("public.asset".to_owned(), 2),
            ("public.\"user\"".to_owned(), 1),
            ("public.empty".to_owned(), 0),
        ]);
        for size in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(scan_in_pieces(size), want, "chunks of {size}");
        }
    }

    #[test]
    fn a_long_row_counts_once_and_a_backslash_dot_inside_a_row_does_not_end_the_block() {
        let mut s = Scanner::default();
        s.push(b"COPY public.blob (b) FROM stdin;\n");
        s.push(&vec![b'x'; HEADER_MAX * 2]);
        s.push(b"\n\\.x\n\\.\n");
        assert_eq!(s.counts()["public.blob"], 2);
    }

    #[tokio::test]
    async fn the_reader_passes_bytes_through_unchanged() {
        let mut r = CopyCounter::new(DUMP.as_bytes());
        let counts = r.counts();
        let mut out = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut r, &mut out).await.unwrap();
        assert_eq!(out, DUMP.as_bytes());
        assert_eq!(counts.lock().unwrap()["public.asset"], 2);
    }
}
