//! The resolved-identity cache: a signed-in request should cost about what an anonymous one does.
//!
//! An entry maps a session's token hash to the session and the identity it resolved to, and is
//! trusted only while (a) it is younger than the TTL and (b) the store's identity epoch still has
//! the value read *before* the entry's rows were read. Every write that changes a user, their
//! groups, their sessions, their second factors or a setting moves the epoch after it commits, so
//! such a change takes effect on the very next request; the TTL only bounds memory of old state.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::UserIdentity;
use crate::store::SessionRow;

/// Entries beyond this are dropped wholesale: a household has a handful of sessions, and a flood
/// of distinct valid tokens is not something an attacker can make.
const MAX_ENTRIES: usize = 1024;

struct Entry {
    epoch: u64,
    cached_at: Instant,
    session: SessionRow,
    identity: UserIdentity,
}

pub(super) struct IdentityCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl IdentityCache {
    pub(super) fn new(ttl: Duration) -> IdentityCache {
        IdentityCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached session and identity for `token_hash`, if still current at `epoch`.
    pub(super) fn get(&self, token_hash: &str, epoch: u64) -> Option<(SessionRow, UserIdentity)> {
        let mut entries = self.lock();
        match entries.get(token_hash) {
            Some(e) if e.epoch == epoch && e.cached_at.elapsed() < self.ttl => {
                Some((e.session.clone(), e.identity.clone()))
            }
            Some(_) => {
                entries.remove(token_hash);
                None
            }
            None => None,
        }
    }

    /// Remembers what `token_hash` resolved to; `epoch` must have been read before the rows were.
    pub(super) fn put(&self, token_hash: String, epoch: u64, session: SessionRow, identity: UserIdentity) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.epoch == epoch && e.cached_at.elapsed() < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(token_hash, Entry { epoch, cached_at: Instant::now(), session, identity });
    }

    /// Notes that the session was touched (its idle clock reset) at `at`.
    pub(super) fn touched(&self, token_hash: &str, at: DateTime<Utc>) {
        if let Some(e) = self.lock().get_mut(token_hash) {
            e.session.last_seen_at = at;
        }
    }
}
