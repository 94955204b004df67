//! Immich versions ("v3.2.2") and the rules an update must obey (immich.md §5: no
//! downgrades, the 1.132.3 bridge before 1.137, VectorChord for v3, no prereleases).
//!
//! Pure functions over versions and image tags: nothing here asks a registry or a server;
//! the caller passes what it read.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::image::ImageRef;

/// A semver version as Immich tags its images. Serialised as the tag string ("v3.2.2").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImmichVersion {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// "rc.1" for "v3.0.0-rc.1"
    pub prerelease: Option<String>,
}

/// A version string or server answer that is not a version.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VersionError {
    #[error(
        "{input:?} is not an Immich version: {reason}; write it as \"v3.2.2\" (or \"3.2.2\", \
         \"v3.0.0-rc.1\"); moving tags such as \"release\" or \"v3\" cannot be pinned"
    )]
    Parse { input: String, reason: &'static str },

    #[error(
        "the server's version answer has no usable {field:?} ({got}); expected \
         {{\"major\":3,\"minor\":2,\"patch\":2}} from GET /api/server/version: is this an Immich server?"
    )]
    Field { field: &'static str, got: String },
}

impl ImmichVersion {
    pub fn new(major: u64, minor: u64, patch: u64) -> Self {
        ImmichVersion { major, minor, patch, prerelease: None }
    }

    /// Reads the body of GET /api/server/version: {major, minor, patch, prerelease?}.
    pub fn from_server_version(json: &serde_json::Value) -> Result<Self, VersionError> {
        let num = |field: &'static str| {
            json.get(field)
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| VersionError::Field { field, got: describe(json.get(field)) })
        };
        let prerelease = match json.get("prerelease") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) if s.is_empty() => None,
            Some(serde_json::Value::String(s)) if valid_prerelease(s) => Some(s.clone()),
            other => return Err(VersionError::Field { field: "prerelease", got: describe(other) }),
        };
        Ok(ImmichVersion { major: num("major")?, minor: num("minor")?, patch: num("patch")?, prerelease })
    }

    /// The release with the same numbers (drops any prerelease).
    pub fn release(&self) -> ImmichVersion {
        ImmichVersion::new(self.major, self.minor, self.patch)
    }
}

fn describe(v: Option<&serde_json::Value>) -> String {
    match v {
        None => "missing".to_string(),
        Some(v) => format!("got {v}"),
    }
}

/// Dot-separated identifiers of [0-9A-Za-z-], none empty, numeric ones without leading zeros.
fn valid_prerelease(s: &str) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

impl FromStr for ImmichVersion {
    type Err = VersionError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let bad = |reason| VersionError::Parse { input: input.to_string(), reason };
        let s = input.strip_prefix('v').unwrap_or(input);
        if s.contains('+') {
            return Err(bad("build metadata (+…) is not used in Immich's tags"));
        }
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let nums: Vec<&str> = core.split('.').collect();
        if nums.len() != 3 {
            return Err(bad("it needs exactly three numbers, major.minor.patch"));
        }
        let mut n = [0u64; 3];
        for (slot, part) in n.iter_mut().zip(&nums) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("major, minor and patch must be numbers"));
            }
            if part.len() > 1 && part.starts_with('0') {
                return Err(bad("a number has a leading zero"));
            }
            *slot = part.parse().map_err(|_| bad("a number is too large"))?;
        }
        let prerelease = match pre {
            None => None,
            Some(p) if valid_prerelease(p) => Some(p.to_string()),
            Some(_) => return Err(bad("the part after '-' must be dot-separated letters, digits and '-'")),
        };
        Ok(ImmichVersion { major: n[0], minor: n[1], patch: n[2], prerelease })
    }
}

impl fmt::Display for ImmichVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(p) = &self.prerelease {
            write!(f, "-{p}")?;
        }
        Ok(())
    }
}

impl Ord for ImmichVersion {
    /// Semver precedence: numbers first; a prerelease sorts before its release; prerelease
    /// identifiers compare numerically when numeric, numeric before alphanumeric, and a
    /// shorter list first. Ties (impossible for parsed versions) fall back to the strings so
    /// that `Ord` agrees with `Eq`.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch)).then_with(|| {
            match (&self.prerelease, &other.prerelease) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => cmp_prerelease(a, b).then_with(|| a.cmp(b)),
            }
        })
    }
}

