//! `zpool status` (with or without `-p`, `-v`), as OpenZFS 2.x and zfs-fuse 0.7 print it.
//!
//! The output is a list of pools, each a block of right-aligned `key:` fields:
//!
//! ```text
//!   pool: tank
//!  state: DEGRADED
//! status: One or more devices could not be used because ...
//!         (continuation lines start with a tab)
//! action: ...
//!    see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-4J
//!   scan: scrub repaired 0B in 00:00:01 with 0 errors on ...
//! config:
//!
//!         NAME        STATE     READ WRITE CKSUM
//!         tank        DEGRADED     0     0     0
//!           mirror-0  DEGRADED     0     0     0
//!             sda     ONLINE       0     0     0
//!             sdb     UNAVAIL      0     0     0  cannot open
//!         logs
//!           sdc       ONLINE       0     0     0
//!
//! errors: No known data errors
//! ```
//!
//! Every field is kept (`status`, `action`, `see`, `scan` as text with their continuation lines;
//! others such as `remove:` or `checkpoint:` in [`PoolStatus::other`]). The configuration is kept
//! flat, one [`Vdev`] per row with its depth (0 for the pool row, 1 for a top-level device, 2 for
//! the disks of a mirror or raidz) and its section (the data devices, then `logs`, `cache`,
//! `spares`, `special`, `dedup`). Device names cannot contain spaces.

use std::fmt;

use crate::ParseError;
use crate::number::{self, Number};

/// A pool's or device's state. Anything not listed is kept as its text (spares are `AVAIL` or
/// `INUSE`; a newer ZFS may add states).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum State {
    Online,
    Degraded,
    Faulted,
    Offline,
    Unavail,
    Removed,
    Suspended,
    Other(String),
}

impl State {
    pub fn parse(text: &str) -> State {
        match text {
            "ONLINE" => State::Online,
            "DEGRADED" => State::Degraded,
            "FAULTED" => State::Faulted,
            "OFFLINE" => State::Offline,
            "UNAVAIL" => State::Unavail,
            "REMOVED" => State::Removed,
            "SUSPENDED" => State::Suspended,
            other => State::Other(other.to_owned()),
        }
    }

    /// The state as ZFS prints it.
    pub fn as_str(&self) -> &str {
        match self {
            State::Online => "ONLINE",
            State::Degraded => "DEGRADED",
            State::Faulted => "FAULTED",
            State::Offline => "OFFLINE",
            State::Unavail => "UNAVAIL",
            State::Removed => "REMOVED",
            State::Suspended => "SUSPENDED",
            State::Other(s) => s,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The part of the configuration a device is listed in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Section {
    /// The pool row and the devices that hold data.
    Data,
    Logs,
    Cache,
    Spares,
    Special,
    Dedup,
    /// A section header this parser does not know.
    Other(String),
}

impl Section {
    fn parse(text: &str) -> Section {
        match text {
            "logs" => Section::Logs,
            "cache" => Section::Cache,
            "spares" => Section::Spares,
            "special" => Section::Special,
            "dedup" => Section::Dedup,
            other => Section::Other(other.to_owned()),
        }
    }
}

/// The READ, WRITE and CKSUM error counters of a device, or totals of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    pub read: u64,
    pub write: u64,
    pub checksum: u64,
}

impl Counters {
    pub fn is_zero(&self) -> bool {
        *self == Counters::default()
    }

    fn max(self, other: Counters) -> Counters {
        Counters {
            read: self.read.max(other.read),
            write: self.write.max(other.write),
            checksum: self.checksum.max(other.checksum),
        }
    }

    fn plus(self, other: Counters) -> Counters {
        Counters {
            read: self.read.saturating_add(other.read),
            write: self.write.saturating_add(other.write),
            checksum: self.checksum.saturating_add(other.checksum),
        }
    }
}

/// One row of the `config:` tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vdev {
    pub name: String,
    /// 0 for the pool row; 1 for a top-level device (also under `logs`, `cache`, ...); +1 per level.
    pub depth: usize,
    pub section: Section,
    pub state: State,
    /// `None` where ZFS prints no counters (spares).
    pub errors: Option<Counters>,
    /// Whether the counters were printed exactly (with `-p`, or all below 1024). OpenZFS without
    /// `-p` abbreviates large counters (`1.2K`), which are then rounded down.
    pub exact: bool,
    /// What follows the counters: `(repairing)`, `too many errors`, `was /dev/sdb1`, ...
    pub note: Option<String>,
}

/// The `errors:` line and, with `-v`, the files it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataErrors {
    /// `No known data errors`.
    None,
    /// `N data errors, use '-v' for a list`.
    Count(u64),
    /// `Permanent errors have been detected in the following files:` and the files (`-v`).
    Files(Vec<String>),
    /// Another text, kept as is (such as `List of errors unavailable: permission denied`).
    Other(String),
    /// The pool printed no `errors:` line (ZFS omits it when the pool cannot be opened).
    NotReported,
}

