//! Name mapping between source names (any bytes but `/` and NUL) and exFAT-safe on-drive names.
//!
//! exFAT forbids `" * / : < > ? \ |` and control characters (0x00-0x1F) in names, and Windows drops
//! trailing dots and spaces. Such characters become percent-escapes `%XX` (the UTF-8 bytes in hex),
//! and `%` itself becomes `%25`, so an on-drive name decodes back to the original without the
//! manifest. Bytes that are not valid UTF-8 are escaped the same way. Names longer than 255 UTF-16
//! units are shortened with a hash suffix that keeps the extension; names that collide
//! case-insensitively (or as NFC/NFD twins) in one folder get a `~N` suffix. Those two cases are
//! only decodable through the manifest, which records every mapping.

use unicode_normalization::UnicodeNormalization;

/// exFAT's limit on a name, in UTF-16 code units.
pub const MAX_UNITS: usize = 255;

fn needs_escape(c: char) -> bool {
    matches!(c, '"' | '*' | '/' | ':' | '<' | '>' | '?' | '\\' | '|' | '%') || (c as u32) < 0x20 || c == '\u{7f}'
}

fn push_escaped_bytes(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push_str(&format!("%{b:02X}"));
    }
}

/// Escapes one source name component into a self-decodable exFAT-safe name (before shortening and
/// collision suffixes).
pub fn escape(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if needs_escape(c) {
                let mut buf = [0u8; 4];
                push_escaped_bytes(&mut out, c.encode_utf8(&mut buf).as_bytes());
            } else {
                out.push(c);
            }
        }
        push_escaped_bytes(&mut out, chunk.invalid());
    }
    // Trailing dots and spaces are dropped by Windows and refused by some exFAT drivers.
    let keep = out.trim_end_matches(['.', ' ']).len();
    if keep < out.len() {
        let tail: String = out[keep..].to_string();
        out.truncate(keep);
        push_escaped_bytes(&mut out, tail.as_bytes());
    }
    // A name the drive's temporary copies could have: the sweep of a killed run's leftovers
    // would take it for one of them (crate::partial).
    if crate::partial::is_partial_name(out.as_bytes()) {
        out.replace_range(0..1, "%2E");
    }
    out
}

/// Reverses [`escape`] (a `%` not followed by two hex digits is kept as is).
pub fn unescape(name: &str) -> Vec<u8> {
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Splits "stem.ext" at the last dot when the extension is short and the stem non-empty.
fn split_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 17 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// `name` with `~n` inserted before its extension ("a.jpg", 2 → "a~2.jpg").
pub fn with_suffix(name: &str, n: u32) -> String {
    let (stem, ext) = split_ext(name);
    format!("{stem}~{n}{ext}")
}

/// Cuts `s` to at most `units` UTF-16 units, at a char boundary and not inside a `%XX` escape.
fn cut(s: &str, units: usize) -> &str {
    let mut n = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if n + c.len_utf16() > units {
            break;
        }
        n += c.len_utf16();
        end = i + c.len_utf8();
    }
    let mut s = &s[..end];
    // Do not leave half an escape behind.
    if let Some(p) = s.rfind('%')
        && s.len() - p < 3
    {
        s = &s[..p];
    }
    s
}

/// The on-drive name for `raw` with collision number `n` (1 = no suffix), at most 255 UTF-16 units.
pub fn drive_name(raw: &[u8], n: u32) -> String {
    let escaped = escape(raw);
    let (stem, ext) = split_ext(&escaped);
    let suffix = if n > 1 { format!("~{n}") } else { String::new() };
    if utf16_len(&escaped) + suffix.len() <= MAX_UNITS {
        return format!("{stem}{suffix}{ext}");
    }
    // Too long: keep a prefix, add a hash of the whole original name, keep the extension.
    let hash = blake3::hash(raw).to_hex();
    let tag = format!("~{}{suffix}", &hash[..16]);
    let room = MAX_UNITS - utf16_len(ext) - tag.len();
    format!("{}{tag}{ext}", cut(stem, room))
}

/// The key under which two names are the same file for the drive: exFAT compares names without case
/// and macOS normalises to NFD, so this folds both.
pub fn fold(name: &str) -> String {
    name.nfc().collect::<String>().to_uppercase().to_lowercase()
}

/// The key matching a source name against a previous run's name: NFC, so a name that changed only
/// its Unicode normalisation is the same file and is not copied again.
pub fn match_key(raw: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(raw) {
        Ok(s) => s.nfc().collect::<String>().into_bytes(),
        Err(_) => raw.to_vec(),
    }
}

/// Escapes an original path for a manifest field: `%`, control characters and bytes that are not
/// UTF-8 become `%XX`; everything else is kept, so the manifest stays readable.
pub fn esc_field(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '%' || (c as u32) < 0x20 || c == '\u{7f}' {
                let mut buf = [0u8; 4];
                push_escaped_bytes(&mut out, c.encode_utf8(&mut buf).as_bytes());
            } else {
                out.push(c);
            }
        }
        push_escaped_bytes(&mut out, chunk.invalid());
    }
    out
}

