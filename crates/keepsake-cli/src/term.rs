//! Presenting on the console: JSON or text, asking for confirmation (yes/no, or a phrase typed
//! back), durations and sizes for people, tables.

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

/// Asks the person to type `phrase` back; the answer matches when it is the phrase, give or take
/// surrounding spaces. Refuses outright when there is no one to ask, naming `without_terminal`
/// (the option that gives the phrase instead).
pub fn ask_phrase(question: &str, phrase: &str, without_terminal: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "{question} Refusing without confirmation: standard input is not a terminal. Pass {without_terminal}."
        );
    }
    eprint!("{question}\nType `{phrase}` to confirm (anything else cancels): ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(phrase_matches(&answer, phrase))
}

/// A typed (or passed) confirmation matches the phrase exactly, but for surrounding spaces and the
/// line end.
pub fn phrase_matches(answer: &str, phrase: &str) -> bool {
    answer.trim() == phrase
}

/// Prints a line where a person reads it: standard output, or standard error while standard
/// output carries JSON.
pub fn say(json: bool, line: &str) {
    if json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// Rows as aligned columns under a header, two spaces apart; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned()
    };
    let mut lines = vec![line(header.to_vec())];
    lines.extend(rows.iter().map(|r| line(r.iter().map(String::as_str).collect())));
    lines
}

/// Bytes for a person (the agent writes them the same way).
pub use keepsake_api::human_bytes;

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

    #[test]
    fn humanizes_sizes() {
        assert_eq!(super::human_bytes(0), "0 B");
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
        assert_eq!(super::human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn tables_align_columns_and_leave_the_last_ragged() {
        let rows = vec![
            vec!["kp-1".to_owned(), "12 B".to_owned(), "x".to_owned()],
            vec!["sanoid:tank@a".to_owned(), "1.5 KiB".to_owned(), String::new()],
        ];
        assert_eq!(
            super::table(&["ID", "SIZE", "NOTE"], &rows),
            ["ID             SIZE     NOTE", "kp-1           12 B     x", "sanoid:tank@a  1.5 KiB",]
        );
    }

    #[test]
    fn a_typed_phrase_must_match_but_for_spaces() {
        assert!(super::phrase_matches("reset everything\n", "reset everything"));
        assert!(super::phrase_matches("  reset everything \r\n", "reset everything"));
        assert!(!super::phrase_matches("Reset everything\n", "reset everything"));
        assert!(!super::phrase_matches("reset\n", "reset everything"));
        assert!(!super::phrase_matches("", "reset everything"));
    }
}
