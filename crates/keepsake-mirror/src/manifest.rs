//! The on-drive manifest (`.keepsake/manifest.v1`) and journal (`.keepsake/journal`): a text file of
//! one record per line, in one fixed order, read and written as streams.
//!
//! ```text
//! keepsake-mirror manifest v1
//! written_by<TAB>appliance
//! last_run<TAB>2026-12-07T19:00:00+00:00
//! ---
//! F<TAB>original path<TAB>drive path<TAB>size<TAB>mtime ns<TAB>blake3 hex
//! D<TAB>original path<TAB>drive path
//! END<TAB>files<TAB>bytes
//! ```
//! Order: depth first; in each folder its files (by drive name), then its subfolders' D lines (by
//! drive name), then each subfolder's own block. [`cmp_keys`] is that order; every reader checks it,
//! which lets a run merge the previous manifest with the source walk without holding either in memory.
//!
//! The journal is the next manifest being written, in the same order, plus tombstones (`-F`/`-D`
//! drive path) for entries moved to `.keepsake/deleted`; a finished journal is renamed to be the
//! manifest, so a manifest may hold tombstones too: readers skip them. After a killed run, the truth is the
//! journal followed by the old manifest's entries that sort after the journal's last key
//! ([`Catalog`]).

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::MirrorError;
use crate::names::{esc_field, unescape};

pub const KS_DIR: &str = ".keepsake";
pub const MANIFEST: &str = ".keepsake/manifest.v1";
pub const JOURNAL: &str = ".keepsake/journal";
pub const TMP: &str = ".keepsake/tmp";
pub const DELETED: &str = ".keepsake/deleted";
/// Drive paths a verify found damaged; the next mirror run copies them again.
pub const DAMAGED: &str = ".keepsake/damaged";
const MAGIC: &str = "keepsake-mirror manifest v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

/// One file or folder of the backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: Kind,
    /// Original path, raw bytes, like b"library/admin/a.jpg".
    pub orig: Vec<u8>,
    /// Path on the drive, relative to its root, like "library/admin/a.jpg".
    pub drive: String,
    pub size: u64,
    pub mtime: i64,
    pub hash: [u8; 32],
}

