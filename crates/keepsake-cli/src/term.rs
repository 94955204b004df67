//! Presenting on the console: JSON or text, asking for confirmation, durations for people.

use std::io::{IsTerminal, Write};

/// Prints `v` as JSON when asked to, otherwise runs `text`.
pub fn print_json_or<T: serde::Serialize>(json: bool, v: &T, text: impl FnOnce()) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(v)?);
    } else {
        text();
    }
    Ok(())
}

/// Asks a yes/no question on the terminal; refuses outright when there is no one to ask.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{question} Refusing without confirmation: not a terminal. Pass --yes to confirm.");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Seconds for a person: `2m 5s`, `1d 1h`.
pub fn humanize_secs(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86400, (s % 86400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn humanizes_uptime() {
        assert_eq!(super::humanize_secs(5), "5s");
        assert_eq!(super::humanize_secs(125), "2m 5s");
        assert_eq!(super::humanize_secs(7300), "2h 1m");
        assert_eq!(super::humanize_secs(90000), "1d 1h");
    }
}
