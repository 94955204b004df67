//! Dump file names, as Immich writes them and as Keepsake writes its own.
//!
//! Immich (`server/src/utils/database-backups.ts`) names a dump
//! `immich-db-backup-<yyyyLLdd'T'HHmmss>-v<serverVersion>-pg<pgVersion>.sql.gz`; builds from about
//! v1.120 to v1.135 wrote `immich-db-backup-<epochMs>.sql.gz`. A dump taken before a restore is
//! prefixed `restore-point-`, an uploaded one `uploaded-`. Immich accepts any name matching
//! `^[\d\w-.]+\.sql(\.gz)?$`; this crate adds `.sql.zst` for its own dumps ([`is_valid_name`]).
//!
//! Keepsake's names are Immich's with `.sql.zst`: same fields, same order, so both sort and read
//! alike. Immich's own filter does not accept `.zst`, so Immich neither lists nor prunes them.
//!
//! **An unknown Immich version is written `vunknown`** (and `vunknown` parses back as no version).
//! The dump is still taken when Immich is down and cannot say its version. Immich reads the
//! version with `/-v(.*)-/` only to decide whether a file is an old `pg_dumpall` cluster dump
//! (version ≤ 2.4); `unknown` is not a semver, so Immich treats the file as a single-database
//! `pg_dump`, which is what Keepsake writes. The PostgreSQL version is always known (the dump
//! comes from the server) and never contains `-`, so that pattern finds the Immich version.
//!
//! Times: Immich writes the server's local wall clock (its `TZ`, UTC in the official image) with no
//! zone; Keepsake writes UTC; epoch-millisecond names are converted to UTC.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::Compression;

const BASE: &str = "immich-db-backup-";
const RESTORE_POINT: &str = "restore-point-";
const UPLOADED: &str = "uploaded-";
const TIME_FORMAT: &str = "%Y%m%dT%H%M%S";
const UNKNOWN: &str = "unknown";

/// Whether `name` passes the filter `^[\d\w-.]+\.sql(\.gz|\.zst)?$` (ASCII letters, digits, `_`,
/// `-` and `.`, then a `.sql`, `.sql.gz` or `.sql.zst` suffix after at least one character). It
/// has no `/`, so it cannot leave the directory it is joined to.
pub fn is_valid_name(name: &str) -> bool {
    split_suffix(name).is_some()
}

fn split_suffix(name: &str) -> Option<(&str, Compression)> {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')) {
        return None;
    }
    [Compression::Zstd, Compression::Gzip, Compression::None]
        .into_iter()
        .find_map(|c| name.strip_suffix(c.suffix()).map(|stem| (stem, c)))
        .filter(|(stem, _)| !stem.is_empty())
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a usable dump name: {why}")]
pub struct NameError {
    pub name: String,
    pub why: &'static str,
}

/// A dump's file name and what it says: when, which Immich and PostgreSQL versions, how it is
/// compressed, and whether it is a restore point or an upload.
///
/// Made by [`DumpName::new`] (Keepsake's own, zstd) or [`DumpName::parse`] (any valid name);
/// [`Display`](fmt::Display) gives the file name back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DumpName {
    name: String,
    created: Option<NaiveDateTime>,
    immich_version: Option<String>,
    pg_version: Option<String>,
    compression: Compression,
    restore_point: bool,
    uploaded: bool,
}

impl DumpName {
    /// Keepsake's name for a dump taken at `created`:
    /// `immich-db-backup-<UTC yyyyMMdd'T'HHmmss>-v<immich>-pg<pg>.sql.zst`.
    ///
    /// `immich_version` is Immich's server version (`1.136.0`; a leading `v` is dropped); `None`
    /// (or `"unknown"`) writes `vunknown`. `pg_server_version` is PostgreSQL's `server_version`;
    /// as Immich does, only its first word is used (`15.14 (Debian 15.14-0+deb12u1)` → `15.14`).
    pub fn new(
        created: DateTime<Utc>,
        immich_version: Option<&str>,
        pg_server_version: &str,
    ) -> Result<DumpName, NameError> {
        let time = created.format(TIME_FORMAT).to_string();
        let immich = immich_version
            .map(|v| v.strip_prefix('v').filter(|r| r.starts_with(|c: char| c.is_ascii_digit())).unwrap_or(v))
            .filter(|v| *v != UNKNOWN)
            .map(str::to_owned);
        let pg = pg_server_version.split_whitespace().next().unwrap_or_default().to_owned();
        let name =
            format!("{BASE}{time}-v{}-pg{pg}{}", immich.as_deref().unwrap_or(UNKNOWN), Compression::Zstd.suffix());
        let refuse = |why| Err(NameError { name: name.clone(), why });
        if time.len() != 15 {
            return refuse("the year must have four digits");
        }
        if immich.as_deref().is_some_and(|v| !version_ok(v, true)) {
            return refuse("the Immich version must be letters, digits, `_`, `.` or `-`");
        }
        if !version_ok(&pg, false) {
            return refuse("the PostgreSQL version must be letters, digits, `_` or `.`");
        }
        let parsed = DumpName::parse(&name)?;
        debug_assert_eq!(parsed.immich_version, immich);
        Ok(parsed)
    }

