//! Who is calling: the kernel's word on the socket peer, then (for the web server's requests) the
//! session cookie. Nothing a caller sends can make it root.

use http::HeaderMap;

use super::error::{ApiError, clip};
use crate::Agent;
use crate::auth::{AuthError, ClientInfo, Identity, SessionState, UserIdentity};
use crate::store::{SessionRow, UserRow};

/// Headers only keepsake-web may set (the agent ignores them from anyone else): the browser's
/// address as the web server determined it, and whether the browser used HTTPS.
pub const HEADER_CLIENT_ADDR: &str = "x-keepsake-client-addr";
pub const HEADER_CLIENT_HTTPS: &str = "x-keepsake-client-https";
/// Marks a request as coming through the web server when the web server runs as root (local
/// trials), so root's console requests and browser requests can still be told apart.
pub const HEADER_VIA_WEB: &str = "x-keepsake-via";

/// The socket peer's credentials, as the kernel reported them (SO_PEERCRED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

impl Peer {
    /// How the audit log names a console caller.
    pub fn describe(&self) -> String {
        format!("unix:uid={},pid={}", self.uid, self.pid.unwrap_or(0))
    }
}

/// Who is asking, as the API layer sees it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    /// Set when the request carried a session whose second factor is still owed.
    pub pending: Option<(SessionRow, UserRow)>,
    pub client: ClientInfo,
    /// Whether the browser reached the web server over HTTPS (cookies then get `Secure`).
    pub https: bool,
    /// Where the request came from, for the audit log.
    pub source: String,
}

impl Caller {
    pub fn actor(&self) -> String {
        self.identity.actor()
    }

    /// The signed-in user, or 401.
    pub fn user(&self) -> Result<&UserIdentity, ApiError> {
        match &self.identity {
            Identity::User(u) => Ok(u),
            _ => Err(ApiError::from(AuthError::Unauthenticated)),
        }
    }
}

/// Whether the kernel-reported peer may use the agent at all: root and the web server's user.
pub fn peer_allowed(agent: &Agent, peer: &Peer) -> bool {
    peer.uid == 0 || peer.uid == agent.config.web_uid
}

/// Works out who is calling: root at the console, or a browser user through the web server (by
/// session cookie). Client address and HTTPS headers are believed only from the web server.
pub fn identify(agent: &Agent, headers: &HeaderMap, peer: &Peer) -> Result<Caller, ApiError> {
    // A request is the web server's if it comes from the web user, or carries the web server's
    // mark (it may run as root in a local trial). Either way it is judged by its session: the
    // root console's trust is never lent to a browser.
    let web_uid = agent.config.web_uid;
    let from_web = (peer.uid == web_uid && web_uid != 0) || headers.contains_key(HEADER_VIA_WEB);
    if !from_web {
        return Ok(Caller {
            identity: if peer.uid == 0 { Identity::Root } else { Identity::Anonymous },
            pending: None,
            client: ClientInfo { address: None, user_agent: "keepsake console".into() },
            https: false,
            source: peer.describe(),
        });
    }
    // Bounded before anything can store them: these come from a browser.
    let header = |n: &str, max: usize| headers.get(n).and_then(|v| v.to_str().ok()).map(|v| clip(v, max));
    let address = header(HEADER_CLIENT_ADDR, 64);
    let client = ClientInfo { address: address.clone(), user_agent: header("user-agent", 200).unwrap_or_default() };
    let token = cookie_value(headers, crate::auth::COOKIE);
    let (identity, pending) = match agent.auth.session_state(token.as_deref())? {
        SessionState::None => (Identity::Anonymous, None),
        SessionState::Pending { session, user } => (Identity::Anonymous, Some((*session, *user))),
        SessionState::Complete(u) => (Identity::User(u), None),
    };
    Ok(Caller {
        identity,
        pending,
        client,
        https: header(HEADER_CLIENT_HTTPS, 1).as_deref() == Some("1"),
        source: address.map(|a| format!("{a} via web")).unwrap_or_else(|| "web".into()),
    })
}

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';').find_map(|pair| {
            let (k, val) = pair.trim().split_once('=')?;
            (k == name).then(|| val.to_owned())
        })
    })
}