impl DataErrors {
    /// Whether ZFS says data was lost or damaged. An unreadable list ([`DataErrors::Other`]) or
    /// none ([`DataErrors::NotReported`]) is not counted as errors: the pool state says the rest.
    pub fn any(&self) -> bool {
        match self {
            DataErrors::Count(n) => *n > 0,
            DataErrors::Files(_) => true,
            DataErrors::None | DataErrors::Other(_) | DataErrors::NotReported => false,
        }
    }
}

/// One pool's `zpool status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStatus {
    pub name: String,
    pub state: State,
    pub status: Option<String>,
    pub action: Option<String>,
    pub see: Option<String>,
    /// The `scan:` text (older ZFS: `scrub:`); several `scan:` lines are joined with newlines.
    pub scan: Option<String>,
    /// Other fields (`remove:`, `checkpoint:`, `expand:`, ...), in order.
    pub other: Vec<(String, String)>,
    /// The configuration rows in order; empty when ZFS printed none.
    pub config: Vec<Vdev>,
    pub errors: DataErrors,
}

impl PoolStatus {
    /// The pool's error counters, totalled over its devices without counting one error twice.
    ///
    /// ZFS counts a failed I/O on every device it passed through: a bad block read through a
    /// mirror can count on the disk, on the mirror, and on the pool row. Counters of sibling devices
    /// count different I/Os. So each row's total is the larger of its own counter and the sum of
    /// its children's totals, from the leaves up, counter by counter; the pool row's total is the
    /// pool's. The devices under `logs`, `special`, `dedup` and `cache` count as more children of
    /// the pool row; spares print no counters and count nothing.
    ///
    /// So an error seen on a disk only (repaired from the other side of a mirror) counts once, an
    /// error the mirror could not repair counts once although the disk, the mirror and the pool all
    /// show it, and errors on two disks add up.
    pub fn totals(&self) -> Counters {
        // Walks the rows backwards: `below[d]` sums the totals of the rows at depth `d` whose
        // parent has not been reached yet.
        let mut below: Vec<Counters> = Vec::new();
        for row in self.config.iter().rev() {
            let d = row.depth;
            if below.len() < d + 2 {
                below.resize(d + 2, Counters::default());
            }
            let children = below[d + 1];
            for c in &mut below[d + 1..] {
                *c = Counters::default();
            }
            let total = row.errors.unwrap_or_default().max(children);
            below[d] = below[d].plus(total);
        }
        below.first().copied().unwrap_or_default()
    }

    /// Whether every counter was printed exactly (see [`Vdev::exact`]).
    pub fn counters_exact(&self) -> bool {
        self.config.iter().all(|v| v.exact)
    }

    /// The `status:` and `action:` texts, for a message; empty when ZFS printed neither.
    pub fn detail(&self) -> String {
        [&self.status, &self.action].into_iter().flatten().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    }
}

/// Parses the whole standard output of `zpool status [-p] [-v] [pool...]`.
///
/// No pools is an empty list: OpenZFS then prints `no pools available` to standard error and
/// nothing to standard output (the text is accepted on standard output too).
pub fn parse_status(text: &str) -> Result<Vec<PoolStatus>, ParseError> {
    let mut p = Parser { pools: Vec::new(), pool: None, mode: Mode::Top };
    let mut first = true;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            p.blank();
            continue;
        }
        if first && line.trim() == "no pools available" {
            return Ok(Vec::new());
        }
        first = false;
        p.line(line, line_no)?;
    }
    p.finish_pool()?;
    Ok(p.pools)
}

