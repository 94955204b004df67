//! The vocabulary of the event bus: what happened, as a typed enum. A leaf: it knows serde and the
//! API's value types, nothing of storage, so the store can persist events in the same transaction
//! as the change that caused them.
//!
//! To add an event: add a variant here with the facts a consumer needs (ids, not whole rows, which
//! consumers can read themselves), name its `topic`, and publish it where the change happens, in
//! the same transaction when the change is a database write. Variants are never renamed or removed
//! once released: the outbox may hold them across an upgrade.

use keepsake_api::{FacilityKind, FacilityState, JobState};
use serde::{Deserialize, Serialize};

/// Something that happened on the appliance that another subsystem may need to act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A job reached a terminal state (`succeeded`, `failed` or `cancelled`).
    JobFinished { job_id: i64, kind: String, outcome: JobState },
    /// A host facility's state changed between two probes.
    FacilityChanged { facility: FacilityKind, from: FacilityState, to: FacilityState },
    /// The audit log recorded a `security.*` action (a sign-in backoff, a changed security setting).
    Security { audit_id: i64, action: String, actor: String, target: Option<String>, outcome: String, source: String },
}

impl Event {
    /// The variant's name as stored in the outbox's `topic` column (the same as the JSON `type`).
    pub fn topic(&self) -> &'static str {
        match self {
            Event::JobFinished { .. } => "job_finished",
            Event::FacilityChanged { .. } => "facility_changed",
            Event::Security { .. } => "security",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_is_the_serialized_type() {
        let events = [
            Event::JobFinished { job_id: 1, kind: "host.self_check".into(), outcome: JobState::Failed },
            Event::FacilityChanged { facility: FacilityKind::Zfs, from: FacilityState::Ok, to: FacilityState::Missing },
            Event::Security {
                audit_id: 3,
                action: "security.login_backoff".into(),
                actor: "alice".into(),
                target: None,
                outcome: "locked".into(),
                source: "web".into(),
            },
        ];
        for e in events {
            let v = serde_json::to_value(&e).unwrap();
            assert_eq!(v["type"], e.topic());
            assert_eq!(serde_json::from_value::<Event>(v).unwrap(), e);
        }
    }
}