    /// Reads a file name (no directory). Anything passing [`is_valid_name`] is accepted; the
    /// time and versions are filled in when the name follows one of Immich's two styles (with or
    /// without the prefixes) and are `None` otherwise, as for an uploaded `my-dump.sql`.
    pub fn parse(name: &str) -> Result<DumpName, NameError> {
        let Some((stem, compression)) = split_suffix(name) else {
            return Err(NameError {
                name: name.to_owned(),
                why: "a dump name is ASCII letters, digits, `_`, `-` and `.` ending in .sql, .sql.gz or .sql.zst",
            });
        };
        let (uploaded, rest) = strip(stem, UPLOADED);
        let (restore_point, rest) = strip(rest, RESTORE_POINT);
        let mut out = DumpName {
            name: name.to_owned(),
            created: None,
            immich_version: None,
            pg_version: None,
            compression,
            restore_point,
            uploaded,
        };
        let Some(tail) = rest.strip_prefix(BASE) else { return Ok(out) };
        if !tail.is_empty() && tail.len() <= 16 && tail.bytes().all(|b| b.is_ascii_digit()) {
            out.created = tail.parse().ok().and_then(DateTime::from_timestamp_millis).map(|t| t.naive_utc());
        } else if let Some((time, immich, pg)) = split_versioned(tail)
            && let Ok(created) = NaiveDateTime::parse_from_str(time, TIME_FORMAT)
        {
            out.created = Some(created);
            out.immich_version = (immich != UNKNOWN).then(|| immich.to_owned());
            out.pg_version = Some(pg.to_owned());
        }
        Ok(out)
    }

    /// The file name.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// When the dump was taken, if the name says (see the module notes on time zones).
    pub fn created(&self) -> Option<NaiveDateTime> {
        self.created
    }

    /// Immich's server version, if the name gives one (`vunknown` gives none).
    pub fn immich_version(&self) -> Option<&str> {
        self.immich_version.as_deref()
    }

    /// PostgreSQL's version, if the name gives one (epoch-millisecond names do not).
    pub fn pg_version(&self) -> Option<&str> {
        self.pg_version.as_deref()
    }

    /// How the file is compressed, by its suffix.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Taken by Immich just before a restore (`restore-point-` prefix).
    pub fn is_restore_point(&self) -> bool {
        self.restore_point
    }

    /// Uploaded through Immich's maintenance page (`uploaded-` prefix).
    pub fn is_uploaded(&self) -> bool {
        self.uploaded
    }
}

fn strip<'a>(s: &'a str, prefix: &str) -> (bool, &'a str) {
    match s.strip_prefix(prefix) {
        Some(rest) => (true, rest),
        None => (false, s),
    }
}

/// `<yyyyMMdd>T<HHmmss>-v<immich>-pg<pg>` → (time, immich, pg). The PostgreSQL version never holds
/// `-`, so the last `-pg` separates the two versions even when Immich's holds a `-` (`2.5.0-rc.1`).
fn split_versioned(tail: &str) -> Option<(&str, &str, &str)> {
    let time = tail.get(..15)?;
    let shape_ok = time.bytes().enumerate().all(|(i, b)| if i == 8 { b == b'T' } else { b.is_ascii_digit() });
    let versions = tail[15..].strip_prefix("-v")?;
    let (immich, pg) = versions.rsplit_once("-pg")?;
    (shape_ok && !immich.is_empty() && version_ok(pg, false)).then_some((time, immich, pg))
}

fn version_ok(v: &str, dash: bool) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || (dash && b == b'-'))
}