impl Line {
    pub fn dir(orig: Vec<u8>, drive: String) -> Line {
        Line { kind: Kind::Dir, orig, drive, size: 0, mtime: 0, hash: [0; 32] }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Entry(Line),
    /// Journal only: the entry at this drive path was moved to `.keepsake/deleted`.
    Tomb(Kind, String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub written_by: Option<String>,
    pub last_run: Option<DateTime<Utc>>,
}

/// Sort key component classes: a file of this folder, a subfolder's D line, a path through a subfolder.
fn components(kind: Kind, tomb: bool, drive: &str) -> impl Iterator<Item = (u8, &str)> {
    let n = drive.split('/').count();
    let last_class = match (kind, tomb) {
        (Kind::File, _) => 0,
        (Kind::Dir, false) => 1,
        // A folder's tombstone sorts first inside that folder's block.
        (Kind::Dir, true) => 2,
    };
    let extra = (kind == Kind::Dir && tomb).then_some((0u8, ""));
    drive.split('/').enumerate().map(move |(i, c)| (if i + 1 == n { last_class } else { 2 }, c)).chain(extra)
}

/// The manifest order of two records given as (kind, is tombstone, drive path).
pub fn cmp_keys(a: (Kind, bool, &str), b: (Kind, bool, &str)) -> Ordering {
    let ia = components(a.0, a.1, a.2);
    let ib = components(b.0, b.1, b.2);
    ia.map(|(c, s)| (c, s.as_bytes())).cmp(ib.map(|(c, s)| (c, s.as_bytes())))
}

fn rec_key(r: &Record) -> (Kind, bool, &str) {
    match r {
        Record::Entry(l) => (l.kind, false, l.drive.as_str()),
        Record::Tomb(k, d) => (*k, true, d.as_str()),
    }
}

pub fn format_line(l: &Line) -> String {
    match l.kind {
        Kind::File => format!(
            "F\t{}\t{}\t{}\t{}\t{}\n",
            esc_field(&l.orig),
            l.drive,
            l.size,
            l.mtime,
            blake3::Hash::from_bytes(l.hash).to_hex()
        ),
        Kind::Dir => format!("D\t{}\t{}\n", esc_field(&l.orig), l.drive),
    }
}

pub(crate) fn parse_record(s: &str) -> Result<Record, String> {
    let f: Vec<&str> = s.split('\t').collect();
    let bad_drive =
        |d: &str| d.is_empty() || d.starts_with('/') || d.split('/').any(|c| c.is_empty() || c == "." || c == "..");
    match f.as_slice() {
        ["F", orig, drive, size, mtime, hash] => {
            if bad_drive(drive) {
                return Err(format!("invalid drive path {drive:?}"));
            }
            Ok(Record::Entry(Line {
                kind: Kind::File,
                orig: unescape(orig),
                drive: drive.to_string(),
                size: size.parse().map_err(|_| format!("invalid size {size:?}"))?,
                mtime: mtime.parse().map_err(|_| format!("invalid mtime {mtime:?}"))?,
                hash: *blake3::Hash::from_hex(hash).map_err(|_| format!("invalid hash {hash:?}"))?.as_bytes(),
            }))
        }
        ["D", orig, drive] if !bad_drive(drive) => Ok(Record::Entry(Line::dir(unescape(orig), drive.to_string()))),
        ["-F", drive] if !bad_drive(drive) => Ok(Record::Tomb(Kind::File, drive.to_string())),
        ["-D", drive] if !bad_drive(drive) => Ok(Record::Tomb(Kind::Dir, drive.to_string())),
        _ => Err("unknown record".to_string()),
    }
}

/// Streams the records of a manifest or journal, checking their order.
pub struct Reader {
    path: PathBuf,
    input: BufReader<File>,
    line_no: u64,
    pub header: Header,
    prev: Option<Record>,
    peeked: Option<Record>,
    /// Journal mode: a damaged or unordered record ends the stream instead of failing.
    lenient: bool,
    pub ended: bool,
    /// Counts from the END line (manifest) and of the records read.
    pub end: Option<(u64, u64)>,
    buf: String,
}

impl Reader {
    /// Opens `path`; Ok(None) if it does not exist.
    pub fn open(path: &Path, lenient: bool) -> Result<Option<Reader>, MirrorError> {
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::fsutil::drive_err(path, e)),
        };
        let mut r = Reader {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(256 * 1024, f),
            line_no: 0,
            header: Header::default(),
            prev: None,
            peeked: None,
            lenient,
            ended: false,
            end: None,
            buf: String::new(),
        };
        match r.raw_line()? {
            Some(l) if l == MAGIC => {}
            _ if lenient => {
                r.ended = true;
                return Ok(Some(r));
            }
            _ => return Err(r.err("not a keepsake-mirror manifest v1 (first line)")),
        }
        loop {
            match r.raw_line()? {
                Some(l) if l == "---" => break,
                Some(l) => {
                    let (k, v) = l.split_once('\t').unwrap_or((l.as_str(), ""));
                    match k {
                        "written_by" => r.header.written_by = Some(String::from_utf8_lossy(&unescape(v)).into_owned()),
                        "last_run" => {
                            r.header.last_run = DateTime::parse_from_rfc3339(v).ok().map(|d| d.with_timezone(&Utc))
                        }
                        _ => {} // later versions may add header fields
                    }
                }
                None if lenient => {
                    r.ended = true;
                    break;
                }
                None => return Err(r.err("header not terminated")),
            }
        }
        Ok(Some(r))
    }

    fn err(&self, reason: &str) -> MirrorError {
        MirrorError::Manifest { path: self.path.clone(), line: self.line_no, reason: reason.to_string() }
    }

