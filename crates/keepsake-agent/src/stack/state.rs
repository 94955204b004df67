//! What Keepsake chose for the stack, kept in the store's key/value table as one JSON value: it is
//! read and written whole, so a reader never sees half of a change.

use std::collections::BTreeSet;

use keepsake_api::StackService;
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

const KEY: &str = "stack.state";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackState {
    /// An install finished once (the stack exists, whatever it is doing now).
    pub installed: bool,
    /// The Immich version running (`v3.2.2`).
    pub version: Option<String>,
    pub machine_learning: bool,
    /// The digests the server and machine-learning images had when pulled for `version`.
    pub server_digest: Option<String>,
    pub ml_digest: Option<String>,
    /// Services stopped through Keepsake: a reconcile leaves them stopped.
    pub stopped: BTreeSet<StackService>,
    /// An update under way: written before the first container changes, cleared when the new
    /// version is healthy or the old one is back. Found at start, it means the agent died
    /// midway: the stack is rolled back to `from`.
    #[serde(default)]
    pub update: Option<UpdateIntent>,
    /// The versions the box ran before this one, newest first, with their pins.
    #[serde(default)]
    pub history: Vec<PastVersion>,
}

/// A version the box moved away from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastVersion {
    pub version: String,
    pub server_digest: Option<String>,
    pub ml_digest: Option<String>,
    pub until: chrono::DateTime<chrono::Utc>,
}

/// What rolling an update back needs: the version and pins before it, and its restore point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateIntent {
    pub from: String,
    pub to: String,
    pub restore_point: String,
    pub from_server_digest: Option<String>,
    pub from_ml_digest: Option<String>,
    /// Set once the new server may have started (and migrated the database): a rollback must
    /// then load the pre-update dump.
    pub started_new: bool,
}

impl Default for StackState {
    fn default() -> Self {
        StackState {
            installed: false,
            version: None,
            machine_learning: true,
            server_digest: None,
            ml_digest: None,
            stopped: BTreeSet::new(),
            update: None,
            history: Vec::new(),
        }
    }
}

pub fn load(store: &Store) -> Result<StackState, StoreError> {
    Ok(store.setting(KEY)?.and_then(|v| serde_json::from_str(&v).ok()).unwrap_or_default())
}

pub fn save(store: &Store, s: &StackState) -> Result<(), StoreError> {
    store.set_setting(KEY, &serde_json::to_string(s).expect("the stack state serialises"))
}
