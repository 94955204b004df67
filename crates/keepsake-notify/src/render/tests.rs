use keepsake_api::Severity;
use serde_json::json;

use super::*;
use crate::validate::sample_message;
use crate::{Link, Section};

const HOSTILE: &str = "<script>alert(\"x\")</script> & 'quotes' \"double\"";

#[test]
fn subject_marks_resolved_and_critical_and_stays_on_one_line() {
    let mut msg = sample_message();
    msg.title = "Pool tank\r\nBcc: victim@example.com".to_owned();
    assert_eq!(subject(&msg), "[Keepsake] Pool tank Bcc: victim@example.com");
    msg.severity = Severity::Critical;
    assert_eq!(subject(&msg), "[Keepsake] Critical: Pool tank Bcc: victim@example.com");
    msg.kind = MessageKind::Resolved;
    assert_eq!(subject(&msg), "[Keepsake] Resolved: Pool tank Bcc: victim@example.com");
    msg.kind = MessageKind::Test;
    msg.title = "x".repeat(500);
    assert_eq!(subject(&msg).chars().count(), "[Keepsake] ".len() + SUBJECT_MAX_CHARS);
}

#[test]
fn text_has_every_part_in_order_and_the_link_on_its_own_line() {
    let msg = sample_message();
    let text = text(&msg);
    let order =
        ["What happened", "What it means", "What to do", "Read more:", "Details", "This week", "Sent by Keepsake"];
    let mut at = 0;
    for part in order {
        let found = text[at..].find(part).unwrap_or_else(|| panic!("{part} missing or out of order in\n{text}"));
        at += found;
    }
    assert!(text.lines().any(|l| l == "https://keepsake.local/help/containers"), "{text}");
    assert!(text.contains("Container: immich_server\n"));
    assert!(text.contains("- 3 restarts\n"));
    assert!(text.contains("(rule containers.restarting, immich_server)"));
}

#[test]
fn empty_parts_are_left_out() {
    let mut msg = sample_message();
    msg.what_it_means.clear();
    msg.facts.clear();
    msg.sections.clear();
    msg.link = None;
    let text = text(&msg);
    assert!(!text.contains("What it means") && !text.contains("Details"), "{text}");
}

#[test]
fn html_escapes_every_value_from_the_system() {
    let mut msg = sample_message();
    msg.title = HOSTILE.to_owned();
    msg.what_happened = HOSTILE.to_owned();
    msg.facts = vec![(HOSTILE.to_owned(), HOSTILE.to_owned())];
    msg.sections = vec![Section { heading: HOSTILE.to_owned(), lines: vec![HOSTILE.to_owned()] }];
    msg.link = Some(Link { label: HOSTILE.to_owned(), url: "https://x.example/?a=1&b=\"><script>".to_owned() });
    let html = html(&msg);
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("\"double\""), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;"));
    assert!(html.contains("href=\"https://x.example/?a=1&amp;b=&quot;&gt;&lt;script&gt;\""), "{html}");
}

#[test]
fn html_has_no_external_resources_and_links_only_to_the_web() {
    let mut msg = sample_message();
    let html = html(&msg);
    for banned in ["<img", "<link", "<script", "src=", "url(", "@import"] {
        assert!(!html.contains(banned), "{banned} in\n{html}");
    }
    assert!(html.contains("href=\"https://keepsake.local/help/containers\""));
    msg.link = Some(Link { label: "Open".to_owned(), url: "javascript:alert(1)".to_owned() });
    let html = super::html(&msg);
    assert!(!html.contains("href="), "{html}");
    assert!(html.contains("javascript:alert(1)"), "the address is still shown as text");
}

#[test]
fn html_paragraphs_and_line_breaks() {
    let mut msg = sample_message();
    msg.what_happened = "one\ntwo\n\nthree".to_owned();
    let html = html(&msg);
    assert!(html.contains("<p style=\"margin:0 0 12px;\">one<br>two</p>"), "{html}");
    assert!(html.contains("<p style=\"margin:0 0 12px;\">three</p>"), "{html}");
}

#[test]
fn template_values_cannot_break_out_of_their_string() {
    let mut msg = sample_message();
    msg.title = "\", \"admin\": true, \"x\": \"\n</script>\\".to_owned();
    let value = fill_template(r#"{"text": "Alert: {{title}}!", "raw": {{title}}, "n": 1}"#, &msg).expect("filled");
    let title = one_line(&msg.title);
    assert_eq!(value, json!({ "text": format!("Alert: {title}!"), "raw": title, "n": 1 }));
    assert!(value.get("admin").is_none());
}

#[test]
fn template_placeholders_are_all_known_and_filled() {
    let msg = sample_message();
    let template = format!(
        "{{{}}}",
        PLACEHOLDERS.iter().map(|p| format!("\"{p}\": \"{{{{ {p} }}}}\"")).collect::<Vec<_>>().join(", ")
    );
    let value = fill_template(&template, &msg).expect("filled");
    assert_eq!(value["state"], "firing");
    assert_eq!(value["severity"], "warning");
    assert_eq!(value["link"], "https://keepsake.local/help/containers");
    assert_eq!(value["at"], "2026-01-02T03:04:05Z");
    assert_eq!(value["key"], "test-1");
    assert_eq!(value["rule"], "containers.restarting");
    assert!(value["summary"].as_str().unwrap_or_default().contains("Photos may not load"));
    assert!(value["text"].as_str().unwrap_or_default().contains("Details"));
}

#[test]
fn template_errors_say_what_is_wrong() {
    let msg = sample_message();
    assert_eq!(fill_template(r#"{"a": "{{nope}}"}"#, &msg), Err(TemplateError::Unknown { name: "nope".to_owned() }));
    assert!(matches!(fill_template(r#"{"a": "{{title"}"#, &msg), Err(TemplateError::Unclosed { offset: 7 })));
    assert!(matches!(fill_template(r#"{"a": "\{{title}}"}"#, &msg), Err(TemplateError::AfterBackslash { .. })));
    assert!(matches!(fill_template(r#"{"a": {{title}}"#, &msg), Err(TemplateError::NotJson { .. })));
    let message = TemplateError::Unknown { name: "nope".to_owned() }.to_string();
    assert!(
        message
            .starts_with("the template uses {{nope}}, which Keepsake does not know; the placeholders are {{title}}, ")
    );
}

#[test]
fn truncation_is_on_character_boundaries() {
    assert_eq!(truncate_chars("héllo wörld", 20), "héllo wörld");
    assert_eq!(truncate_chars("héllo wörld", 6), "héllo…");
    assert_eq!(truncate_chars("日本語のテキスト", 4), "日本語…");
    assert_eq!(truncate_chars("abc", 0), "");
    let s = "aé日😀".repeat(100);
    for max in 0..40 {
        let cut = truncate_bytes(&s, max);
        assert!(cut.len() <= max, "{max}: {cut}");
    }
    assert_eq!(truncate_bytes("aé日", 4), "a…");
    assert_eq!(truncate_bytes("aé日", 5), "a…");
    assert_eq!(truncate_bytes("aé日", 100), "aé日");
}

#[test]
fn one_line_folds_control_characters() {
    assert_eq!(one_line("  a\r\n\tb  \u{7}c "), "a b c");
}
