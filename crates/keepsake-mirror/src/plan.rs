//! The plan file: the list of operations a mirror run will perform, in manifest order, written by
//! the scan (first pass, which touches nothing on the drive) to a local temporary file and executed
//! by the second pass. Keeping it on disk rather than in memory bounds memory whatever the tree size,
//! and lets the free-space check see the whole run before anything on the drive changes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::manifest::{Kind, Line, Record};
use crate::names::{esc_field, unescape};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Unchanged file or existing folder: the line goes to the new manifest as is.
    Keep(Line),
    /// A folder to create on the drive.
    NewDir(Line),
    /// Copy `src` to `line.drive`. `old` is the previous version (kept if the source can no longer
    /// be read). `adopt`: a copy may already be on the drive (interrupted run, lost manifest).
    /// `revive`: a file set aside earlier under `.keepsake/deleted/<revive>` with the same size,
    /// mtime and (in `line.hash`) content as the source: moved back instead of copied.
    Copy { src: PathBuf, line: Line, old: Option<Line>, adopt: bool, revive: Option<String> },
    /// Move this file to `.keepsake/deleted/<date>/`.
    AsideFile(Line),
    /// Move this folder (and its whole subtree) to `.keepsake/deleted/<date>/`.
    AsideDir(Line),
    /// A file inside an AsideDir, for the deleted index.
    AsideIndex(Line),
}

pub struct PlanWriter {
    out: BufWriter<File>,
}

fn line_text(l: &Line) -> String {
    crate::manifest::format_line(l)
}

impl PlanWriter {
    pub fn new() -> io::Result<PlanWriter> {
        Ok(PlanWriter { out: BufWriter::with_capacity(256 * 1024, tempfile::tempfile()?) })
    }

    pub fn push(&mut self, op: &Op) -> io::Result<()> {
        let o = &mut self.out;
        match op {
            Op::Keep(l) => write!(o, "K\t{}", line_text(l)),
            Op::NewDir(l) => write!(o, "N\t{}", line_text(l)),
            Op::AsideFile(l) => write!(o, "X\t{}", line_text(l)),
            Op::AsideDir(l) => write!(o, "Y\t{}", line_text(l)),
            Op::AsideIndex(l) => write!(o, "x\t{}", line_text(l)),
            Op::Copy { src, line, old, adopt, revive } => {
                let rev = revive.as_deref().map(|r| esc_field(r.as_bytes())).unwrap_or_else(|| "-".into());
                write!(
                    o,
                    "C\t{}\t{rev}\t{}\t{}",
                    u8::from(*adopt),
                    esc_field(src.as_os_str().as_bytes()),
                    line_text(line)
                )?;
                match old {
                    Some(old) => write!(o, "O\t{}", line_text(old)),
                    None => Ok(()),
                }
            }
        }
    }

    pub fn into_reader(self) -> io::Result<PlanReader> {
        let mut f = self.out.into_inner().map_err(|e| e.into_error())?;
        f.rewind()?;
        Ok(PlanReader { input: BufReader::with_capacity(256 * 1024, f), pending: None })
    }
}

pub struct PlanReader {
    input: BufReader<File>,
    pending: Option<String>,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("plan file damaged: {what}"))
}

fn parse_line(s: &str) -> io::Result<Line> {
    // The plan file is local and ours; the manifest parser checks it all the same.
    let rec = crate::manifest::parse_record(s).map_err(|e| bad(&e))?;
    match rec {
        Record::Entry(l) => Ok(l),
        Record::Tomb(..) => Err(bad("tombstone")),
    }
}

impl PlanReader {
    fn raw(&mut self) -> io::Result<Option<String>> {
        if let Some(p) = self.pending.take() {
            return Ok(Some(p));
        }
        let mut s = String::new();
        if self.input.read_line(&mut s)? == 0 {
            return Ok(None);
        }
        if s.ends_with('\n') {
            s.pop();
        }
        Ok(Some(s))
    }

    pub fn next_op(&mut self) -> io::Result<Option<Op>> {
        let Some(s) = self.raw()? else { return Ok(None) };
        let (op, rest) = s.split_once('\t').ok_or_else(|| bad("no op"))?;
        Ok(Some(match op {
            "K" => Op::Keep(parse_line(rest)?),
            "N" => Op::NewDir(parse_line(rest)?),
            "X" => Op::AsideFile(parse_line(rest)?),
            "Y" => Op::AsideDir(parse_line(rest)?),
            "x" => Op::AsideIndex(parse_line(rest)?),
            "C" => {
                let mut it = rest.splitn(4, '\t');
                let adopt = it.next() == Some("1");
                let revive = match it.next().ok_or_else(|| bad("C revive"))? {
                    "-" => None,
                    r => Some(String::from_utf8_lossy(&unescape(r)).into_owned()),
                };
                let src = PathBuf::from(std::ffi::OsStr::from_bytes(&unescape(it.next().ok_or_else(|| bad("C src"))?)));
                let line = parse_line(it.next().ok_or_else(|| bad("C line"))?)?;
                let old = match self.raw()? {
                    Some(n) if n.starts_with("O\t") => Some(parse_line(&n[2..])?),
                    other => {
                        self.pending = other;
                        None
                    }
                };
                if line.kind != Kind::File {
                    return Err(bad("copy of a folder"));
                }
                Op::Copy { src, line, old, adopt, revive }
            }
            _ => return Err(bad("unknown op")),
        }))
    }
}