/// What the lines after a field belong to.
enum Mode {
    /// Between fields: only a `key:` line may come.
    Top,
    /// Continuation lines of a text field.
    Text(Field),
    /// Inside `config:`; `columns` is `None` until the NAME header has been read.
    Config { columns: Option<Columns>, section: Section },
    /// The files listed after `errors: Permanent errors ...`.
    Files,
}

#[derive(Clone, Copy)]
enum Field {
    Status,
    Action,
    See,
    Scan,
    Other,
}

/// Where the config table's columns are, from its header line.
struct Columns {
    /// The display column where NAME starts (tabs expanded to 8).
    name_col: usize,
    /// The numeric columns after STATE, in order (READ, WRITE, CKSUM, and SLOW with `-s`).
    numeric: Vec<String>,
}

struct Parser {
    pools: Vec<PoolStatus>,
    pool: Option<PoolStatus>,
    mode: Mode,
}

/// The fields known by name; any other `key:` is recognized by ZFS's right alignment to column 6.
const KNOWN_KEYS: &[&str] = &[
    "pool",
    "state",
    "status",
    "action",
    "see",
    "scan",
    "scrub",
    "config",
    "errors",
    "remove",
    "checkpoint",
    "expand",
];

/// `  pool: tank` → `("pool", "tank")`. A field line has at most 4 leading spaces (no tab), a
/// lower-case key, a colon, then a space or the end of the line.
fn key_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start_matches(' ');
    let lead = line.len() - rest.len();
    if lead > 4 {
        return None;
    }
    let key_len = rest.bytes().take_while(|b| b.is_ascii_lowercase()).count();
    let (key, after) = rest.split_at(key_len);
    let value = after.strip_prefix(':')?;
    if key.is_empty() || !(value.is_empty() || value.starts_with([' ', '\t'])) {
        return None;
    }
    (KNOWN_KEYS.contains(&key) || lead + key.len() == 6).then(|| (key, value.trim()))
}

/// The display width of a line's leading whitespace (tabs to the next multiple of 8).
fn indent(line: &str) -> usize {
    let mut col = 0;
    for c in line.chars() {
        match c {
            ' ' => col += 1,
            '\t' => col = (col / 8 + 1) * 8,
            _ => break,
        }
    }
    col
}

impl Parser {
    fn pool_mut(&mut self, line_no: usize, line: &str) -> Result<&mut PoolStatus, ParseError> {
        self.pool.as_mut().ok_or_else(|| ParseError::at(line_no, "expected `pool:` first", line))
    }

    fn blank(&mut self) {
        // A blank line ends a text field; the config table and the file list span blank lines.
        if let Mode::Text(_) = self.mode {
            self.mode = Mode::Top;
        }
    }

    fn line(&mut self, line: &str, line_no: usize) -> Result<(), ParseError> {
        if let Some((key, value)) = key_line(line) {
            return self.field(key, value, line, line_no);
        }
        let indented = line.starts_with([' ', '\t']);
        match &mut self.mode {
            Mode::Text(field) if indented => {
                let field = *field;
                let pool = self.pool_mut(line_no, line)?;
                let text = match field {
                    Field::Status => pool.status.as_mut(),
                    Field::Action => pool.action.as_mut(),
                    Field::See => pool.see.as_mut(),
                    Field::Scan => pool.scan.as_mut(),
                    Field::Other => pool.other.last_mut().map(|(_, v)| v),
                };
                let text = text.expect("the field was set when its key was read");
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(line.trim());
                Ok(())
            }
            Mode::Config { columns: None, .. } => {
                let tokens: Vec<&str> = line.split_whitespace().collect();
                if tokens.len() < 2 || tokens[0] != "NAME" || tokens[1] != "STATE" {
                    return Err(ParseError::at(line_no, "expected the `NAME STATE ...` header after `config:`", line));
                }
                let numeric = tokens[2..]
                    .iter()
                    .take_while(|t| matches!(**t, "READ" | "WRITE" | "CKSUM" | "SLOW"))
                    .map(|t| (*t).to_owned())
                    .collect();
                self.mode =
                    Mode::Config { columns: Some(Columns { name_col: indent(line), numeric }), section: Section::Data };
                Ok(())
            }
            Mode::Config { columns: Some(columns), section } => {
                let pool = self.pool.as_mut().expect("config is inside a pool");
                let row = parse_row(line, line_no, columns, section, &pool.config)?;
                if let Some(row) = row {
                    pool.config.push(row);
                }
                Ok(())
            }
            Mode::Files if indented => {
                let pool = self.pool_mut(line_no, line)?;
                if let DataErrors::Files(files) = &mut pool.errors {
                    files.push(line.trim().to_owned());
                }
                Ok(())
            }
            _ => Err(ParseError::at(line_no, "not a `zpool status` line", line)),
        }
    }