impl fmt::Display for DumpName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for DumpName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DumpName::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, s).unwrap()
    }

    #[test]
    fn formats_ours_like_immich_with_zst() {
        let t = Utc.with_ymd_and_hms(2025, 7, 29, 11, 40, 18).unwrap();
        let n = DumpName::new(t, Some("1.136.0"), "14.17").unwrap();
        assert_eq!(n.as_str(), "immich-db-backup-20250729T114018-v1.136.0-pg14.17.sql.zst");
        assert_eq!(n.to_string(), n.as_str());
        assert_eq!(n.created(), Some(at(2025, 7, 29, 11, 40, 18)));
        assert_eq!(n.immich_version(), Some("1.136.0"));
        assert_eq!(n.pg_version(), Some("14.17"));
        assert_eq!(n.compression(), Compression::Zstd);
        assert!(!n.is_restore_point() && !n.is_uploaded());
        // The leading `v` some callers add, and PostgreSQL's long server_version.
        let n = DumpName::new(t, Some("v2.5.0"), "15.14 (Debian 15.14-0+deb12u1)").unwrap();
        assert_eq!(n.as_str(), "immich-db-backup-20250729T114018-v2.5.0-pg15.14.sql.zst");
    }

    #[test]
    fn unknown_immich_version_is_written_vunknown_and_reads_back_as_none() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        for v in [None, Some("unknown")] {
            let n = DumpName::new(t, v, "15.14").unwrap();
            assert_eq!(n.as_str(), "immich-db-backup-20260102T030405-vunknown-pg15.14.sql.zst");
            assert_eq!(n.immich_version(), None);
            assert_eq!(n.pg_version(), Some("15.14"));
            assert_eq!(DumpName::parse(n.as_str()).unwrap(), n);
        }
    }

    #[test]
    fn refuses_versions_that_would_break_the_name() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert!(DumpName::new(t, Some("1.2/../x"), "15").is_err());
        assert!(DumpName::new(t, Some(""), "15").is_err());
        assert!(DumpName::new(t, Some("1.2.3"), "").is_err());
        assert!(DumpName::new(t, Some("1.2.3"), "15-beta1").is_err());
        let far = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
        let err = DumpName::new(far, Some("1.2.3"), "15").unwrap_err();
        assert!(err.to_string().contains("four digits"), "{err}");
        // A prerelease Immich version keeps its dash and still parses back.
        let n = DumpName::new(t, Some("2.5.0-rc.1"), "16.4").unwrap();
        assert_eq!(DumpName::parse(n.as_str()).unwrap().immich_version(), Some("2.5.0-rc.1"));
    }

    #[test]
    fn parses_immich_names() {
        let n = DumpName::parse("immich-db-backup-20250729T114018-v1.136.0-pg14.17.sql.gz").unwrap();
        assert_eq!(n.created(), Some(at(2025, 7, 29, 11, 40, 18)));
        assert_eq!((n.immich_version(), n.pg_version()), (Some("1.136.0"), Some("14.17")));
        assert_eq!(n.compression(), Compression::Gzip);
        assert!(!n.is_restore_point() && !n.is_uploaded());

        let n = DumpName::parse("restore-point-immich-db-backup-20251201T020000-v2.5.1-pg16.4.sql.gz").unwrap();
        assert!(n.is_restore_point() && !n.is_uploaded());
        assert_eq!((n.immich_version(), n.pg_version()), (Some("2.5.1"), Some("16.4")));

        let n =
            DumpName::parse("uploaded-restore-point-immich-db-backup-20251201T020000-v2.5.1-pg16.4.sql.gz").unwrap();
        assert!(n.is_restore_point() && n.is_uploaded());
        assert_eq!(n.created(), Some(at(2025, 12, 1, 2, 0, 0)));
    }

    #[test]
    fn parses_old_epoch_millisecond_names() {
        let n = DumpName::parse("immich-db-backup-1730000000123.sql.gz").unwrap();
        assert_eq!(n.created(), Some(at(2024, 10, 27, 3, 33, 20) + chrono::Duration::milliseconds(123)));
        assert_eq!((n.immich_version(), n.pg_version()), (None, None));
        assert_eq!(n.compression(), Compression::Gzip);
    }

    #[test]
    fn other_valid_names_parse_without_fields() {
        for name in ["uploaded-my-dump.sql", "immich-db-backup-garbage.sql.gz", "x.sql.zst", "a..sql"] {
            let n = DumpName::parse(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((n.created(), n.immich_version(), n.pg_version()), (None, None, None), "{name}");
            assert_eq!(n.as_str(), name);
        }
        assert!(DumpName::parse("uploaded-my-dump.sql").unwrap().is_uploaded());
        assert_eq!(DumpName::parse("a..sql").unwrap().compression(), Compression::None);
        // A month 13 is no time: the name is kept, its fields are not.
        let n = DumpName::parse("immich-db-backup-20251399T000000-v1.2.3-pg15.sql.gz").unwrap();
        assert_eq!(n.created(), None);
    }

    #[test]
    fn the_filter_rejects_everything_else() {
        for bad in [
            "",
            ".sql",
            ".sql.gz",
            "dump.sql.gz.tmp",
            "immich-db-backup-20250729T114018-v1.136.0-pg14.17.sql.gz.tmp",
            "dump.sql.bz2",
            "dump.SQL",
            "dump.tar",
            "../etc/passwd.sql",
            "a/b.sql",
            "dump name.sql",
            "dumpé.sql",
            "dump.sql\n",
            "dump;rm.sql",
        ] {
            assert!(!is_valid_name(bad), "{bad:?} passed");
            let err = DumpName::parse(bad).unwrap_err();
            assert_eq!(err.name, bad);
            assert!(err.to_string().contains("not a usable dump name"), "{err}");
        }
        for good in ["a.sql", "a.sql.gz", "a.sql.zst", "A_b-9.x.sql", "-.sql"] {
            assert!(is_valid_name(good), "{good:?} failed");
        }
    }

    #[test]
    fn immich_version_pattern_finds_ours() {
        // Immich's findVersion is the greedy `/-v(.*)-/` over the whole name.
        let find = |name: &str| {
            let start = name.find("-v")? + 2;
            let end = name.rfind('-')?;
            (end > start).then(|| name[start..end].to_owned())
        };
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(find(DumpName::new(t, Some("2.5.0"), "15.14").unwrap().as_str()).as_deref(), Some("2.5.0"));
        assert_eq!(find(DumpName::new(t, None, "15.14").unwrap().as_str()).as_deref(), Some("unknown"));
    }
}