    /// The next complete line without its newline; None at end of file or at an unterminated line.
    fn raw_line(&mut self) -> Result<Option<String>, MirrorError> {
        self.buf.clear();
        let mut bytes = Vec::new();
        let n = self.input.read_until(b'\n', &mut bytes).map_err(|e| crate::fsutil::drive_err(&self.path, e))?;
        self.line_no += 1;
        if n == 0 || bytes.last() != Some(&b'\n') {
            return Ok(None);
        }
        bytes.pop();
        match String::from_utf8(bytes) {
            Ok(s) => Ok(Some(s)),
            Err(_) if self.lenient => Ok(None),
            Err(_) => Err(self.err("not UTF-8")),
        }
    }

    fn read(&mut self) -> Result<Option<Record>, MirrorError> {
        loop {
            match self.read_one()? {
                // A finished journal became this manifest; its tombstones only mattered to recovery.
                Some(Record::Tomb(..)) if !self.lenient => continue,
                r => return Ok(r),
            }
        }
    }

    fn read_one(&mut self) -> Result<Option<Record>, MirrorError> {
        if self.ended {
            return Ok(None);
        }
        let Some(l) = self.raw_line()? else {
            self.ended = true;
            if self.lenient {
                return Ok(None);
            }
            return Err(self.err("manifest is truncated (no END line)"));
        };
        if let Some(rest) = l.strip_prefix("END\t") {
            self.ended = true;
            let mut it = rest.split('\t').map(|x| x.parse::<u64>());
            if let (Some(Ok(f)), Some(Ok(b))) = (it.next(), it.next()) {
                self.end = Some((f, b));
            }
            return Ok(None);
        }
        let rec = match parse_record(&l) {
            Ok(r) => r,
            Err(_) if self.lenient => {
                self.ended = true;
                return Ok(None);
            }
            Err(e) => return Err(self.err(&e)),
        };
        if let Some(p) = &self.prev
            && cmp_keys(rec_key(p), rec_key(&rec)) != Ordering::Less
        {
            if self.lenient {
                self.ended = true;
                return Ok(None);
            }
            return Err(self.err("records out of order"));
        }
        self.prev = Some(rec.clone());
        Ok(Some(rec))
    }

    pub fn peek(&mut self) -> Result<Option<&Record>, MirrorError> {
        if self.peeked.is_none() {
            self.peeked = self.read()?;
        }
        Ok(self.peeked.as_ref())
    }

    pub fn next_rec(&mut self) -> Result<Option<Record>, MirrorError> {
        match self.peeked.take() {
            Some(r) => Ok(Some(r)),
            None => self.read(),
        }
    }
}

/// Writes a manifest or journal as a stream.
pub struct Writer {
    pub path: PathBuf,
    out: BufWriter<File>,
    pub files: u64,
    pub bytes: u64,
}

impl Writer {
    pub fn create(path: &Path, header: &Header) -> io::Result<Writer> {
        let f = File::create(path)?;
        let mut w =
            Writer { path: path.to_path_buf(), out: BufWriter::with_capacity(256 * 1024, f), files: 0, bytes: 0 };
        writeln!(w.out, "{MAGIC}")?;
        if let Some(by) = &header.written_by {
            writeln!(w.out, "written_by\t{}", esc_field(by.as_bytes()))?;
        }
        if let Some(t) = header.last_run {
            writeln!(w.out, "last_run\t{}", t.to_rfc3339())?;
        }
        writeln!(w.out, "---")?;
        Ok(w)
    }

    pub fn entry(&mut self, l: &Line) -> io::Result<()> {
        if l.kind == Kind::File {
            self.files += 1;
            self.bytes += l.size;
        }
        self.out.write_all(format_line(l).as_bytes())
    }

    pub fn tomb(&mut self, kind: Kind, drive: &str) -> io::Result<()> {
        let k = if kind == Kind::File { "-F" } else { "-D" };
        writeln!(self.out, "{k}\t{drive}")
    }

    /// Hands buffered lines to the OS (enough against a killed process).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flush and fsync (enough against a power cut).
    pub fn sync(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_data()
    }

