//! [`Policy`]: what to keep, as the agent stores it (JSON), with its checks and its description in
//! words.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::RetentionError;
use crate::span::{Span, plural};

/// The largest count a rule may have.
pub const MAX_COUNT: u32 = 10_000;

/// A retention policy, restic-style: each count is a rule, 0 turns it off; `keep_within` is off
/// when absent or zero. See the crate documentation for what each rule keeps.
///
/// Deserializing does not check the policy (so a stored one can still be read and shown); call
/// [`Policy::validate`], which [`crate::apply`] also does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub keep_last: u32,
    pub keep_hourly: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub keep_yearly: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_within: Option<Span>,
}

/// A counted rule: `keep_last` or one of the calendar rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Rule {
    /// Every rule, in the order they are applied and reported.
    pub const ALL: [Rule; 6] = [Rule::Last, Rule::Hourly, Rule::Daily, Rule::Weekly, Rule::Monthly, Rule::Yearly];

    /// The name after `keep_`: "last", "hourly", …
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Last => "last",
            Rule::Hourly => "hourly",
            Rule::Daily => "daily",
            Rule::Weekly => "weekly",
            Rule::Monthly => "monthly",
            Rule::Yearly => "yearly",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Policy {
    /// The count of `rule` (0 = off).
    pub fn count(&self, rule: Rule) -> u32 {
        match rule {
            Rule::Last => self.keep_last,
            Rule::Hourly => self.keep_hourly,
            Rule::Daily => self.keep_daily,
            Rule::Weekly => self.keep_weekly,
            Rule::Monthly => self.keep_monthly,
            Rule::Yearly => self.keep_yearly,
        }
    }

    /// `keep_within`, if it is on (present and not zero).
    pub fn within(&self) -> Option<Span> {
        self.keep_within.filter(|span| !span.is_zero())
    }

    /// Whether this policy keeps nothing: every count 0 and no `keep_within`.
    pub fn is_empty(&self) -> bool {
        Rule::ALL.iter().all(|rule| self.count(*rule) == 0) && self.within().is_none()
    }

    /// Refuses a policy that keeps nothing ([`RetentionError::Empty`]), a count above
    /// [`MAX_COUNT`] and a `keep_within` beyond [`crate::MAX_SPAN`].
    pub fn validate(&self) -> Result<(), RetentionError> {
        for rule in Rule::ALL {
            let count = self.count(rule);
            if count > MAX_COUNT {
                return Err(RetentionError::CountTooLarge { rule, count });
            }
        }
        if let Some(span) = self.keep_within
            && !span.is_bounded()
        {
            return Err(RetentionError::SpanTooLong { span });
        }
        if self.is_empty() {
            return Err(RetentionError::Empty);
        }
        Ok(())
    }

    /// What this policy keeps, in words, for the dashboard: "Keeps the last 3 points, the newest
    /// point of each of the last 7 days that have one, …, and every point made less than 30 days
    /// before the newest. Pinned points are always kept."
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.keep_last > 0 {
            parts.push(if self.keep_last == 1 {
                "the newest point".to_owned()
            } else {
                format!("the newest {} points", self.keep_last)
            });
        }
        for (rule, unit) in [
            (Rule::Hourly, "hour"),
            (Rule::Daily, "day"),
            (Rule::Weekly, "week"),
            (Rule::Monthly, "month"),
            (Rule::Yearly, "year"),
        ] {
            match self.count(rule) {
                0 => {}
                1 => parts.push(format!("the newest point of the last {unit} that has one")),
                n => parts.push(format!("the newest point of each of the last {} that have one", plural(n, unit))),
            }
        }
        if let Some(span) = self.within() {
            parts.push(format!("every point made less than {} before the newest", span.describe()));
        }
        let list = match parts.as_slice() {
            [] => return "Keeps nothing: this policy is refused.".to_owned(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
        };
        let oldest = if Rule::ALL.iter().any(|rule| self.count(*rule) > 0) {
            " While a rule has fewer points than it may keep, the oldest point is kept too."
        } else {
            ""
        };
        format!("Keeps {list}.{oldest} Pinned points are always kept.")
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_policy_is_refused() {
        assert_eq!(Policy::default().validate(), Err(RetentionError::Empty));
        let zero_span = Policy { keep_within: Some(Span::default()), ..Policy::default() };
        assert_eq!(zero_span.validate(), Err(RetentionError::Empty));
        assert_eq!(Policy { keep_yearly: 1, ..Policy::default() }.validate(), Ok(()));
    }

    #[test]
    fn counts_and_spans_are_bounded() {
        let policy = Policy { keep_daily: MAX_COUNT + 1, ..Policy::default() };
        assert_eq!(policy.validate(), Err(RetentionError::CountTooLarge { rule: Rule::Daily, count: MAX_COUNT + 1 }));
        assert_eq!(Policy { keep_daily: MAX_COUNT, ..Policy::default() }.validate(), Ok(()));
        let span = Span { years: 101, ..Span::default() };
        let policy = Policy { keep_last: 1, keep_within: Some(span), ..Policy::default() };
        assert_eq!(policy.validate(), Err(RetentionError::SpanTooLong { span }));
        let error = policy.validate().unwrap_err().to_string();
        assert!(error.contains("101y"), "{error}");
    }

    #[test]
    fn json_round_trip_with_defaults() {
        let policy =
            Policy { keep_last: 3, keep_daily: 7, keep_within: Some("1y6m".parse().unwrap()), ..Policy::default() };
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            json,
            r#"{"keep_last":3,"keep_hourly":0,"keep_daily":7,"keep_weekly":0,"keep_monthly":0,"keep_yearly":0,"keep_within":"1y6m"}"#
        );
        assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), policy);
        let short: Policy = serde_json::from_str(r#"{"keep_weekly":5}"#).unwrap();
        assert_eq!(short, Policy { keep_weekly: 5, ..Policy::default() });
        assert!(serde_json::from_str::<Policy>(r#"{"keep_dayly":5}"#).is_err());
        assert!(serde_json::from_str::<Policy>(r#"{"keep_daily":-1}"#).is_err());
    }

    #[test]
    fn describes_in_words() {
        let policy = Policy {
            keep_last: 3,
            keep_daily: 7,
            keep_weekly: 1,
            keep_within: Some("30d".parse().unwrap()),
            ..Policy::default()
        };
        assert_eq!(
            policy.describe(),
            "Keeps the newest 3 points, the newest point of each of the last 7 days that have one, \
             the newest point of the last week that has one, and every point made less than \
             30 days before the newest. While a rule has fewer points than it may keep, the \
             oldest point is kept too. Pinned points are always kept."
        );
        let within = Policy { keep_within: Some("2d".parse().unwrap()), ..Policy::default() };
        assert_eq!(
            within.to_string(),
            "Keeps every point made less than 2 days before the newest. Pinned points are always \
             kept."
        );
        assert_eq!(Policy::default().describe(), "Keeps nothing: this policy is refused.");
    }
}