    fn field(&mut self, key: &str, value: &str, line: &str, line_no: usize) -> Result<(), ParseError> {
        if key == "pool" {
            self.finish_pool()?;
            if value.is_empty() {
                return Err(ParseError::at(line_no, "`pool:` without a name", line));
            }
            self.pool = Some(PoolStatus {
                name: value.to_owned(),
                state: State::Other(String::new()),
                status: None,
                action: None,
                see: None,
                scan: None,
                other: Vec::new(),
                config: Vec::new(),
                errors: DataErrors::NotReported,
            });
            self.mode = Mode::Top;
            return Ok(());
        }
        let pool = self.pool_mut(line_no, line)?;
        let text = value.to_owned();
        self.mode = match key {
            "state" => {
                pool.state = State::parse(value);
                Mode::Top
            }
            "status" => {
                pool.status = Some(text);
                Mode::Text(Field::Status)
            }
            "action" => {
                pool.action = Some(text);
                Mode::Text(Field::Action)
            }
            "see" => {
                pool.see = Some(text);
                Mode::Text(Field::See)
            }
            "scan" | "scrub" => {
                match &mut pool.scan {
                    Some(scan) => {
                        scan.push('\n');
                        scan.push_str(&text);
                    }
                    None => pool.scan = Some(text),
                }
                Mode::Text(Field::Scan)
            }
            // "config: The configuration cannot be determined." has no table.
            "config" if !value.is_empty() => {
                pool.other.push((key.to_owned(), text));
                Mode::Text(Field::Other)
            }
            "config" => {
                if !pool.config.is_empty() {
                    return Err(ParseError::at(line_no, "a second `config:` for the same pool", line));
                }
                Mode::Config { columns: None, section: Section::Data }
            }
            "errors" => {
                pool.errors = parse_errors(value, line_no, line)?;
                if matches!(pool.errors, DataErrors::Files(_)) { Mode::Files } else { Mode::Top }
            }
            _ => {
                pool.other.push((key.to_owned(), text));
                Mode::Text(Field::Other)
            }
        };
        Ok(())
    }

    fn finish_pool(&mut self) -> Result<(), ParseError> {
        if let Some(pool) = self.pool.take() {
            if pool.state == State::Other(String::new()) {
                return Err(ParseError::Incomplete { pool: pool.name, what: "no `state:` line" });
            }
            if let Mode::Config { columns: None, .. } = self.mode {
                return Err(ParseError::Incomplete { pool: pool.name, what: "`config:` without a table" });
            }
            self.pools.push(pool);
        }
        self.mode = Mode::Top;
        Ok(())
    }
}

fn parse_errors(value: &str, line_no: usize, line: &str) -> Result<DataErrors, ParseError> {
    if value == "No known data errors" {
        return Ok(DataErrors::None);
    }
    if value.starts_with("Permanent errors have been detected") {
        return Ok(DataErrors::Files(Vec::new()));
    }
    // "N data errors, use '-v' for a list" (OpenZFS and zfs-fuse), "1 data error, ..." tolerated.
    if let Some((count, rest)) = value.split_once(' ')
        && count.bytes().all(|b| b.is_ascii_digit())
        && rest.starts_with("data error")
    {
        let n = count.parse().map_err(|_| ParseError::at(line_no, "data error count out of range", line))?;
        return Ok(DataErrors::Count(n));
    }
    Ok(DataErrors::Other(value.to_owned()))
}