    pub fn finish(mut self) -> io::Result<()> {
        writeln!(self.out, "END\t{}\t{}", self.files, self.bytes)?;
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}

/// The backup as it really is on the drive: the manifest, overlaid by the journal of an interrupted
/// run. Streams entries in manifest order.
pub struct Catalog {
    pub header: Header,
    journal: Option<Reader>,
    old: Option<Reader>,
    last: Option<Record>,
    dead_dir: Option<String>,
}

impl Catalog {
    /// Ok(None) when the drive holds neither a manifest nor a journal.
    pub fn open(drive: &Path) -> Result<Option<Catalog>, MirrorError> {
        let old = Reader::open(&drive.join(MANIFEST), false)?;
        let journal = Reader::open(&drive.join(JOURNAL), true)?;
        if old.is_none() && journal.is_none() {
            return Ok(None);
        }
        let header = old.as_ref().or(journal.as_ref()).map(|r| r.header.clone()).unwrap_or_default();

        Ok(Some(Catalog { header, journal, old, last: None, dead_dir: None }))
    }

    pub fn next_line(&mut self) -> Result<Option<Line>, MirrorError> {
        if let Some(j) = &mut self.journal {
            while let Some(r) = j.next_rec()? {
                self.dead_dir = match &r {
                    Record::Tomb(Kind::Dir, d) => Some(format!("{d}/")),
                    _ => None,
                };
                let out = match &r {
                    Record::Entry(l) => Some(l.clone()),
                    Record::Tomb(..) => None,
                };
                self.last = Some(r);
                if out.is_some() {
                    return Ok(out);
                }
            }
            // A journal with its END line is a whole manifest: the old one no longer counts.
            if j.end.is_some() {
                self.old = None;
            }
            self.journal = None;
        }
        let Some(old) = &mut self.old else { return Ok(None) };
        while let Some(r) = old.next_rec()? {
            let Record::Entry(l) = r else { continue };
            if let Some(last) = &self.last
                && cmp_keys((l.kind, false, &l.drive), rec_key(last)) != Ordering::Greater
            {
                continue;
            }
            if let Some(dead) = &self.dead_dir
                && l.drive.starts_with(dead.as_str())
            {
                continue;
            }
            return Ok(Some(l));
        }
        Ok(None)
    }
}

/// Folds a leftover journal into the manifest (atomically), so a run starts from the drive's truth.
/// Returns true if there was a journal.
pub fn recover(drive: &Path) -> Result<bool, MirrorError> {
    let jpath = drive.join(JOURNAL);
    if !jpath.exists() {
        return Ok(false);
    }
    let Some(mut cat) = Catalog::open(drive)? else { return Ok(false) };
    let tmp = drive.join(TMP).join("manifest.recovered");
    let de = |e| crate::fsutil::drive_err(&tmp, e);
    let mut w = Writer::create(&tmp, &cat.header).map_err(de)?;
    while let Some(l) = cat.next_line()? {
        w.entry(&l).map_err(de)?;
    }
    w.finish().map_err(de)?;
    std::fs::rename(&tmp, drive.join(MANIFEST)).map_err(de)?;
    crate::fsutil::fsync_dir(&drive.join(KS_DIR)).map_err(de)?;
    std::fs::remove_file(&jpath).map_err(|e| crate::fsutil::drive_err(&jpath, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_files_then_folder_lines_then_folder_blocks() {
        let f = |d| (Kind::File, false, d);
        let dl = |d| (Kind::Dir, false, d);
        let seq = [
            dl("library"),
            dl("upload"),
            f("library/z.jpg"),
            dl("library/a"),
            dl("library/b"),
            (Kind::Dir, true, "library/a"),
            f("library/a/x.jpg"),
            f("library/b/y.jpg"),
            f("upload/u.jpg"),
        ];
        for w in seq.windows(2) {
            assert_eq!(cmp_keys(w[0], w[1]), Ordering::Less, "{:?} < {:?}", w[0], w[1]);
        }
    }

    fn f(drive: &str, h: u8) -> Line {
        Line {
            kind: Kind::File,
            orig: drive.as_bytes().to_vec(),
            drive: drive.into(),
            size: 1,
            mtime: 0,
            hash: [h; 32],
        }
    }

    fn d(drive: &str) -> Line {
        Line::dir(drive.as_bytes().to_vec(), drive.into())
    }

    /// Writes a manifest (with END) and a journal prefix (without), then reads the overlay.
    fn overlay(old: &[Line], journal: &[Record]) -> Vec<Line> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(TMP)).expect("mkdir");
        let mut w = Writer::create(&dir.path().join(MANIFEST), &Header::default()).expect("manifest");
        for l in old {
            w.entry(l).expect("write");
        }
        w.finish().expect("finish");
        let mut j = Writer::create(&dir.path().join(JOURNAL), &Header::default()).expect("journal");
        for r in journal {
            match r {
                Record::Entry(l) => j.entry(l).expect("write"),
                Record::Tomb(k, p) => j.tomb(*k, p).expect("write"),
            }
        }
        j.flush().expect("flush");
        let mut cat = Catalog::open(dir.path()).expect("open").expect("some");
        let mut out = Vec::new();
        while let Some(l) = cat.next_line().expect("line") {
            out.push(l);
        }
        // Recovery writes exactly the overlay as the new manifest.
        assert!(recover(dir.path()).expect("recover"));
        let mut r = Reader::open(&dir.path().join(MANIFEST), false).expect("open").expect("some");
        let mut again = Vec::new();
        while let Some(Record::Entry(l)) = r.next_rec().expect("rec") {
            again.push(l);
        }
        assert_eq!(again, out);
        assert!(!dir.path().join(JOURNAL).exists());
        out
    }

    #[test]
    fn an_interrupted_journal_overlays_the_old_manifest() {
        let old = [
            d("lib"),
            f("lib/a", 1),
            f("lib/b", 1),
            d("lib/x"),
            d("lib/y"),
            f("lib/x/1", 1),
            f("lib/x/2", 1),
            f("lib/y/3", 1),
        ];
        // Changed a, set b aside, stopped there: the rest is as before.
        let j = [Record::Entry(d("lib")), Record::Entry(f("lib/a", 2)), Record::Tomb(Kind::File, "lib/b".into())];
        let got = overlay(&old, &j);
        let want = [d("lib"), f("lib/a", 2), d("lib/x"), d("lib/y"), f("lib/x/1", 1), f("lib/x/2", 1), f("lib/y/3", 1)];
        assert_eq!(got, want);
        // Stopped right after setting folder x aside: nothing of x is listed any more.
        let j = [
            Record::Entry(d("lib")),
            Record::Entry(f("lib/a", 1)),
            Record::Entry(f("lib/b", 1)),
            Record::Entry(d("lib/y")),
            Record::Tomb(Kind::Dir, "lib/x".into()),
        ];
        let got = overlay(&old, &j);
        assert_eq!(got, [d("lib"), f("lib/a", 1), f("lib/b", 1), d("lib/y"), f("lib/y/3", 1)]);
        // A new file copied into y before the kill is listed with the rest.
        let j = [
            Record::Entry(d("lib")),
            Record::Entry(f("lib/a", 1)),
            Record::Entry(f("lib/b", 1)),
            Record::Entry(d("lib/x")),
            Record::Entry(d("lib/y")),
            Record::Entry(f("lib/x/1", 1)),
            Record::Entry(f("lib/x/2", 1)),
            Record::Entry(f("lib/y/0", 3)),
        ];
        let got = overlay(&old, &j);
        assert_eq!(got.iter().filter(|l| l.drive.starts_with("lib/y/")).count(), 2);
        assert_eq!(got.last(), Some(&f("lib/y/3", 1)));
    }

    #[test]
    fn lines_round_trip() {
        let l = Line {
            kind: Kind::File,
            orig: b"lib/a\tb%\xff".to_vec(),
            drive: "lib/a%09b%25%FF".into(),
            size: 5,
            mtime: -3,
            hash: [7; 32],
        };
        let s = format_line(&l);
        assert_eq!(parse_record(s.trim_end_matches('\n')).unwrap(), Record::Entry(l));
    }
}
