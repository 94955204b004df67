//! What a drive holds, from its manifest alone: a summary, and folder listings for a restore browser.

use std::collections::BTreeMap;
use std::path::Path;

use crate::manifest::{Catalog, Kind};
use crate::names::display;
use crate::verify::open_catalog;
use crate::{DriveSummary, Entry, MirrorError};

pub fn summary(drive: &Path) -> Result<Option<DriveSummary>, MirrorError> {
    if !drive.is_dir() {
        return Err(MirrorError::DriveGone { path: drive.to_path_buf() });
    }
    let Some(mut cat) = Catalog::open(drive)? else { return Ok(None) };
    let mut s = DriveSummary {
        written_by: cat.header.written_by.clone().filter(|w| !w.is_empty()),
        last_run: cat.header.last_run,
        files: 0,
        bytes: 0,
        sources: Vec::new(),
    };
    while let Some(l) = cat.next_line()? {
        match l.kind {
            Kind::File => {
                s.files += 1;
                s.bytes += l.size;
            }
            Kind::Dir if !l.orig.contains(&b'/') => s.sources.push(display(&l.orig)),
            Kind::Dir => {}
        }
    }
    Ok(Some(s))
}

pub fn list(drive: &Path, dir: &str) -> Result<Vec<Entry>, MirrorError> {
    let dir = dir.trim_matches('/');
    let mut cat = open_catalog(drive)?;
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    while let Some(l) = cat.next_line()? {
        let p = display(&l.orig);
        let rest = if dir.is_empty() {
            p.as_str()
        } else if p.len() > dir.len() && p.starts_with(dir) && p.as_bytes()[dir.len()] == b'/' {
            &p[dir.len() + 1..]
        } else {
            continue;
        };
        let (name, deeper) = match rest.split_once('/') {
            Some((n, _)) => (n, true),
            None => (rest, false),
        };
        let is_dir = deeper || l.kind == Kind::Dir;
        let e = out.entry(name.to_string()).or_insert_with(|| Entry {
            name: name.to_string(),
            dir: is_dir,
            size: 0,
            files: 0,
        });
        if l.kind == Kind::File {
            e.size += l.size;
            e.files += 1;
        }
    }
    Ok(out.into_values().collect())
}
