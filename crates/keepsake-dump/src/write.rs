//! Writing a dump: SQL bytes from an async reader, through zstd, into a file that appears
//! complete or not at all; and checking a written file against its recorded size and hash.
//!
//! The pipeline: the calling task reads the input into chunks and sends them down a bounded
//! channel to one thread of Tokio's blocking pool, which compresses (zstd, optionally with its
//! own worker threads), hashes the compressed bytes with BLAKE3 and writes them to a temporary
//! file next to the destination. At the end the thread syncs the file; the calling task renames
//! it to the destination (never over an existing file) and syncs the directory.
//!
//! Nothing is left behind unless [`PartInfo`] is returned: an input error, a write error or the
//! future being dropped at any point deletes the temporary file (or the renamed file, if the drop
//! comes during the final directory sync). The bounded channel makes a slow disk slow down the
//! reading, so memory stays at a few chunks whatever the dump's size.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use crate::{DumpError, Mismatch};

/// Bytes read from the input before they go to the compressor.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the reader and the compressor.
const DEPTH: usize = 4;
/// Read size when hashing a file.
const HASH_BUF: usize = 1 << 20;

/// How to compress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// zstd level, 1 (fastest) to 19; negative levels are faster still.
    pub level: i32,
    /// zstd worker threads; 0 compresses on the one pipeline thread.
    pub workers: u32,
}

impl Default for WriteOptions {
    /// Level 1 on the pipeline thread alone. On pg_dump's output of an Immich-shaped database,
    /// level 1 was both the fastest and the smallest (smaller than levels 2 to 9 and than gzip -9;
    /// the random digits of CLIP embeddings and hex ids leave higher levels nothing to find), and
    /// at about 200 MB/s on one core it outruns pg_dump, which needs the other core on a 2-core
    /// box. See docs/PERFORMANCE.md, "Database dump".
    fn default() -> Self {
        WriteOptions { level: 1, workers: 0 }
    }
}

/// What was written: the file's size, the SQL's size, and the BLAKE3 hash of the file's bytes
/// (lowercase hex). Keep it: [`verify`] checks a file against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub size: u64,
    pub uncompressed_size: u64,
    pub blake3_hex: String,
}

enum Msg {
    Data(Bytes),
    End,
}

/// Compresses everything `reader` yields into `dest` with zstd (frame checksums on) and returns
/// the sizes and the BLAKE3 hash of the written file.
///
/// `dest` must not exist; its directory must. The file is written under a hidden temporary name in
/// the same directory, synced, renamed to `dest`, and the directory synced, so `dest` is either
/// absent or complete. On any error, and if the returned future is dropped before it completes,
/// neither `dest` nor the temporary file remains. An empty input is an error
/// ([`DumpError::EmptyInput`]): no real dump is empty. The file is created with mode 0600: a dump
/// holds password hashes and API keys.
pub async fn write_compressed<R>(mut reader: R, dest: &Path, opts: WriteOptions) -> Result<PartInfo, DumpError>
where
    R: AsyncRead + Unpin,
{
    let Some(file_name) = dest.file_name() else {
        return Err(DumpError::BadDestination { path: dest.to_owned() });
    };
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(".{}.", file_name.to_string_lossy());
    let (dest2, dir2) = (dest.to_owned(), dir.clone());
    let (file, temp) = blocking("create", move || {
        if dest2.try_exists().map_err(|source| DumpError::Write { path: dest2.clone(), source })? {
            return Err(DumpError::Exists { path: dest2 });
        }
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .tempfile_in(&dir2)
            .map_err(|source| DumpError::Write { path: dest2, source })?;
        Ok(temp.into_parts())
    })
    .await?;
    // From here until the rename, dropping `temp` (on error or cancellation) deletes the file.

    let (tx, rx) = mpsc::channel::<Msg>(DEPTH);
    let compress = tokio::task::spawn_blocking(move || compress(rx, file, opts));

    let mut uncompressed: u64 = 0;
    let mut buf = BytesMut::with_capacity(CHUNK);
    let fed = loop {
        let read = reader.read_buf(&mut buf).await;
        let eof = match read {
            Ok(n) => n == 0,
            Err(source) => break Err(DumpError::Input { bytes: uncompressed + buf.len() as u64, source }),
        };
        if buf.len() >= CHUNK - CHUNK / 16 || (eof && !buf.is_empty()) {
            uncompressed += buf.len() as u64;
            let chunk = buf.split().freeze();
            buf.reserve(CHUNK);
            if tx.send(Msg::Data(chunk)).await.is_err() {
                break Ok(()); // The compressor stopped: its result says why.
            }
        } else if buf.capacity() - buf.len() < CHUNK / 16 {
            buf.reserve(CHUNK);
        }
        if eof {
            if uncompressed == 0 {
                break Err(DumpError::EmptyInput);
            }
            let _ = tx.send(Msg::End).await;
            break Ok(());
        }
    };
    drop(tx); // Without `End`, the compressor gives up and writes nothing more.
    let compressed = compress.await;
    fed?;
    let (size, hash) = match compressed {
        Ok(Ok(done)) => done,
        Ok(Err(source)) => return Err(DumpError::Write { path: dest.to_owned(), source }),
        Err(e) => return Err(DumpError::Internal { task: "compression", detail: e.to_string() }),
    };

    // No await between here and the rename: a drop lands either before (temp deleted) or after.
    temp.persist_noclobber(dest).map_err(|e| match e.error.kind() {
        io::ErrorKind::AlreadyExists => DumpError::Exists { path: dest.to_owned() },
        _ => DumpError::Write { path: dest.to_owned(), source: e.error },
    })?;
    let renamed = RemoveOnDrop(Some(dest.to_owned()));
    blocking("sync", move || {
        File::open(&dir).and_then(|d| d.sync_all()).map_err(|source| DumpError::Write { path: dir, source })
    })
    .await?;
    renamed.keep();
    Ok(PartInfo { size, uncompressed_size: uncompressed, blake3_hex: hash })
}

