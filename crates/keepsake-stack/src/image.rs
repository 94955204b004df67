//! Container image references ("repo:tag@sha256:…"): parsing, checking and printing.
//!
//! Owns the grammar of a reference as `docker pull` accepts it (a subset of the
//! distribution reference grammar: a tag is always required here, because the stack's
//! version rules read the tag). It knows nothing of registries: resolving a tag to a digest
//! is the agent's job.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::SpecError;

/// One image: repository, tag and, when pinned, the manifest digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageRef {
    /// "ghcr.io/immich-app/immich-server", "docker.io/valkey/valkey", "127.0.0.1:5000/a/b".
    pub repository: String,
    /// "v3.2.2", "9", "14-vectorchord0.4.3-pgvectors0.2.0".
    pub tag: String,
    /// "sha256:<64 lowercase hex>"; `None` = follow the tag.
    pub digest: Option<String>,
}

impl ImageRef {
    /// "repo:tag@sha256:…" when pinned, "repo:tag" otherwise (what `docker pull` accepts).
    pub fn reference(&self) -> String {
        match &self.digest {
            Some(d) => format!("{}:{}@{}", self.repository, self.tag, d),
            None => self.tagged(),
        }
    }

    /// "repo:tag"
    pub fn tagged(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// Parses "host:port/a/b:tag@sha256:<64 hex>" or "a/b:tag"; rejects junk, a missing tag
    /// and a digest that is not sha256 with 64 lowercase hex digits.
    pub fn parse(s: &str) -> Result<ImageRef, SpecError> {
        let bad = |why: &str| SpecError::InvalidImage { reference: s.to_string(), reason: why.to_string() };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains whitespace"));
        }
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => {
                check_digest(d).map_err(|why| bad(&why))?;
                (n, Some(d.to_string()))
            }
            None => (s, None),
        };
        // The tag follows the last ':' only if that ':' is after the last '/': in
        // "127.0.0.1:5000/a" the ':' belongs to the host.
        let last_slash = name.rfind('/');
        let (repository, tag) = match name.rfind(':') {
            Some(i) if last_slash.is_none_or(|j| i > j) => (&name[..i], &name[i + 1..]),
            _ => {
                return Err(bad("it has no tag; name one (\"repo:tag\"), because the stack's version rules read it"));
            }
        };
        check_repository(repository).map_err(|why| bad(&why))?;
        check_tag(tag).map_err(|why| bad(&why))?;
        Ok(ImageRef { repository: repository.to_string(), tag: tag.to_string(), digest })
    }

    /// Checks the fields by printing and parsing back, so a hand-built `ImageRef` obeys the
    /// same grammar as a parsed one.
    pub fn validate(&self) -> Result<(), SpecError> {
        let again = ImageRef::parse(&self.reference())?;
        if &again == self {
            Ok(())
        } else {
            Err(SpecError::InvalidImage {
                reference: self.reference(),
                reason: "its parts do not read back the same (a ':' or '@' inside the repository or tag?)".to_string(),
            })
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reference())
    }
}

fn check_digest(d: &str) -> Result<(), String> {
    let hex = d.strip_prefix("sha256:").ok_or_else(|| format!("the digest {d:?} is not \"sha256:<64 hex digits>\""))?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(format!("the digest {d:?} must have exactly 64 lowercase hex digits after \"sha256:\""));
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let ok_first = tag.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    let ok_rest = tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if tag.is_empty() {
        return Err("the tag after ':' is empty".to_string());
    }
    if !ok_first || !ok_rest || tag.len() > 128 {
        return Err(format!("the tag {tag:?} must be 1-128 of A-Za-z0-9_.- and not start with '.' or '-'"));
    }
    Ok(())
}

fn check_repository(repo: &str) -> Result<(), String> {
    if repo.is_empty() {
        return Err("the repository before ':' is empty".to_string());
    }
    let mut parts: Vec<&str> = repo.split('/').collect();
    // A first part with '.' or ':' (or "localhost") is a registry host, as Docker decides.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        check_host(parts[0])?;
        parts.remove(0);
    }
    for p in parts {
        if !is_path_component(p) {
            return Err(format!(
                "the repository part {p:?} must be lowercase a-z0-9 separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

fn check_host(h: &str) -> Result<(), String> {
    let (name, port) = match h.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (h, None),
    };
    let name_ok = !name.is_empty()
        && name.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if name_ok && port_ok { Ok(()) } else { Err(format!("the registry host {h:?} is not \"host\" or \"host:port\"")) }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, the distribution grammar for one path component.
fn is_path_component(p: &str) -> bool {
    let b = p.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &p[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-')) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:bcf63357191b76a916ae5eb93464d65c07511da41e3bf7a8416db519b40b1c23";

    #[test]
    fn accepts_good_references() {
        let cases = [
            (format!("127.0.0.1:5000/a/b:v3.2.2@{D}"), "127.0.0.1:5000/a/b", "v3.2.2", true),
            ("a/b:tag".to_string(), "a/b", "tag", false),
            ("valkey:9".to_string(), "valkey", "9", false),
            ("localhost/x_y__z:1.0-rc".to_string(), "localhost/x_y__z", "1.0-rc", false),
            (
                format!("ghcr.io/immich-app/postgres:14-vectorchord0.4.3-pgvectors0.2.0@{D}"),
                "ghcr.io/immich-app/postgres",
                "14-vectorchord0.4.3-pgvectors0.2.0",
                true,
            ),
        ];
        for (s, repo, tag, pinned) in cases {
            let r = ImageRef::parse(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(r.repository, repo, "{s}");
            assert_eq!(r.tag, tag, "{s}");
            assert_eq!(r.digest.is_some(), pinned, "{s}");
            assert_eq!(r.reference(), s, "round trip of {s}");
            assert_eq!(r.tagged(), format!("{repo}:{tag}"));
            r.validate().unwrap();
        }
    }

    #[test]
    fn rejects_junk() {
        let cases = [
            "",
            "a/b",                                                                // no tag
            "127.0.0.1:5000/a/b",                                                 // the ':' is the host's, so no tag
            &format!("a/b@{D}"),                                                  // digest but no tag
            "a/b:",                                                               // empty tag
            "a/b:tag@sha256:abc",                                                 // short digest
            "a/b:tag@md5:0123",                                                   // wrong algorithm
            &format!("a/b:tag@{}", D.to_uppercase().replace("SHA256", "sha256")), // upper hex
            "A/b:tag",                                                            // uppercase repository
            "a//b:tag",                                                           // empty component
            "a/b:-tag",                                                           // tag starts with '-'
            "a b:tag",                                                            // whitespace
            "a/b:ta:g",                                                           // ':' in the repository part
            "/a:tag",
            "a/b-:tag",
            "bad_host:99999999/a:tag",
        ];
        for s in cases {
            assert!(ImageRef::parse(s).is_err(), "accepted {s:?}");
        }
    }

    #[test]
    fn validate_catches_hand_built_junk() {
        let r = ImageRef { repository: "a/b".into(), tag: "x@y".into(), digest: None };
        assert!(r.validate().is_err());
        let r = ImageRef { repository: "a/b".into(), tag: "x".into(), digest: Some("sha256:00".into()) };
        assert!(r.validate().is_err());
    }
}
