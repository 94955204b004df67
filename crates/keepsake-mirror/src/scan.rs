//! First pass of a mirror run: walks the sources folder by folder in manifest order, merges each
//! folder with the same folder of the previous manifest (read as a stream), decides what to keep,
//! copy or set aside, assigns on-drive names, and writes the plan. It never touches the drive except
//! to read the manifest: an unchanged file is recognised by its source size and mtime alone.
//!
//! Memory: one folder's listing at a time (plus its ancestors'), never the whole tree.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering as AtOrd};

use crate::fsutil::mtime_ns;
use crate::manifest::{Kind, Line, Reader, Record, cmp_keys};
use crate::names::{display, drive_name, fold, match_key};
use crate::plan::{Op, PlanWriter};
use crate::progress::Throttle;
use crate::{MirrorError, Phase, Progress, Skipped, Source};

#[derive(Debug, Default, Clone)]
pub struct ScanStats {
    pub files_total: u64,
    pub bytes_total: u64,
    pub copy_files: u64,
    pub copy_bytes: u64,
    /// Space the copies take on the drive: sizes rounded up to the cluster, plus new folders.
    pub copy_alloc: u64,
    pub aside_files: u64,
    pub aside_ops: u64,
    pub names_mapped: u64,
}

pub struct Scanner<'a> {
    pub old: Option<Reader>,
    pub plan: PlanWriter,
    pub stats: ScanStats,
    pub skipped: Vec<Skipped>,
    /// Copies of new files may already be on the drive: check before copying.
    pub adopt: bool,
    /// The drive's allocation unit (exFAT cluster), for the free-space check.
    pub cluster: u64,
    pub cancel: &'a AtomicBool,
    pub progress: &'a Throttle<'a>,
    /// Drive paths a verify found damaged or missing: copied again even if the source is unchanged.
    pub damaged: HashSet<String>,
    /// (device, inode) of the drive's root: a source that contains the drive must not copy it
    /// into itself.
    pub drive_id: Option<(u64, u64)>,
    /// Files set aside in the last days, by original path: (path under deleted/, size, mtime, hash).
    pub deleted: HashMap<Vec<u8>, (String, u64, i64, [u8; 32])>,
}

enum SrcKind {
    File { size: u64, mtime: i64 },
    Dir,
}

struct SrcEntry {
    raw: Vec<u8>,
    path: PathBuf,
    kind: SrcKind,
}

fn last(s: &[u8]) -> &[u8] {
    match s.iter().rposition(|&b| b == b'/') {
        Some(i) => &s[i + 1..],
        None => s,
    }
}

fn join_b(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut v = parent.to_vec();
    if !v.is_empty() {
        v.push(b'/');
    }
    v.extend_from_slice(name);
    v
}

fn join_s(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_string() } else { format!("{parent}/{name}") }
}