/// The pipeline thread: compress what arrives until `End`, then finish the frame and sync.
fn compress(mut rx: mpsc::Receiver<Msg>, file: File, opts: WriteOptions) -> io::Result<(u64, String)> {
    let out = HashingWriter { file, hasher: blake3::Hasher::new(), size: 0 };
    let mut enc = zstd::Encoder::new(out, opts.level)?;
    enc.include_checksum(true)?;
    if opts.workers > 0 {
        enc.multithread(opts.workers)?;
    }
    loop {
        match rx.blocking_recv() {
            Some(Msg::Data(chunk)) => enc.write_all(&chunk)?,
            Some(Msg::End) => break,
            None => return Err(io::Error::new(io::ErrorKind::Interrupted, "the input was abandoned")),
        }
    }
    let out = enc.finish()?;
    out.file.sync_all()?;
    Ok((out.size, out.hasher.finalize().to_hex().to_string()))
}

struct HashingWriter {
    file: File,
    hasher: blake3::Hasher,
    size: u64,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Deletes a path when dropped, unless kept.
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

async fn blocking<T, F>(task: &'static str, f: F) -> Result<T, DumpError>
where
    F: FnOnce() -> Result<T, DumpError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(DumpError::Internal { task, detail: e.to_string() }),
    }
}

/// The size of the file at `path` and the BLAKE3 hash of its bytes (lowercase hex).
pub async fn hash_file(path: &Path) -> Result<(u64, String), DumpError> {
    let path = path.to_owned();
    blocking("hash", move || {
        let read_err = |source| DumpError::Read { path: path.clone(), source };
        let mut file = File::open(&path).map_err(read_err)?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0; HASH_BUF];
        let mut size = 0u64;
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    size += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_err(e)),
            }
        }
        Ok((size, hasher.finalize().to_hex().to_string()))
    })
    .await
}