impl PartialOrd for ImmichVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn cmp_prerelease(a: &str, b: &str) -> Ordering {
    let mut ia = a.split('.');
    let mut ib = b.split('.');
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

impl Serialize for ImmichVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImmichVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The last version that runs the migrations older installs need before 1.137 (immich.md
/// §5, "Invalid upgrade path"); distributors keep it as the bridge.
pub const BRIDGE_VERSION: ImmichVersion = ImmichVersion { major: 1, minor: 132, patch: 3, prerelease: None };

/// An update that must not be started as asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpgradeError {
    #[error("Immich is already at {version}; there is nothing to update")]
    AlreadyCurrent { version: ImmichVersion },

    #[error(
        "Immich {from} cannot be changed to the earlier {to}: switching back to an earlier \
         version is not supported by Immich (its database migrations only go forward); use a \
         restore point of that version instead"
    )]
    Downgrade { from: ImmichVersion, to: ImmichVersion },

    #[error(
        "Immich {from} cannot go straight to {to}: the database needs the migrations of \
         {bridge} first. Update to {bridge} first, open Immich once (so its migrations run), \
         then update to {to}"
    )]
    BridgeRequired { from: ImmichVersion, to: ImmichVersion, bridge: ImmichVersion },

    #[error(
        "Immich {to} needs the VectorChord extension, which the database image {image} does \
         not have (v3 dropped pgvecto.rs; the server would stop with \"No vector extension \
         found\"). Switch the database image to {required} first, keeping the same PostgreSQL \
         major version"
    )]
    VectorExtension { to: ImmichVersion, image: String, required: String },

    #[error(
        "{to} is a prerelease (a test build that may change its database in ways the next \
         release does not accept); choose a released version such as v{}.{}.{} once it is out",
        to.major, to.minor, to.patch
    )]
    Prerelease { to: ImmichVersion },
}

/// Checks an update of the server+ML from `from` (None = fresh install) to `to`, with the
/// database image that will run with `to`.
#[expect(
    clippy::result_large_err,
    reason = "called once per update, not in a loop; the agent matches on the variants' fields directly"
)]
pub fn check_update(
    from: Option<&ImmichVersion>,
    to: &ImmichVersion,
    database_image: &ImageRef,
) -> Result<(), UpgradeError> {
    if let Some(from) = from {
        match to.cmp(from) {
            Ordering::Equal => return Err(UpgradeError::AlreadyCurrent { version: to.clone() }),
            Ordering::Less => {
                return Err(UpgradeError::Downgrade { from: from.clone(), to: to.clone() });
            }
            Ordering::Greater => {}
        }
    }
    if to.prerelease.is_some() {
        return Err(UpgradeError::Prerelease { to: to.clone() });
    }
    if let Some(from) = from
        && *from < ImmichVersion::new(1, 132, 0)
        && *to >= ImmichVersion::new(1, 137, 0)
    {
        return Err(UpgradeError::BridgeRequired { from: from.clone(), to: to.clone(), bridge: BRIDGE_VERSION });
    }
    if to.major >= 3 && !database_image.tag.contains("vectorchord") {
        return Err(UpgradeError::VectorExtension {
            to: to.clone(),
            image: database_image.reference(),
            required: required_postgres_family(database_image),
        });
    }
    Ok(())
}

/// "ghcr.io/immich-app/postgres:<pg>-vectorchord…", with <pg> read from the current tag's
/// leading digits ("14-…", "16", pgvecto-rs's "pg14-…") when it has them.
fn required_postgres_family(current: &ImageRef) -> String {
    let tag = current.tag.strip_prefix("pg").unwrap_or(&current.tag);
    let pg: String = tag.chars().take_while(char::is_ascii_digit).collect();
    let pg = if pg.is_empty() { "<pg>".to_string() } else { pg };
    format!("ghcr.io/immich-app/postgres:{pg}-vectorchord…")
}

#[cfg(test)]
#[path = "version_tests.rs"]
mod tests;