fn parent_of(drive: &str) -> &str {
    drive.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

fn io_err(e: std::io::Error) -> MirrorError {
    MirrorError::Source { path: PathBuf::from("(plan file in the temporary folder)"), source: e }
}

/// What happens to one child of a folder.
enum FileAct {
    Keep(Line),
    Copy { src: PathBuf, line: Line, old: Option<Line> },
    Aside(Line),
}

enum DirAct {
    Existing { line: Line, src: PathBuf },
    New { line: Line, src: PathBuf },
    Aside(Line),
}

impl Scanner<'_> {
    fn push(&mut self, op: Op) -> Result<(), MirrorError> {
        self.plan.push(&op).map_err(io_err)
    }

    fn report(&self, current: &str) {
        self.progress.maybe(&Progress {
            phase: Phase::Scanning,
            files_total: self.stats.files_total,
            bytes_total: self.stats.bytes_total,
            files_done: 0,
            bytes_done: 0,
            files_copied: 0,
            bytes_copied: 0,
            current: Some(current.to_string()),
        });
    }

    /// Takes the old lines of folder `drive`'s own block: its files and its subfolders' D lines.
    fn take_block(&mut self, drive: &str) -> Result<(Vec<Line>, Vec<Line>), MirrorError> {
        let (mut files, mut dirs) = (Vec::new(), Vec::new());
        let Some(old) = &mut self.old else { return Ok((files, dirs)) };
        while let Some(Record::Entry(l)) = old.peek()? {
            if parent_of(&l.drive) != drive {
                break;
            }
            let Some(Record::Entry(l)) = old.next_rec()? else { unreachable!() };
            match l.kind {
                Kind::File => files.push(l),
                Kind::Dir => dirs.push(l),
            }
        }
        Ok((files, dirs))
    }

    /// Keeps old lines that sort before `key` (lines of a damaged manifest that no folder claimed):
    /// they stay in the manifest rather than being lost.
    fn keep_before(&mut self, key: (Kind, bool, &str)) -> Result<(), MirrorError> {
        loop {
            let Some(old) = &mut self.old else { return Ok(()) };
            let take = match old.peek()? {
                Some(Record::Entry(l)) => cmp_keys((l.kind, false, &l.drive), key) == Ordering::Less,
                _ => false,
            };
            if !take {
                return Ok(());
            }
            if let Some(Record::Entry(l)) = old.next_rec()? {
                if l.kind == Kind::File {
                    self.stats.files_total += 1;
                    self.stats.bytes_total += l.size;
                }
                self.push(Op::Keep(l))?;
            }
        }
    }

    /// Keeps every old line under `prefix/` (a folder whose source cannot be read, or leftovers).
    fn keep_under(&mut self, drive: &str) -> Result<(), MirrorError> {
        let prefix = format!("{drive}/");
        loop {
            let Some(old) = &mut self.old else { return Ok(()) };
            let take = matches!(old.peek()?, Some(Record::Entry(l)) if l.drive.starts_with(&prefix));
            if !take {
                return Ok(());
            }
            if let Some(Record::Entry(l)) = old.next_rec()? {
                if l.kind == Kind::File {
                    self.stats.files_total += 1;
                    self.stats.bytes_total += l.size;
                }
                self.push(Op::Keep(l))?;
            }
        }
    }

    /// Sets aside a whole old folder: one rename on the drive; its files are listed for the index.
    fn aside_dir(&mut self, line: Line) -> Result<(), MirrorError> {
        let prefix = format!("{}/", line.drive);
        self.stats.aside_ops += 1;
        self.push(Op::AsideDir(line))?;
        loop {
            let Some(old) = &mut self.old else { return Ok(()) };
            let take = matches!(old.peek()?, Some(Record::Entry(l)) if l.drive.starts_with(&prefix));
            if !take {
                return Ok(());
            }
            if let Some(Record::Entry(l)) = old.next_rec()?
                && l.kind == Kind::File
            {
                self.stats.aside_files += 1;
                self.push(Op::AsideIndex(l))?;
            }
        }
    }

    /// Plans the whole run: the top folder holds one folder per source.
    pub fn run(&mut self, sources: &[Source]) -> Result<(), MirrorError> {
        let (old_files, old_dirs) = self.take_block("")?;
        let listing = sources
            .iter()
            .map(|s| SrcEntry { raw: s.name.as_bytes().to_vec(), path: s.root.clone(), kind: SrcKind::Dir })
            .collect();
        self.merge_dir(b"", "", listing, old_files, old_dirs, true)?;
        // Whatever is left is outside every folder we know: keep it.
        while let Some(r) = self.old.as_mut().map(|o| o.next_rec()).transpose()?.flatten() {
            if let Record::Entry(l) = r {
                if l.kind == Kind::File {
                    self.stats.files_total += 1;
                    self.stats.bytes_total += l.size;
                }
                self.push(Op::Keep(l))?;
            }
        }
        Ok(())
    }

    fn list(&mut self, src: &Path, orig: &[u8]) -> std::io::Result<Vec<SrcEntry>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(src)? {
            let e = e?;
            let raw = e.file_name().as_bytes().to_vec();
            let path = e.path();
            let shown = || display(&join_b(orig, &raw));
            let ft = match e.file_type() {
                Ok(t) => t,
                Err(err) => {
                    self.skipped.push(Skipped { path: shown(), reason: format!("cannot read its type: {err}") });
                    continue;
                }
            };
            let kind = if ft.is_dir() {
                use std::os::unix::fs::MetadataExt;
                if self.drive_id.is_some() && e.metadata().ok().map(|m| (m.dev(), m.ino())) == self.drive_id {
                    self.skipped.push(Skipped { path: shown(), reason: "this is the backup drive itself".into() });
                    continue;
                }
                SrcKind::Dir
            } else if ft.is_file() {
                match e.metadata() {
                    Ok(m) => SrcKind::File { size: m.len(), mtime: mtime_ns(&m) },
                    Err(err) => {
                        self.skipped.push(Skipped { path: shown(), reason: format!("cannot stat: {err}") });
                        continue;
                    }
                }
            } else {
                let what = if ft.is_symlink() {
                    "symbolic link (not followed; exFAT has none)"
                } else {
                    "special file (socket, fifo or device)"
                };
                self.skipped.push(Skipped { path: shown(), reason: what.to_string() });
                continue;
            };
            out.push(SrcEntry { raw, path, kind });
        }
        Ok(out)
    }

    fn dir(&mut self, src: &Path, orig: &[u8], drive: &str) -> Result<(), MirrorError> {
        if self.cancel.load(AtOrd::Relaxed) {
            return Err(MirrorError::Cancelled);
        }
        self.report(&display(orig));
        let (old_files, old_dirs) = self.take_block(drive)?;
        let listing = match self.list(src, orig) {
            Ok(l) => l,
            Err(e) => {
                // An unreadable folder must not look deleted: keep its old backup untouched.
                self.skipped.push(Skipped { path: display(orig), reason: format!("cannot list the folder: {e}") });
                for l in old_files.into_iter().chain(old_dirs) {
                    if l.kind == Kind::File {
                        self.stats.files_total += 1;
                        self.stats.bytes_total += l.size;
                    }
                    self.push(Op::Keep(l))?;
                }
                return self.keep_under(drive);
            }
        };
        self.merge_dir(orig, drive, listing, old_files, old_dirs, false)
    }

    fn merge_dir(
        &mut self,
        orig: &[u8],
        drive: &str,
        listing: Vec<SrcEntry>,
        old_files: Vec<Line>,
        old_dirs: Vec<Line>,
        top: bool,
    ) -> Result<(), MirrorError> {
        // Names in use on the drive in this folder, as the drive compares them.
        let mut in_use: HashSet<String> = old_files.iter().chain(&old_dirs).map(|l| fold(last_s(&l.drive))).collect();
        let mut files: Vec<(String, FileAct)> = Vec::new();
        let mut dirs: Vec<(String, DirAct)> = Vec::new();
        let mut old_f: Vec<Option<Line>> = old_files.into_iter().map(Some).collect();
        let mut old_d: Vec<Option<Line>> = old_dirs.into_iter().map(Some).collect();
        let mut new_entries: Vec<SrcEntry> = Vec::new();
        // Exact names first, then names equal after NFC normalisation.
        let index = |olds: &[Option<Line>]| {
            let mut exact: HashMap<Vec<u8>, usize> = HashMap::new();
            let mut norm: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
            for (i, l) in olds.iter().enumerate() {
                let l = l.as_ref().expect("fresh");
                exact.insert(last(&l.orig).to_vec(), i);
                norm.entry(match_key(last(&l.orig))).or_default().push(i);
            }
            (exact, norm)
        };
        let (fx, fnorm) = index(&old_f);
        let (dx, dnorm) = index(&old_d);
        let mut pending: Vec<SrcEntry> = Vec::new();
        for e in listing {
            let (olds, exact) = match e.kind {
                SrcKind::File { .. } => (&mut old_f, &fx),
                SrcKind::Dir => (&mut old_d, &dx),
            };
            match exact.get(&e.raw).copied() {
                Some(i) if olds[i].is_some() => {
                    let l = olds[i].take().expect("checked");
                    self.matched(orig, e, l, &mut files, &mut dirs);
                }
                _ => pending.push(e),
            }
        }
        for e in pending {
            let (olds, norm) = match e.kind {
                SrcKind::File { .. } => (&mut old_f, &fnorm),
                SrcKind::Dir => (&mut old_d, &dnorm),
            };
            let mut found = norm.get(&match_key(&e.raw)).and_then(|v| v.iter().copied().find(|&i| olds[i].is_some()));
            if top && found.is_none() {
                // Source names are fixed on the drive, so a source renamed only in case must take
                // over its old folder (the drive sees one name), not be set aside with it.
                let key = fold(&String::from_utf8_lossy(&e.raw));
                found = olds.iter().position(|o| o.as_ref().is_some_and(|l| fold(last_s(&l.drive)) == key));
            }
            match found {
                Some(i) => {
                    let l = olds[i].take().expect("checked");
                    self.matched(orig, e, l, &mut files, &mut dirs);
                }
                None => new_entries.push(e),
            }
        }
        // New names: deterministic (sorted), so a rerun after a kill picks the same ones.
        new_entries.sort_by(|a, b| (match_key(&a.raw), &a.raw).cmp(&(match_key(&b.raw), &b.raw)));
        for e in new_entries {
            let name = if top {
                String::from_utf8_lossy(&e.raw).into_owned()
            } else {
                let mut n = 1;
                loop {
                    let cand = drive_name(&e.raw, n);
                    if !in_use.contains(&fold(&cand)) {
                        break cand;
                    }
                    n += 1;
                }
            };
            in_use.insert(fold(&name));
            let o = join_b(orig, &e.raw);
            let d = join_s(drive, &name);
            if name.as_bytes() != e.raw.as_slice() {
                self.stats.names_mapped += 1;
            }
            match e.kind {
                SrcKind::File { size, mtime } => {
                    let line = Line { kind: Kind::File, orig: o, drive: d, size, mtime, hash: [0; 32] };
                    files.push((name, FileAct::Copy { src: e.path, line, old: None }));
                }
                SrcKind::Dir => dirs.push((name, DirAct::New { line: Line::dir(o, d), src: e.path })),
            }
        }
        for l in old_f.into_iter().flatten() {
            files.push((last_s(&l.drive).to_string(), FileAct::Aside(l)));
        }
        for l in old_d.into_iter().flatten() {
            dirs.push((last_s(&l.drive).to_string(), DirAct::Aside(l)));
        }
        files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        dirs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

        for (_, act) in files {
            match act {
                FileAct::Keep(l) => {
                    self.stats.files_total += 1;
                    self.stats.bytes_total += l.size;
                    self.push(Op::Keep(l))?;
                }
                FileAct::Copy { src, line, old } => {
                    self.stats.files_total += 1;
                    self.stats.bytes_total += line.size;
                    self.stats.copy_files += 1;
                    self.stats.copy_bytes += line.size;
                    self.stats.copy_alloc += line.size.div_ceil(self.cluster) * self.cluster;
                    let adopt = self.adopt;
                    // A file deleted and back unchanged (an undo in Immich) comes back from deleted/.
                    let mut line = line;
                    let revive = match self.deleted.get(&line.orig) {
                        Some((rel, size, mtime, hash))
                            if old.is_none() && *size == line.size && *mtime == line.mtime =>
                        {
                            line.hash = *hash;
                            Some(rel.clone())
                        }
                        _ => None,
                    };
                    self.push(Op::Copy { src, line, old, adopt, revive })?;
                }
                FileAct::Aside(l) => {
                    self.stats.aside_files += 1;
                    self.stats.aside_ops += 1;
                    self.push(Op::AsideFile(l))?;
                }
            }
        }
        for (_, act) in &dirs {
            match act {
                DirAct::Existing { line, .. } => self.push(Op::Keep(line.clone()))?,
                DirAct::New { line, .. } => {
                    self.stats.copy_alloc += self.cluster;
                    self.push(Op::NewDir(line.clone()))?
                }
                DirAct::Aside(_) => {}
            }
        }
        for (_, act) in dirs {
            let d = match &act {
                DirAct::Existing { line, .. } | DirAct::New { line, .. } | DirAct::Aside(line) => line.drive.clone(),
            };
            self.keep_before((Kind::Dir, true, &d))?;
            match act {
                DirAct::Aside(l) => self.aside_dir(l)?,
                DirAct::Existing { line, src } | DirAct::New { line, src } => {
                    self.dir(&src, &line.orig, &line.drive)?
                }
            }
        }
        if !top {
            self.keep_under(drive)?;
        }
        Ok(())
    }

    /// A source entry that matches an old line of the same kind.
    fn matched(
        &mut self,
        orig: &[u8],
        e: SrcEntry,
        old: Line,
        files: &mut Vec<(String, FileAct)>,
        dirs: &mut Vec<(String, DirAct)>,
    ) {
        let name = last_s(&old.drive).to_string();
        let o = join_b(orig, &e.raw);
        if name.as_bytes() != e.raw.as_slice() {
            self.stats.names_mapped += 1;
        }
        match e.kind {
            SrcKind::File { size, mtime } => {
                if size == old.size && mtime == old.mtime && !self.damaged.contains(&old.drive) {
                    files.push((name, FileAct::Keep(Line { orig: o, ..old })));
                } else {
                    let line = Line { kind: Kind::File, orig: o, drive: old.drive.clone(), size, mtime, hash: [0; 32] };
                    files.push((name, FileAct::Copy { src: e.path, line, old: Some(old) }));
                }
            }
            SrcKind::Dir => dirs.push((name, DirAct::Existing { line: Line { orig: o, ..old }, src: e.path })),
        }
    }
}

fn last_s(drive: &str) -> &str {
    drive.rsplit_once('/').map(|(_, n)| n).unwrap_or(drive)
}