/// The form of an original path shown to people and accepted in selections: the path itself when it
/// is UTF-8, else its escaped manifest form.
pub fn display(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) => esc_field(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn safe(name: &str) -> bool {
        !name.is_empty()
            && !name
                .chars()
                .any(|c| matches!(c, '"' | '*' | '/' | ':' | '<' | '>' | '?' | '\\' | '|') || (c as u32) < 0x20)
            && !name.ends_with('.')
            && !name.ends_with(' ')
            && utf16_len(name) <= MAX_UNITS
            && !crate::partial::is_partial_name(name.as_bytes())
    }

    #[test]
    fn forbidden_characters_are_escaped_and_decode_back() {
        for raw in ["a:b", "what?", "x|y<z>\"*\\", "100%", "tab\there", "dots...", "sp  ", ".", "..", "%41"] {
            let d = drive_name(raw.as_bytes(), 1);
            assert!(safe(&d), "{raw:?} -> {d:?}");
            assert_eq!(unescape(&d), raw.as_bytes(), "{raw:?} -> {d:?}");
        }
        assert_eq!(drive_name(b"a:b.jpg", 1), "a%3Ab.jpg");
        assert_eq!(drive_name(b"end. ", 1), "end%2E%20");
        assert_eq!(drive_name(b"IMG_1.JPG", 2), "IMG_1~2.JPG");
        assert_eq!(drive_name(b"README", 3), "README~3");
    }

    #[test]
    fn names_like_a_temporary_copy_are_escaped_and_decode_back() {
        for raw in [&b".keepsake-partial-1-2"[..], b".KEEPSAKE-Partial-photo.jpg"] {
            let e = escape(raw);
            assert!(e.starts_with("%2E"), "{e}");
            assert!(!crate::partial::is_partial_name(e.as_bytes()));
            assert_eq!(unescape(&e), raw);
        }
        assert_eq!(escape(b".keepsake-partia"), ".keepsake-partia");
    }

    #[test]
    fn non_utf8_names_are_escaped() {
        let raw = b"caf\xe9.jpg";
        let d = drive_name(raw, 1);
        assert_eq!(d, "caf%E9.jpg");
        assert_eq!(unescape(&d), raw);
    }

    #[test]
    fn long_names_are_shortened_keeping_the_extension_and_stay_distinct() {
        let a = format!("{}.jpeg", "é".repeat(300));
        let b = format!("{}x.jpeg", "é".repeat(300));
        let (da, db) = (drive_name(a.as_bytes(), 1), drive_name(b.as_bytes(), 1));
        assert!(utf16_len(&da) <= MAX_UNITS && da.ends_with(".jpeg"));
        assert_ne!(fold(&da), fold(&db));
        let c = ":".repeat(200); // 600 units once escaped
        let dc = drive_name(c.as_bytes(), 7);
        assert!(safe(&dc), "{dc}");
        assert!(dc.contains("~7"));
    }

    #[test]
    fn case_and_normalisation_twins_fold_alike() {
        assert_eq!(fold("Photo.JPG"), fold("photo.jpg"));
        assert_eq!(fold("e\u{301}t\u{e9}"), fold("\u{e9}te\u{301}"));
        assert_eq!(match_key("e\u{301}".as_bytes()), match_key("\u{e9}".as_bytes()));
        assert_ne!(match_key(b"A"), match_key(b"a"));
    }

    proptest! {
        #[test]
        fn escape_is_reversible_and_safe(raw in proptest::collection::vec(any::<u8>(), 1..80)) {
            let raw: Vec<u8> = raw.into_iter().map(|b| if b == b'/' || b == 0 { b'x' } else { b }).collect();
            let d = drive_name(&raw, 1);
            prop_assert!(safe(&d), "{:?}", d);
            prop_assert_eq!(unescape(&d), raw);
        }

        #[test]
        fn unicode_names_are_reversible(name in "(\\.keepsake-partial-)?[a-zA-Z0-9 .:?*|<>\"\\\\%~\u{e9}\u{301}\u{1F600}\u{0}-\u{1f}]{1,60}") {
            let d = drive_name(name.as_bytes(), 1);
            prop_assert!(safe(&d), "{:?}", d);
            prop_assert_eq!(unescape(&d), name.as_bytes());
            prop_assert_eq!(esc_field(name.as_bytes()).len() >= name.len(), true);
            prop_assert_eq!(unescape(&esc_field(name.as_bytes())), name.as_bytes());
        }

        #[test]
        fn long_names_fit(name in "[a-z\u{e9}\u{1F600}:]{200,400}", n in 1u32..5) {
            let d = drive_name(name.as_bytes(), n);
            prop_assert!(safe(&d), "{:?}", d);
            let ok = n == 1 || d.contains(&format!("~{}", n));
            prop_assert!(ok, "{:?}", d);
        }
    }
}
