//! `zfs list -H -o name,used,avail`: the space of each dataset.
//!
//! With `-p` (OpenZFS) the sizes are exact bytes; zfs-fuse 0.7 has no `-p` and prints sizes for
//! people (`1.50G`, `96K`, `0`), which are read as powers of 1024 and marked inexact. `-H` makes
//! the output tab-separated without a header, in both.

use crate::ParseError;
use crate::number;

/// One dataset's space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSpace {
    pub name: String,
    pub used_bytes: u64,
    pub available_bytes: u64,
    /// Whether both sizes were exact bytes (`-p`); abbreviated sizes are rounded down.
    pub exact: bool,
}

impl DatasetSpace {
    /// The whole percentage of the dataset's reachable space (used + available) that is free,
    /// rounded down (99.9 % free is 99). A dataset with no space at all is 0 % free.
    pub fn free_percent(&self) -> u8 {
        free_percent(self.used_bytes, self.available_bytes)
    }
}

/// [`DatasetSpace::free_percent`] from the two sizes alone (for callers that kept only those).
pub fn free_percent(used_bytes: u64, available_bytes: u64) -> u8 {
    let total = u128::from(used_bytes) + u128::from(available_bytes);
    (u128::from(available_bytes) * 100).checked_div(total).map_or(0, |p| p as u8)
}

/// Parses `zfs list -H [-p] -o name,used,avail` (columns in exactly that order). No output is
/// no datasets.
pub fn parse_list(text: &str) -> Result<Vec<DatasetSpace>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, used, avail] = fields[..] else {
            return Err(ParseError::at(i + 1, "expected 3 tab-separated columns: name, used, avail", line));
        };
        if name.is_empty() {
            return Err(ParseError::at(i + 1, "dataset without a name", line));
        }
        let size = |text: &str, what| number::parse(text, true).ok_or_else(|| ParseError::at(i + 1, what, line));
        let used = size(used, "`used` is not a size")?;
        let avail = size(avail, "`avail` is not a size")?;
        out.push(DatasetSpace {
            name: name.to_owned(),
            used_bytes: used.value,
            available_bytes: avail.value,
            exact: used.exact && avail.exact,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_bytes_from_dash_p() {
        let got = parse_list("tank\t1073741824\t3221225472\ntank/photos\t0\t3221225472\n").unwrap();
        assert_eq!(
            got[0],
            DatasetSpace { name: "tank".into(), used_bytes: 1 << 30, available_bytes: 3 << 30, exact: true }
        );
        assert_eq!(got[0].free_percent(), 75);
        assert_eq!(got[1].free_percent(), 100);
    }

    #[test]
    fn sizes_for_people_are_approximate() {
        let got = parse_list("tank\t1.50G\t96.5K\nempty\t0\t0B\n").unwrap();
        assert_eq!((got[0].used_bytes, got[0].available_bytes, got[0].exact), (1610612736, 98816, false));
        assert_eq!(got[0].free_percent(), 0, "99.99 % used rounds down to 0 % free");
        assert_eq!((got[1].used_bytes, got[1].available_bytes, got[1].exact), (0, 0, true));
        assert_eq!(got[1].free_percent(), 0);
    }

    #[test]
    fn no_output_is_no_datasets() {
        assert_eq!(parse_list("").unwrap(), vec![]);
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        for (text, expected) in [
            ("tank 1 2\n", "line 1: expected 3 tab-separated"),
            ("tank\t1\t2\ntank/a\t1\n", "line 2"),
            ("tank\t1\t2\t3\n", "3 tab-separated"),
            ("tank\t-\t2\n", "`used` is not a size"),
            ("tank\t1\tlots\n", "`avail` is not a size"),
            ("\t1\t2\n", "without a name"),
        ] {
            let err = parse_list(text).expect_err(text).to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
