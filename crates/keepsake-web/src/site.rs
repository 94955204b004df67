//! Which names this server answers for, and which origins may change anything: the defence
//! against DNS rebinding and cross-site requests.
//!
//! A page on `evil.example` can make its own name resolve to this box (DNS rebinding). The browser
//! then thinks it talks to `evil.example` and lets the page read answers and send requests with a
//! matching `Origin`, so comparing `Origin` with the request's own `Host` proves nothing. What the
//! attacker cannot change is the `Host` header: it is the name in the page's address bar. So every
//! request (reads too: a rebound page can read them) must name this site in `Host`, and every
//! mutating request must also come from one of this site's origins.
//!
//! This site is:
//! - each configured public origin (`--public-origin https://keepsake.local`), exactly: its host
//!   and port, and for mutations also its scheme;
//! - each configured host name (`--allowed-host keepsake.lan` or `keepsake.lan:8080`);
//! - the loopback names `localhost`, `127.0.0.1` and `[::1]`, on any port, when the listener takes
//!   loopback connections (`install.sh --local`, and Caddy or Vite's dev server on the same box).
//!   They are safe on any port because rebinding needs a DNS name the attacker controls: an IP
//!   literal involves no DNS and browsers resolve `localhost` to loopback themselves.

use std::net::SocketAddr;

use http::uri::Authority;
use http::{HeaderMap, Method, StatusCode};
use warp::reply::Response;

use crate::guard;

/// A configured origin such as `https://keepsake.local`, read from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicOrigin {
    scheme: String,
    host: String,
    port: u16,
}

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error(
        "`{0}` is not an origin: give scheme and host, e.g. `https://keepsake.local` or `http://keepsake.lan:8080`"
    )]
    BadOrigin(String),
    #[error(
        "`{0}` is not a host name: give a name or address with an optional port, e.g. `keepsake.lan` or `192.168.1.5:8080`"
    )]
    BadHost(String),
}

impl std::str::FromStr for PublicOrigin {
    type Err = SiteError;

    fn from_str(s: &str) -> Result<PublicOrigin, SiteError> {
        let bad = || SiteError::BadOrigin(s.to_owned());
        let url = url::Url::parse(s).map_err(|_| bad())?;
        let path_is_root = url.path() == "/" || url.path().is_empty();
        if !matches!(url.scheme(), "http" | "https")
            || !path_is_root
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
        {
            return Err(bad());
        }
        let host = url.host_str().ok_or_else(bad)?.to_ascii_lowercase();
        let port = url.port_or_known_default().ok_or_else(bad)?;
        Ok(PublicOrigin { scheme: url.scheme().to_owned(), host, port })
    }
}

impl std::fmt::Display for PublicOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            write!(f, "{}://{}", self.scheme, self.host)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// A configured host name, with or without a port (without: any port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl std::str::FromStr for AllowedHost {
    type Err = SiteError;

    fn from_str(s: &str) -> Result<AllowedHost, SiteError> {
        let a = HostPort::parse(s).ok_or_else(|| SiteError::BadHost(s.to_owned()))?;
        Ok(AllowedHost { host: a.host, port: a.port })
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// `Host` or the authority of an `Origin`: lowercased host (IPv6 in brackets) and the port if given.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPort {
    host: String,
    port: Option<u16>,
}

impl HostPort {
    fn parse(s: &str) -> Option<HostPort> {
        let a: Authority = s.parse().ok()?;
        // `user@host` is an authority but never a Host header.
        if a.as_str().contains('@') || a.host().is_empty() {
            return None;
        }
        // The http crate lets a port that is no number through (`x:port`); a Host has none such.
        let port = match &a.as_str()[a.host().len()..] {
            "" => None,
            rest => Some(rest.strip_prefix(':')?.parse::<u16>().ok()?),
        };
        Some(HostPort { host: a.host().to_ascii_lowercase(), port })
    }
}