/// Checks that the file at `path` is exactly what [`write_compressed`] reported: its size first
/// (cheap), then its BLAKE3 hash. Any difference is [`DumpError::Corrupt`]; run this before a
/// restore, so a damaged copy is refused before the database is touched.
pub async fn verify(path: &Path, expected_size: u64, expected_blake3: &str) -> Result<(), DumpError> {
    let meta = tokio::fs::metadata(path).await.map_err(|source| DumpError::Read { path: path.to_owned(), source })?;
    let corrupt = |mismatch| Err(DumpError::Corrupt { path: path.to_owned(), mismatch });
    if meta.len() != expected_size {
        return corrupt(Mismatch::Size { expected: expected_size, actual: meta.len() });
    }
    let (size, actual) = hash_file(path).await?;
    if size != expected_size {
        return corrupt(Mismatch::Size { expected: expected_size, actual: size });
    }
    if !actual.eq_ignore_ascii_case(expected_blake3) {
        return corrupt(Mismatch::Blake3 { expected: expected_blake3.to_owned(), actual });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use tokio::io::ReadBuf;

    use super::*;

    fn sql(n: usize) -> Vec<u8> {
        (0..n).map(|i| format!("INSERT INTO t VALUES ({i}, 'row {i}');\n")).collect::<String>().into_bytes()
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    /// Yields `data` in small pieces, then either an error or (if `hang`) nothing ever again.
    struct Scripted {
        data: Vec<u8>,
        pos: usize,
        hang: bool,
    }

    impl AsyncRead for Scripted {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            if self.pos < self.data.len() {
                let n = buf.remaining().min(self.data.len() - self.pos).min(7919);
                let pos = self.pos;
                buf.put_slice(&self.data[pos..pos + n]);
                self.pos += n;
                return Poll::Ready(Ok(()));
            }
            if self.hang { Poll::Pending } else { Poll::Ready(Err(io::Error::other("pg_dump: connection lost"))) }
        }
    }

    #[tokio::test]
    async fn writes_hashes_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("d.sql.zst");
        let input = sql(200_000);
        for opts in [WriteOptions::default(), WriteOptions { level: 1, workers: 2 }] {
            let _ = std::fs::remove_file(&dest);
            let info = write_compressed(&input[..], &dest, opts).await.unwrap();
            assert_eq!(info.uncompressed_size, input.len() as u64);
            assert_eq!(info.size, std::fs::metadata(&dest).unwrap().len());
            assert!(info.size < info.uncompressed_size / 4, "{info:?}");
            let bytes = std::fs::read(&dest).unwrap();
            assert_eq!(info.blake3_hex, blake3::hash(&bytes).to_hex().to_string());
            assert_eq!(zstd::decode_all(&bytes[..]).unwrap(), input);
            assert_eq!(hash_file(&dest).await.unwrap(), (info.size, info.blake3_hex.clone()));
            verify(&dest, info.size, &info.blake3_hex).await.unwrap();
            assert_eq!(entries(dir.path()), ["d.sql.zst"]);
            let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dest).unwrap().permissions());
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn an_erroring_reader_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("d.sql.zst");
        let reader = Scripted { data: sql(100_000), pos: 0, hang: false };
        let err = write_compressed(reader, &dest, WriteOptions::default()).await.unwrap_err();
        assert!(matches!(err, DumpError::Input { bytes, .. } if bytes > 0), "{err:?}");
        assert!(err.to_string().contains("connection lost"), "{err}");
        assert_eq!(entries(dir.path()), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_dropped_future_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("d.sql.zst");
        let reader = Scripted { data: sql(100_000), pos: 0, hang: true };
        let mut fut = Box::pin(write_compressed(reader, &dest, WriteOptions::default()));
        assert!(tokio::time::timeout(Duration::from_millis(300), &mut fut).await.is_err());
        // Mid-write: the data so far sits in a hidden temporary file, never at `dest`.
        let during = entries(dir.path());
        assert!(during.len() == 1 && during[0].starts_with(".d.sql.zst.") && during[0].ends_with(".tmp"), "{during:?}");
        drop(fut);
        assert_eq!(entries(dir.path()), Vec::<String>::new());
    }

    #[tokio::test]
    async fn empty_input_existing_dest_and_missing_dir_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("d.sql.zst");
        let err = write_compressed(&b""[..], &dest, WriteOptions::default()).await.unwrap_err();
        assert!(matches!(err, DumpError::EmptyInput), "{err:?}");
        assert_eq!(entries(dir.path()), Vec::<String>::new());

        std::fs::write(&dest, b"an older dump").unwrap();
        let err = write_compressed(&b"SELECT 1;\n"[..], &dest, WriteOptions::default()).await.unwrap_err();
        assert!(matches!(err, DumpError::Exists { .. }), "{err:?}");
        assert_eq!(std::fs::read(&dest).unwrap(), b"an older dump");
        assert_eq!(entries(dir.path()), ["d.sql.zst"]);

        let err =
            write_compressed(&b"SELECT 1;\n"[..], &dir.path().join("no/such/dir/d.sql.zst"), WriteOptions::default())
                .await
                .unwrap_err();
        assert!(matches!(err, DumpError::Write { .. }), "{err:?}");
        assert!(err.to_string().contains("free space and permissions"), "{err}");
    }

    #[tokio::test]
    async fn verify_refuses_a_flipped_byte_and_a_wrong_size() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("d.sql.zst");
        let info = write_compressed(&sql(10_000)[..], &dest, WriteOptions::default()).await.unwrap();
        let mut bytes = std::fs::read(&dest).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        std::fs::write(&dest, &bytes).unwrap();
        let err = verify(&dest, info.size, &info.blake3_hex).await.unwrap_err();
        let DumpError::Corrupt { mismatch: Mismatch::Blake3 { expected, .. }, .. } = &err else { panic!("{err:?}") };
        assert_eq!(expected, &info.blake3_hex);
        assert!(err.to_string().contains("Do not restore it"), "{err}");

        bytes.pop();
        std::fs::write(&dest, &bytes).unwrap();
        let err = verify(&dest, info.size, &info.blake3_hex).await.unwrap_err();
        assert!(matches!(err, DumpError::Corrupt { mismatch: Mismatch::Size { .. }, .. }), "{err:?}");

        let err = verify(&dir.path().join("gone.sql.zst"), 1, "00").await.unwrap_err();
        assert!(matches!(err, DumpError::Read { .. }), "{err:?}");
    }
}