/// One config row; `None` for a section header (`logs`, `cache`, ...), which sets `section`.
fn parse_row(
    line: &str,
    line_no: usize,
    columns: &Columns,
    section: &mut Section,
    before: &[Vdev],
) -> Result<Option<Vdev>, ParseError> {
    let col = indent(line);
    if col < columns.name_col || !(col - columns.name_col).is_multiple_of(2) {
        return Err(ParseError::at(line_no, "device row not aligned under NAME", line));
    }
    let depth = (col - columns.name_col) / 2;
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let name = tokens[0];
    if depth == 0 && tokens.len() == 1 {
        if before.is_empty() {
            return Err(ParseError::at(line_no, "a section header before the pool row", line));
        }
        *section = Section::parse(name);
        return Ok(None);
    }
    let Some(state) = tokens.get(1) else {
        return Err(ParseError::at(line_no, "device row without a state", line));
    };
    match before.last() {
        None if depth != 0 => return Err(ParseError::at(line_no, "the first row must be the pool", line)),
        Some(_) if depth == 0 => return Err(ParseError::at(line_no, "a second pool row", line)),
        Some(prev) if prev.section != *section && depth != 1 => {
            return Err(ParseError::at(line_no, "a section must start with a top-level device", line));
        }
        Some(prev) if depth > prev.depth + 1 => {
            return Err(ParseError::at(line_no, "device nested more than one level below the row above", line));
        }
        _ => {}
    }
    let n = columns.numeric.len();
    let numbers: Option<Vec<Number>> =
        tokens.get(2..2 + n).and_then(|t| t.iter().map(|t| number::parse(t, false)).collect());
    let (errors, exact, rest) = match numbers {
        Some(numbers) if n > 0 => {
            let get = |name: &str| columns.numeric.iter().position(|c| c == name).map(|i| numbers[i]);
            let counter = |name| get(name).map(|n: Number| n.value).unwrap_or(0);
            let exact = numbers.iter().all(|n| n.exact);
            let counters = Counters { read: counter("READ"), write: counter("WRITE"), checksum: counter("CKSUM") };
            (Some(counters), exact, &tokens[2 + n..])
        }
        _ => (None, true, &tokens[2..]),
    };
    Ok(Some(Vdev {
        name: name.to_owned(),
        depth,
        section: section.clone(),
        state: State::parse(state),
        errors,
        exact,
        note: (!rest.is_empty()).then(|| rest.join(" ")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIRROR: &str = "  pool: tank
 state: ONLINE
status: One or more devices has experienced an unrecoverable error.  An
\tattempt was made to correct the error.  Applications are unaffected.
action: Determine if the device needs to be replaced, and clear the errors
\tusing 'zpool clear' or replace the device with 'zpool replace'.
   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-9P
  scan: scrub repaired 12K in 00:00:02 with 0 errors on Tue Mar  4 10:00:00 2025
config:

\tNAME        STATE     READ WRITE CKSUM
\ttank        ONLINE       0     0     0
\t  mirror-0  ONLINE       0     0     0
\t    sda     ONLINE       0     0     7
\t    sdb     ONLINE       2     0     1

errors: No known data errors
";

    fn c(read: u64, write: u64, checksum: u64) -> Counters {
        Counters { read, write, checksum }
    }

    #[test]
    fn reads_fields_with_their_continuation_lines() {
        let pools = parse_status(MIRROR).unwrap();
        assert_eq!(pools.len(), 1);
        let p = &pools[0];
        assert_eq!(p.name, "tank");
        assert_eq!(p.state, State::Online);
        assert_eq!(
            p.status.as_deref(),
            Some(
                "One or more devices has experienced an unrecoverable error.  An\nattempt was made to correct the error.  Applications are unaffected."
            )
        );
        assert!(p.action.as_deref().unwrap().ends_with("'zpool replace'."));
        assert_eq!(p.see.as_deref(), Some("https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-9P"));
        assert!(p.scan.as_deref().unwrap().starts_with("scrub repaired 12K"));
        assert_eq!(p.errors, DataErrors::None);
        assert_eq!(
            p.config.iter().map(|v| (v.name.as_str(), v.depth)).collect::<Vec<_>>(),
            [("tank", 0), ("mirror-0", 1), ("sda", 2), ("sdb", 2)]
        );
        assert_eq!(p.config[3].errors, Some(c(2, 0, 1)));
        assert!(p.detail().starts_with("One or more devices") && p.detail().contains("\nDetermine"));
    }

    #[test]
    fn errors_on_two_disks_add_up() {
        assert_eq!(parse_status(MIRROR).unwrap()[0].totals(), c(2, 0, 8));
    }

    #[test]
    fn an_error_shown_on_the_disk_mirror_and_pool_counts_once() {
        let text = MIRROR
            .replace("tank        ONLINE       0     0     0", "tank        ONLINE       0     0     9")
            .replace("mirror-0  ONLINE       0     0     0", "mirror-0  ONLINE       0     0     3");
        // Disks: 7 + 1 = 8 checksum errors; the mirror says 3 (less: the children win); the pool
        // row says 9 (more than 8: the pool row wins).
        assert_eq!(parse_status(&text).unwrap()[0].totals(), c(2, 0, 9));
    }

    #[test]
    fn log_and_cache_devices_count_as_children_of_the_pool_and_spares_count_nothing() {
        let text = "  pool: tank
 state: ONLINE
config:

\tNAME        STATE     READ WRITE CKSUM
\ttank        ONLINE       0     0     0
\t  sda       ONLINE       0     0     1
\tlogs
\t  mirror-1  ONLINE       0     0     0
\t    sdc     ONLINE       0     4     0
\t    sdd     ONLINE       0     0     0
\tcache
\t  sde       ONLINE       5     0     0
\tspares
\t  sdf       AVAIL
\t  sdg       INUSE     currently in use

errors: No known data errors
";
        let p = &parse_status(text).unwrap()[0];
        assert_eq!(p.totals(), c(5, 4, 1));
        let spare = p.config.iter().find(|v| v.name == "sdg").unwrap();
        assert_eq!((spare.section.clone(), spare.depth, spare.errors), (Section::Spares, 1, None));
        assert_eq!(spare.state, State::Other("INUSE".into()));
        assert_eq!(spare.note.as_deref(), Some("currently in use"));
        assert_eq!(p.config.iter().find(|v| v.name == "sdd").unwrap().section, Section::Logs);
    }

    #[test]
    fn abbreviated_counters_are_read_and_marked_inexact() {
        let text = MIRROR.replace("sda     ONLINE       0     0     7", "sda     ONLINE       0     0  1.2K");
        let p = &parse_status(&text).unwrap()[0];
        assert_eq!(p.totals().checksum, 1229);
        assert!(!p.counters_exact());
        assert!(parse_status(MIRROR).unwrap()[0].counters_exact());
    }

    #[test]
    fn notes_after_the_counters_are_kept() {
        let text = MIRROR
            .replace("sda     ONLINE       0     0     7", "sda     ONLINE       0     0     7  (repairing)")
            .replace("sdb     ONLINE       2     0     1", "sdb     FAULTED      2     0     1  too many errors");
        let p = &parse_status(&text).unwrap()[0];
        assert_eq!(p.config[2].note.as_deref(), Some("(repairing)"));
        assert_eq!(p.config[3].note.as_deref(), Some("too many errors"));
        assert_eq!(p.config[3].state, State::Faulted);
    }

    #[test]
    fn the_errors_line_in_its_three_forms() {
        let count = MIRROR.replace("No known data errors", "3 data errors, use '-v' for a list");
        assert_eq!(parse_status(&count).unwrap()[0].errors, DataErrors::Count(3));
        assert!(parse_status(&count).unwrap()[0].errors.any());
        let files = MIRROR.replace(
            "errors: No known data errors\n",
            "errors: Permanent errors have been detected in the following files:\n\n        /tank/a b.jpg\n        tank/fs@snap:/x\n        <metadata>:<0x0>\n",
        );
        assert_eq!(
            parse_status(&files).unwrap()[0].errors,
            DataErrors::Files(vec!["/tank/a b.jpg".into(), "tank/fs@snap:/x".into(), "<metadata>:<0x0>".into()])
        );
        let other = MIRROR.replace("No known data errors", "List of errors unavailable: permission denied");
        let errors = parse_status(&other).unwrap()[0].errors.clone();
        assert_eq!(errors, DataErrors::Other("List of errors unavailable: permission denied".into()));
        assert!(!errors.any());
        assert!(!DataErrors::None.any() && !DataErrors::NotReported.any());
    }

    #[test]
    fn no_pools_is_an_empty_list() {
        assert_eq!(parse_status("no pools available\n").unwrap(), vec![]);
        assert_eq!(parse_status("").unwrap(), vec![]);
        assert_eq!(parse_status("\n \n").unwrap(), vec![]);
    }

    #[test]
    fn a_pool_whose_configuration_cannot_be_determined_has_no_rows() {
        let text = "  pool: tank\n state: UNAVAIL\nconfig: The configuration cannot be determined.\n";
        let p = &parse_status(text).unwrap()[0];
        assert_eq!(p.state, State::Unavail);
        assert!(p.config.is_empty());
        assert_eq!(p.other, vec![("config".to_owned(), "The configuration cannot be determined.".to_owned())]);
        assert_eq!((p.errors.clone(), p.totals()), (DataErrors::NotReported, Counters::default()));
    }

    #[test]
    fn bad_input_is_an_error_naming_the_line() {
        let cases: &[(&str, &str)] = &[
            ("hello world\n", "line 1"),
            (" state: ONLINE\n", "expected `pool:` first"),
            ("  pool: tank\nconfig:\n\n\tname state\n", "NAME STATE"),
            ("  pool: tank\n", "no `state:` line"),
            ("  pool: tank\n state: ONLINE\nconfig:\n", "without a table"),
            ("  pool: tank\n state: ONLINE\nconfig:\n\tNAME STATE READ WRITE CKSUM\n\t  sda ONLINE 0 0 0\n", "pool"),
            (
                "  pool: tank\n state: ONLINE\nconfig:\n\tNAME STATE READ WRITE CKSUM\n\ttank ONLINE 0 0 0\n\t     sda ONLINE 0 0 0\n",
                "aligned",
            ),
            (
                "  pool: tank\n state: ONLINE\nconfig:\n\tNAME STATE READ WRITE CKSUM\n\ttank ONLINE 0 0 0\n\t    sda ONLINE 0 0 0\n",
                "nested",
            ),
            ("  pool: tank\n state: ONLINE\nconfig:\n\tNAME STATE READ WRITE CKSUM\n\ttank\n", "section header before"),
            ("  pool: tank\n state: ONLINE\nerrors: No known data errors\nwhat is this\n", "line 4"),
            ("  pool:\n", "without a name"),
        ];
        for (text, expected) in cases {
            let err = parse_status(text).expect_err(text).to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn key_lines_are_told_from_continuations_and_file_names() {
        assert_eq!(key_line("  pool: tank"), Some(("pool", "tank")));
        assert_eq!(key_line("   see: http://x"), Some(("see", "http://x")));
        assert_eq!(key_line("config:"), Some(("config", "")));
        assert_eq!(
            key_line("remove: Removal of vdev 1 copied 1G in 0h0m"),
            Some(("remove", "Removal of vdev 1 copied 1G in 0h0m"))
        );
        assert_eq!(key_line("  trim: something new"), Some(("trim", "something new")), "right-aligned to column 6");
        assert_eq!(key_line("\tattempt: was made"), None);
        assert_eq!(key_line("        pool:<0x0>"), None);
        assert_eq!(key_line("pool:<0x0>"), None);
        assert_eq!(key_line("note: x"), None, "unknown and not aligned");
    }

    #[test]
    fn states_round_trip_and_unknown_ones_are_kept() {
        for s in ["ONLINE", "DEGRADED", "FAULTED", "OFFLINE", "UNAVAIL", "REMOVED", "SUSPENDED", "AVAIL", "SPLIT"] {
            assert_eq!(State::parse(s).to_string(), s);
        }
        assert_eq!(State::parse("SUSPENDED"), State::Suspended);
    }
}
