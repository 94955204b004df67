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
    /// A sign-in with a wrong password (or an unknown name), for the failed-login spike rule.
    LoginFailed { name: String, source: String },

    // ZFS (published by the pool watcher when what it reads changes).
    /// A pool's health as `zpool status` reports it: its state and the error counters summed over
    /// its devices. `detail` is the status/action text, for the alert message.
    PoolHealth {
        pool: String,
        state: String,
        read_errors: u64,
        write_errors: u64,
        checksum_errors: u64,
        data_errors: bool,
        detail: String,
    },
    /// A dataset's free space (published when the whole percentage changes).
    DatasetSpace { dataset: String, available_bytes: u64, used_bytes: u64 },

    // Containers (published by the container watcher from the Docker engine's event stream).
    /// A container exited on its own with a non-zero code (a stop or kill request is not a crash).
    ContainerCrashed {
        container: String,
        exit_code: i64,
        /// The kernel killed it for lack of memory (the engine's `oom` event came first).
        #[serde(default)]
        out_of_memory: bool,
    },
    /// A container crashed `restarts` times within `window_secs`.
    ContainerRestartLoop { container: String, restarts: u32, window_secs: u32 },
    /// A container's health check turned unhealthy (`healthy: false`) or healthy again.
    ContainerHealth { container: String, healthy: bool },
    /// A container is running again (started, and not unhealthy).
    ContainerRunning { container: String },

    // Backups and restores (sources: the drives and restore-point subsystems).
    /// A drive was enrolled for backups (its "no recent backup" clock starts).
    DriveEnrolled { drive: String, label: String },
    /// A drive was removed from the backup set (its alerts resolve).
    DriveForgotten { drive: String },
    /// A backup to a drive ended.
    BackupFinished { drive: String, label: String, job_id: Option<i64>, ok: bool, error: Option<String> },
    /// A drive's backup was read back and checked (`problems`: files missing or damaged on it;
    /// `error`: the verification itself could not run to its end).
    DriveVerified {
        drive: String,
        label: String,
        job_id: Option<i64>,
        full: bool,
        files_checked: u64,
        problems: u64,
        error: Option<String>,
    },
    /// A backup or verification started on a drive: it must not be pulled out now.
    DriveInUse { drive: String, label: String },
    /// A drive was unmounted after a job and can be pulled out.
    DriveSafeToRemove { drive: String, label: String },
    /// An enrolled drive was unplugged.
    DriveUnplugged { drive: String, label: String },
    /// A restore drill (a test restore into scratch space) ended.
    RestoreDrillFinished { job_id: Option<i64>, ok: bool, error: Option<String> },
    /// A restore point was made and verified.
    RestorePointCreated { id: String, kind: String, size: u64 },

    // Updates, certificates and the host configuration.
    /// A newer Immich release than the running one is available (`latest == current`: none).
    UpdateAvailable { current: String, latest: String },
    /// The certificate Caddy serves for `host` expires at `not_after`.
    CertificateExpiry {
        host: String,
        not_before: chrono::DateTime<chrono::Utc>,
        not_after: chrono::DateTime<chrono::Utc>,
    },
    /// A `nixos-rebuild` ended.
    RebuildFinished { ok: bool, generation: Option<i64>, error: Option<String> },
}

impl Event {
    /// The variant's name as stored in the outbox's `topic` column (the same as the JSON `type`).
    pub fn topic(&self) -> &'static str {
        match self {
            Event::JobFinished { .. } => "job_finished",
            Event::FacilityChanged { .. } => "facility_changed",
            Event::Security { .. } => "security",
            Event::LoginFailed { .. } => "login_failed",
            Event::PoolHealth { .. } => "pool_health",
            Event::DatasetSpace { .. } => "dataset_space",
            Event::ContainerCrashed { .. } => "container_crashed",
            Event::ContainerRestartLoop { .. } => "container_restart_loop",
            Event::ContainerHealth { .. } => "container_health",
            Event::ContainerRunning { .. } => "container_running",
            Event::DriveEnrolled { .. } => "drive_enrolled",
            Event::DriveForgotten { .. } => "drive_forgotten",
            Event::BackupFinished { .. } => "backup_finished",
            Event::DriveVerified { .. } => "drive_verified",
            Event::DriveInUse { .. } => "drive_in_use",
            Event::DriveSafeToRemove { .. } => "drive_safe_to_remove",
            Event::DriveUnplugged { .. } => "drive_unplugged",
            Event::RestoreDrillFinished { .. } => "restore_drill_finished",
            Event::RestorePointCreated { .. } => "restore_point_created",
            Event::UpdateAvailable { .. } => "update_available",
            Event::CertificateExpiry { .. } => "certificate_expiry",
            Event::RebuildFinished { .. } => "rebuild_finished",
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