const LOOPBACK_NAMES: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// The names and origins this server accepts; see the module documentation.
#[derive(Debug, Clone)]
pub struct Site {
    origins: Vec<PublicOrigin>,
    hosts: Vec<AllowedHost>,
    loopback: bool,
}

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` is missing or not this site: answer 421.
    Host(String),
    /// A mutating request without an allowed `Origin`: answer 403.
    Origin(String),
}

impl Site {
    /// `listen` decides whether loopback names are accepted: only when loopback peers can connect.
    pub fn new(origins: Vec<PublicOrigin>, hosts: Vec<AllowedHost>, listen: SocketAddr) -> Site {
        let ip = listen.ip();
        Site { origins, hosts, loopback: ip.is_loopback() || ip.is_unspecified() }
    }

    /// Everything accepted, for messages and the start-up log.
    pub fn describe(&self) -> String {
        let mut names: Vec<String> = self.origins.iter().map(ToString::to_string).collect();
        names.extend(self.hosts.iter().map(ToString::to_string));
        if self.loopback {
            names.push("localhost, 127.0.0.1 and [::1] on any port".to_owned());
        }
        if names.is_empty() { "nothing".to_owned() } else { names.join(", ") }
    }

    fn host_allowed(&self, h: &HostPort) -> bool {
        let by_origin = self.origins.iter().any(|o| o.host == h.host && h.port.unwrap_or(o.port) == o.port);
        let by_name =
            self.hosts.iter().any(|a| a.host == h.host && a.port.is_none_or(|p| h.port.is_none_or(|hp| hp == p)));
        by_origin || by_name || (self.loopback && LOOPBACK_NAMES.contains(&h.host.as_str()))
    }

    /// Whether a request may pass: its `Host` (or the authority of an absolute request target)
    /// must be this site; a mutating request also needs an allowed `Origin`, or, without one,
    /// `Sec-Fetch-Site: same-origin`. A missing `Origin` is refused too: every browser sends it
    /// on requests that change things, so only a script would leave it out, and a script can set it.
    pub fn check(&self, method: &Method, uri_authority: Option<&str>, headers: &HeaderMap) -> Result<(), Refusal> {
        let raw = uri_authority.or_else(|| headers.get(http::header::HOST).and_then(|v| v.to_str().ok()));
        let Some(raw) = raw else {
            return Err(Refusal::Host("the request names no host (no Host header)".to_owned()));
        };
        let host = match HostPort::parse(raw) {
            Some(h) if self.host_allowed(&h) => h,
            _ => return Err(Refusal::Host(format!("`{}` is not a name of this site", shorten(raw)))),
        };
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        let site = headers.get("sec-fetch-site").map(|v| v.to_str().unwrap_or("?"));
        if let Some(s) = site
            && s != "same-origin"
        {
            return Err(Refusal::Origin(format!("Sec-Fetch-Site is `{}`", shorten(s))));
        }
        match headers.get(http::header::ORIGIN) {
            Some(o) => {
                let o = o.to_str().unwrap_or("");
                if self.origin_allowed(o, &host) {
                    Ok(())
                } else {
                    Err(Refusal::Origin(format!("Origin `{}` is not this site", shorten(o))))
                }
            }
            None if site == Some("same-origin") => Ok(()),
            None => Err(Refusal::Origin("it carries no Origin header".to_owned())),
        }
    }

    /// A configured public origin, exactly; or, for a configured host name or a loopback name, the
    /// request's own host and port (over http or https).
    fn origin_allowed(&self, origin: &str, host: &HostPort) -> bool {
        let Ok(o) = origin.parse::<PublicOrigin>() else { return false };
        if self.origins.contains(&o) {
            return true;
        }
        let same_host = o.host == host.host && host.port.unwrap_or(o.port) == o.port;
        let named = self.hosts.iter().any(|a| a.host == o.host && a.port.is_none_or(|p| p == o.port))
            || (self.loopback && LOOPBACK_NAMES.contains(&o.host.as_str()));
        same_host && named
    }

    /// The answer to a refused request, in the agent's error format.
    pub fn refusal_response(&self, method: &Method, refusal: &Refusal) -> Response {
        match refusal {
            Refusal::Host(why) => guard::error(
                StatusCode::MISDIRECTED_REQUEST,
                "web.host_not_allowed",
                format!("refused a request for another site: {why}. This server answers for {}.", self.describe()),
                Some(
                    "If this is the address you open the dashboard at, start keepsake-web with \
                     `--public-origin <scheme>://<name>[:port]` or `--allowed-host <name>[:port]` for it \
                     (on NixOS, set keepsake.caddy.dashboardHostName).",
                ),
            ),
            Refusal::Origin(why) => guard::error(
                StatusCode::FORBIDDEN,
                "web.origin_refused",
                format!("refused a {method} request that does not come from this site: {why}"),
                Some(
                    "Use the Keepsake dashboard itself; other sites may not change anything here. \
                     A script must send `Origin:` with the dashboard's address.",
                ),
            ),
        }
    }
}

