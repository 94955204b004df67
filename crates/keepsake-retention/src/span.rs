//! [`Span`]: a calendar length of years, months, days and hours, written as restic writes
//! `--keep-within` (`2y5m7d3h`), and subtracted on the calendar of a zone.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, FixedOffset, Months, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// A length of calendar time: `years`, `months`, `days` and `hours`, all counted back from a
/// point. All zero means "no span" (`keep_within` off).
///
/// In JSON and text it is restic's notation: numbers each followed by a unit `y`, `m`, `d` or `h`,
/// each unit at most once, in any order (`"1y2m"`, `"7d"`, `"36h"`). Zero parts are left out when
/// written; the zero span is written `"0d"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Span {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    pub hours: u32,
}

/// The longest `keep_within` a valid [`crate::Policy`] may have, part by part (about a century in
/// each unit).
pub const MAX_SPAN: Span = Span { years: 100, months: 1_200, days: 36_600, hours: 878_400 };

/// Why a text is not a [`Span`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanParseError {
    #[error("a span is numbers with units, like 7d or 1y6m; got nothing")]
    Empty,
    #[error("expected a number at {at:?}")]
    NoNumber { at: String },
    #[error("the number {number} has no unit (y, m, d or h)")]
    NoUnit { number: String },
    #[error("{unit:?} is not a unit (y, m, d or h)")]
    BadUnit { unit: char },
    #[error("the unit {unit} is given twice")]
    Repeated { unit: char },
    #[error("{number} is too large")]
    TooLarge { number: String },
}

impl Span {
    /// Whether every part is zero (no span).
    pub fn is_zero(&self) -> bool {
        *self == Span::default()
    }

    /// Whether every part is within [`MAX_SPAN`].
    pub fn is_bounded(&self) -> bool {
        self.years <= MAX_SPAN.years
            && self.months <= MAX_SPAN.months
            && self.days <= MAX_SPAN.days
            && self.hours <= MAX_SPAN.hours
    }

    /// `from` minus this span, on the calendar of `zone`: months (years × 12 + months) first,
    /// clamping to the end of a shorter month, then days, then hours. `None` if that falls
    /// outside what `chrono` can represent.
    pub fn before(&self, from: DateTime<Utc>, zone: FixedOffset) -> Option<DateTime<Utc>> {
        let months = self.years.checked_mul(12)?.checked_add(self.months)?;
        let local = from
            .with_timezone(&zone)
            .checked_sub_months(Months::new(months))?
            .checked_sub_days(Days::new(u64::from(self.days)))?
            .checked_sub_signed(TimeDelta::try_hours(i64::from(self.hours))?)?;
        Some(local.with_timezone(&Utc))
    }

    /// In words, for people: "1 year, 2 months and 3 days".
    pub fn describe(&self) -> String {
        let parts: Vec<String> =
            [(self.years, "year"), (self.months, "month"), (self.days, "day"), (self.hours, "hour")]
                .into_iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, unit)| plural(n, unit))
                .collect();
        match parts.as_slice() {
            [] => "no time".to_owned(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    }
}

/// "1 day", "7 days".
pub(crate) fn plural(n: u32, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0d");
        }
        for (n, unit) in [(self.years, 'y'), (self.months, 'm'), (self.days, 'd'), (self.hours, 'h')] {
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for Span {
    type Err = SpanParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(SpanParseError::Empty);
        }
        let mut span = Span::default();
        let mut seen = [false; 4];
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            let (number, after) = rest.split_at(digits);
            if number.is_empty() {
                return Err(SpanParseError::NoNumber { at: rest.to_owned() });
            }
            let Some(unit) = after.chars().next() else {
                return Err(SpanParseError::NoUnit { number: number.to_owned() });
            };
            let value: u32 = number.parse().map_err(|_| SpanParseError::TooLarge { number: number.to_owned() })?;
            let (slot, part) = match unit {
                'y' => (0, &mut span.years),
                'm' => (1, &mut span.months),
                'd' => (2, &mut span.days),
                'h' => (3, &mut span.hours),
                other => return Err(SpanParseError::BadUnit { unit: other }),
            };
            if std::mem::replace(&mut seen[slot], true) {
                return Err(SpanParseError::Repeated { unit });
            }
            *part = value;
            rest = &after[unit.len_utf8()..];
        }
        Ok(span)
    }
}

impl TryFrom<String> for Span {
    type Error = SpanParseError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Span> for String {
    fn from(span: Span) -> String {
        span.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn span(text: &str) -> Span {
        text.parse().unwrap()
    }

    #[test]
    fn parses_restic_notation() {
        assert_eq!(span("2y5m7d3h"), Span { years: 2, months: 5, days: 7, hours: 3 });
        assert_eq!(span("1y1d1m"), Span { years: 1, months: 1, days: 1, hours: 0 });
        assert_eq!(span(" 36h "), Span { hours: 36, ..Span::default() });
        assert!(span("0d").is_zero());
    }

    #[test]
    fn refuses_what_is_not_a_span() {
        assert_eq!("".parse::<Span>(), Err(SpanParseError::Empty));
        assert_eq!("7".parse::<Span>(), Err(SpanParseError::NoUnit { number: "7".into() }));
        assert_eq!("d".parse::<Span>(), Err(SpanParseError::NoNumber { at: "d".into() }));
        assert_eq!("7w".parse::<Span>(), Err(SpanParseError::BadUnit { unit: 'w' }));
        assert_eq!("1d2d".parse::<Span>(), Err(SpanParseError::Repeated { unit: 'd' }));
        assert_eq!("-1d".parse::<Span>(), Err(SpanParseError::NoNumber { at: "-1d".into() }));
        assert!(matches!("99999999999d".parse::<Span>(), Err(SpanParseError::TooLarge { .. })));
    }

    #[test]
    fn writes_what_it_reads() {
        for text in ["2y5m7d3h", "1m", "7d", "12h", "0d"] {
            assert_eq!(span(text).to_string(), text);
        }
        assert_eq!(span("3h1y").to_string(), "1y3h");
    }

    #[test]
    fn describes_in_words() {
        assert_eq!(span("1y2m3d").describe(), "1 year, 2 months and 3 days");
        assert_eq!(span("30d").describe(), "30 days");
        assert_eq!(span("1d1h").describe(), "1 day and 1 hour");
    }

    #[test]
    fn subtracts_on_the_calendar_of_the_zone() {
        let zone = FixedOffset::east_opt(2 * 3600).unwrap();
        // 2025-03-31 10:00 local is 08:00 UTC; minus one month clamps to 28 February.
        let from = Utc.with_ymd_and_hms(2025, 3, 31, 8, 0, 0).unwrap();
        let cut = span("1m").before(from, zone).unwrap();
        assert_eq!(cut, Utc.with_ymd_and_hms(2025, 2, 28, 8, 0, 0).unwrap());
        // restic's "1y2m3d3h" from its test data's newest snapshot (UTC).
        let from = Utc.with_ymd_and_hms(2016, 1, 18, 12, 2, 3).unwrap();
        let cut = span("1y2m3d3h").before(from, FixedOffset::east_opt(0).unwrap()).unwrap();
        assert_eq!(cut, Utc.with_ymd_and_hms(2014, 11, 15, 9, 2, 3).unwrap());
    }

    #[test]
    fn serializes_as_text() {
        let json = serde_json::to_string(&span("1y6m")).unwrap();
        assert_eq!(json, "\"1y6m\"");
        assert_eq!(serde_json::from_str::<Span>(&json).unwrap(), span("1y6m"));
        assert!(serde_json::from_str::<Span>("\"6w\"").is_err());
    }
}
