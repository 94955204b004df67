//! Numbers as ZFS prints them: exact (`-p`, "parsable") or abbreviated for people.
//!
//! ZFS abbreviates with `zfs_nicenum`: below 1024 the plain integer, above it one to three
//! significant digits and a suffix, in powers of 1024 (`1.2K` is 1.2 × 1024). Error counters use the
//! bare suffix (`3M`); sizes may add `B` (OpenZFS prints `0B`, `96K`, `1.50G`). An abbreviated value
//! is only approximate: [`Number::exact`] says which kind was read.

/// A non-negative number read from ZFS output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    /// The value; for an abbreviated number, the abbreviation's value rounded down.
    pub value: u64,
    /// Whether the text was the exact integer (`-p` output, or any value below 1024).
    pub exact: bool,
}

const SUFFIXES: &[u8] = b"KMGTPEZ";

/// Parses `123`, `1.2K`, `3M`, `96.5G`, and with `allow_bytes` also `0B`, `1.50GB`-less forms such
/// as `512B`. Returns `None` for anything else (`-`, negative numbers, junk, overflow).
pub(crate) fn parse(text: &str, allow_bytes: bool) -> Option<Number> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().map(|value| Number { value, exact: true });
    }
    let mut digits = text;
    if allow_bytes {
        digits = digits.strip_suffix('B').unwrap_or(digits);
    }
    let (mantissa, power) = match digits.as_bytes().last() {
        Some(c) if SUFFIXES.contains(c) => {
            let power = SUFFIXES.iter().position(|s| s == c).expect("contained") as i32 + 1;
            (&digits[..digits.len() - 1], power)
        }
        // `0B`, `512B`: bytes below 1 KiB, exact.
        _ if allow_bytes && digits.len() < text.len() => (digits, 0),
        _ => return None,
    };
    let valid = !mantissa.is_empty()
        && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && mantissa.bytes().filter(|b| *b == b'.').count() <= 1
        && mantissa.bytes().next().is_some_and(|b| b.is_ascii_digit());
    if !valid {
        return None;
    }
    let m: f64 = mantissa.parse().ok()?;
    let value = m * 1024f64.powi(power);
    if !value.is_finite() || value >= u64::MAX as f64 {
        return None;
    }
    Some(Number { value: value as u64, exact: power == 0 && !mantissa.contains('.') })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(value: u64, exact: bool) -> Option<Number> {
        Some(Number { value, exact })
    }

    #[test]
    fn exact_integers() {
        assert_eq!(parse("0", false), n(0, true));
        assert_eq!(parse("1023", false), n(1023, true));
        assert_eq!(parse("18446744073709551615", false), n(u64::MAX, true));
        assert_eq!(parse("18446744073709551616", false), None, "overflow is not a number");
    }

    #[test]
    fn abbreviated_counters_are_powers_of_1024_rounded_down() {
        assert_eq!(parse("1.2K", false), n(1228, false));
        assert_eq!(parse("3M", false), n(3 * 1024 * 1024, false));
        assert_eq!(parse("1.00G", false), n(1 << 30, false));
        assert_eq!(parse("2E", false), n(2 << 60, false));
        assert_eq!(parse("16E", false), None, "overflow");
    }

    #[test]
    fn sizes_may_end_in_b() {
        assert_eq!(parse("0B", true), n(0, true));
        assert_eq!(parse("512B", true), n(512, true));
        assert_eq!(parse("96.5K", true), n(98816, false));
        assert_eq!(parse("1.50G", true), n(1610612736, false));
        assert_eq!(parse("0B", false), None, "counters have no B");
    }

    #[test]
    fn junk_is_not_a_number() {
        for bad in ["", "-", "-1", "K", ".5K", "1.2.3K", "1,2K", "12Q", "1 K", "0x10", "B"] {
            assert_eq!(parse(bad, true), None, "{bad:?}");
        }
    }
}
