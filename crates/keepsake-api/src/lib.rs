//! Wire types of the Keepsake agent API and a typed async client for its Unix socket.
//!
//! This crate is the one place that knows the JSON shapes crossing the agent socket. It is shared
//! by the agent (server side), the web server (which only forwards bytes but names the paths), the
//! root CLI and the tests. It knows nothing of SQL, Docker, D-Bus or how the agent does its work,
//! and it never starts a runtime: the caller brings its own.

pub mod alerts;
pub mod body;
pub mod client;
pub mod drives;
pub mod identity;
pub mod limits;
pub mod paths;
pub mod restore_points;
pub mod stack;
pub mod types;

pub use alerts::*;
pub use client::{Client, ClientError, EventStream, SseEvent};
pub use drives::*;
pub use identity::*;
pub use restore_points::*;
pub use stack::*;
pub use types::*;

/// Bytes for a person, as the agent's messages and the console write them: `512 B`, `1.5 KiB`,
/// `3.0 GiB` (powers of 1024).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// Every agent route lives under this prefix; the web server proxies exactly this prefix.
pub const API_PREFIX: &str = "/api/v1";

/// Where the agent listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/keepsake/agent.sock";