/// At most 100 characters of a client's header, for messages.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 100 { s.to_owned() } else { format!("{}…", s.chars().take(100).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), HeaderValue::from_static(v))).collect()
    }

    fn site(origins: &[&str], hosts: &[&str], listen: &str) -> Site {
        Site::new(
            origins.iter().map(|o| o.parse().unwrap()).collect(),
            hosts.iter().map(|h| h.parse().unwrap()).collect(),
            listen.parse().unwrap(),
        )
    }

    fn check(s: &Site, method: Method, pairs: &[(&'static str, &'static str)]) -> Result<(), Refusal> {
        s.check(&method, None, &headers(pairs))
    }

    #[test]
    fn parses_origins_and_hosts_and_refuses_the_rest() {
        let o: PublicOrigin = "HTTPS://Keepsake.Local".parse().unwrap();
        assert_eq!(o.to_string(), "https://keepsake.local");
        assert_eq!(o.port, 443);
        assert_eq!("http://[::1]:8080/".parse::<PublicOrigin>().unwrap().to_string(), "http://[::1]:8080");
        for bad in ["keepsake.local", "ftp://x", "https://x/path", "https://u@x", "https://x?q", ""] {
            assert!(bad.parse::<PublicOrigin>().is_err(), "{bad}");
        }
        assert_eq!("Keepsake.LAN:8080".parse::<AllowedHost>().unwrap().to_string(), "keepsake.lan:8080");
        for bad in ["", "a b", "u@x", "x:port", "http://x"] {
            assert!(bad.parse::<AllowedHost>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rebound_name_is_refused_even_with_a_matching_origin() {
        let s = site(&["https://keepsake.local"], &[], "127.0.0.1:8080");
        let rebound = [("host", "evil.example:8080"), ("origin", "http://evil.example:8080")];
        assert!(matches!(check(&s, Method::POST, &rebound), Err(Refusal::Host(_))));
        assert!(matches!(check(&s, Method::GET, &rebound), Err(Refusal::Host(_))), "reads too");
        assert!(matches!(check(&s, Method::GET, &[]), Err(Refusal::Host(_))), "no Host at all");
        // An absolute request target names the host too, and wins over the header.
        let r = s.check(&Method::GET, Some("evil.example"), &headers(&[("host", "localhost:8080")]));
        assert!(matches!(r, Err(Refusal::Host(_))));
        let resp = s.refusal_response(&Method::GET, &check(&s, Method::GET, &rebound).unwrap_err());
        assert_eq!(resp.status(), StatusCode::MISDIRECTED_REQUEST);
    }

    #[test]
    fn configured_origins_must_match_exactly() {
        let s = site(&["https://keepsake.local"], &[], "127.0.0.1:8080");
        let ok = [("host", "keepsake.local"), ("origin", "https://keepsake.local")];
        assert_eq!(check(&s, Method::POST, &ok), Ok(()));
        assert_eq!(
            check(&s, Method::POST, &[("host", "keepsake.local:443"), ("origin", "https://keepsake.local")]),
            Ok(())
        );
        assert!(check(&s, Method::GET, &[("host", "keepsake.local:8443")]).is_err(), "another port");
        let http_page = [("host", "keepsake.local"), ("origin", "http://keepsake.local")];
        assert!(matches!(check(&s, Method::POST, &http_page), Err(Refusal::Origin(_))), "another scheme");
    }

    #[test]
    fn allowed_hosts_and_loopback_accept_their_own_origin() {
        let s = site(&[], &["keepsake.lan", "10.0.0.5:8080"], "0.0.0.0:8080");
        let lan = [("host", "keepsake.lan:8080"), ("origin", "http://keepsake.lan:8080")];
        assert_eq!(check(&s, Method::POST, &lan), Ok(()));
        assert_eq!(check(&s, Method::POST, &[("host", "10.0.0.5:8080"), ("origin", "http://10.0.0.5:8080")]), Ok(()));
        assert!(check(&s, Method::GET, &[("host", "10.0.0.5:9090")]).is_err());
        // Vite's dev server on another loopback port proxies with its own Host and Origin.
        let vite = [("host", "localhost:5173"), ("origin", "http://localhost:5173")];
        assert_eq!(check(&s, Method::POST, &vite), Ok(()));
        // A page on another allowed name is still another origin.
        let other = [("host", "keepsake.lan:8080"), ("origin", "http://localhost:8080")];
        assert!(matches!(check(&s, Method::POST, &other), Err(Refusal::Origin(_))));
        // Listening on a LAN address only, loopback names cannot reach this server.
        let lan_only = site(&[], &[], "10.0.0.5:8080");
        assert!(check(&lan_only, Method::GET, &[("host", "localhost:8080")]).is_err());
    }

    #[test]
    fn mutations_need_an_origin_of_this_site() {
        let s = site(&[], &[], "127.0.0.1:8080");
        let h = "127.0.0.1:8080";
        assert_eq!(check(&s, Method::POST, &[("host", h), ("origin", "http://127.0.0.1:8080")]), Ok(()));
        assert_eq!(check(&s, Method::POST, &[("host", h), ("sec-fetch-site", "same-origin")]), Ok(()));
        for refused in [
            vec![("host", h)],
            vec![("host", h), ("origin", "http://evil.example")],
            vec![("host", h), ("origin", "http://127.0.0.1:9090")],
            vec![("host", h), ("origin", "null")],
            vec![("host", h), ("sec-fetch-site", "cross-site")],
            vec![("host", h), ("sec-fetch-site", "same-site"), ("origin", "http://127.0.0.1:8080")],
        ] {
            let r = check(&s, Method::DELETE, &refused);
            assert!(matches!(r, Err(Refusal::Origin(_))), "{refused:?}: {r:?}");
        }
        assert_eq!(check(&s, Method::GET, &[("host", h), ("origin", "http://evil.example")]), Ok(()), "reads pass");
        let resp = s.refusal_response(&Method::POST, &Refusal::Origin("x".into()));
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
}
