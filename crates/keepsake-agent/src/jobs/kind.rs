//! The kinds of job and their declared rules, in one place: what each locks, how it is cancelled,
//! and how a job of the kind that was running when the agent died is reconciled at the next start.
//!
//! To add a kind: add a variant (carrying its parameters, e.g. `Backup { drive: String }`), then
//! give it a name and a way back from its persisted row (`from_row`: name and target), its target,
//! its [`Lock`]s, its [`Cancel`] style and its reconcile rule below. The compiler then points at
//! every match that must know of it. A rule that may answer [`Verdict::Resume`] also needs the
//! composition root's resumer (`JobManager::start`) to build the work again from the row; the work
//! then reads [`super::JobContext::resumed_from`]. Work reports through [`super::JobContext`] and
//! returns a [`keepsake_api::JobResult`] variant of its own.

use super::schedule::{Lock, Resource};

/// The kinds of job the agent runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Probe every host facility and report what is missing and what to do.
    HostSelfCheck,
    /// Make a restore point (database dump, snapshots, configuration) and apply retention.
    RestorePointCreate { kind: keepsake_api::RestorePointKind },
    /// Restore from a point, after making a pre-restore point.
    Restore { point: String },
    /// Empty Immich after a pre-reset point.
    Reset,
    /// Bring back what a reset emptied, from its pre-reset point.
    UndoReset,
    /// Load the latest dump into a throwaway database and check it.
    RestoreDrill,
    /// Mirror the library, the latest dump, the audit log and the configuration bundle onto an
    /// enrolled drive (by filesystem UUID).
    DriveBackup { drive: String },
    /// Read a drive's backup back and check it against its manifest.
    DriveVerify { drive: String },
    /// Bring files or the whole instance back from a drive.
    DriveRestore { drive: String },
    /// Make a new exFAT filesystem on a device (by its current `/dev` name).
    DriveFormat { device: String },
    /// Install the Immich stack, or converge it to what Keepsake wants (pull, create, start, wait
    /// until healthy).
    StackInstall,
    /// Update Immich to a version as one transaction (pre-update point, pull, recreate, health
    /// gate, automatic rollback).
    StackUpdate { to: String },
    /// Finish what an update interrupted by the agent's death left: back to the version before.
    StackRecover,
    /// Go back to an earlier version with its restore point's database.
    StackRollback { to: String },
    /// Start, stop or restart the whole stack, in dependency order.
    StackAction { action: keepsake_api::StackAction },
}

/// How a running job of a kind is stopped when someone cancels it. Whatever the style, a job that
/// called [`super::JobContext::point_of_no_return`] can no longer be cancelled: the cancel is
/// refused with [`super::JobsError::PastPointOfNoReturn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// The work is dropped at its next await point (child processes die with it through
    /// `kill_on_drop`). Only for work that changes nothing, such as probes.
    Abort,
    /// The work checks [`super::JobContext::checkpoint`] at safe points and returns
    /// [`super::JobFailure::Cancelled`] from the first one after the cancel; it is never dropped
    /// midway.
    Checkpoint,
    /// The work runs in a systemd unit it records with its checkpoint; it waits on
    /// [`super::JobContext::cancelled`] beside the unit and stops the unit when asked, then returns
    /// [`super::JobFailure::Cancelled`] once the unit is gone.
    StopUnit,
}

/// A job found `queued` or `running` when the agent started, and the last checkpoint its work
/// recorded: what reconciliation decides from.
pub use crate::store::Unfinished as Interrupted;

/// What to do with an interrupted job.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Start the work again; it finds its checkpoint in [`super::JobContext::resumed_from`].
    Resume,
    /// It did not finish, and why, for a person.
    Failed(String),
    /// It finished after all (a transient systemd unit that completed), with its result if known.
    Succeeded(Option<keepsake_api::JobResult>),
}

impl JobKind {
    /// The stable name stored in the database and shown on the wire, e.g. `host.self_check`.
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::HostSelfCheck => "host.self_check",
            JobKind::RestorePointCreate { .. } => "restore_point.create",
            JobKind::Restore { .. } => "restore_point.restore",
            JobKind::Reset => "instance.reset",
            JobKind::UndoReset => "instance.undo_reset",
            JobKind::RestoreDrill => "restore_point.drill",
            JobKind::DriveBackup { .. } => "drive.backup",
            JobKind::DriveVerify { .. } => "drive.verify",
            JobKind::DriveRestore { .. } => "drive.restore",
            JobKind::DriveFormat { .. } => "drive.format",
            JobKind::StackInstall => "stack.install",
            JobKind::StackUpdate { .. } => "stack.update",
            JobKind::StackRecover => "stack.recover",
            JobKind::StackRollback { .. } => "stack.rollback",
            JobKind::StackAction { .. } => "stack.action",
        }
    }

    /// The kind a persisted row names, or `None` for a kind this agent does not know.
    pub fn from_row(name: &str, target: Option<&str>) -> Option<JobKind> {
        match name {
            "host.self_check" => Some(JobKind::HostSelfCheck),
            "restore_point.create" => {
                Some(JobKind::RestorePointCreate { kind: keepsake_api::RestorePointKind::parse(target?)? })
            }
            "restore_point.restore" => Some(JobKind::Restore { point: target?.to_owned() }),
            "instance.reset" => Some(JobKind::Reset),
            "instance.undo_reset" => Some(JobKind::UndoReset),
            "restore_point.drill" => Some(JobKind::RestoreDrill),
            "drive.backup" => Some(JobKind::DriveBackup { drive: target?.to_owned() }),
            "drive.verify" => Some(JobKind::DriveVerify { drive: target?.to_owned() }),
            "drive.restore" => Some(JobKind::DriveRestore { drive: target?.to_owned() }),
            "drive.format" => Some(JobKind::DriveFormat { device: target?.to_owned() }),
            "stack.install" => Some(JobKind::StackInstall),
            "stack.update" => Some(JobKind::StackUpdate { to: target?.to_owned() }),
            "stack.recover" => Some(JobKind::StackRecover),
            "stack.rollback" => Some(JobKind::StackRollback { to: target?.to_owned() }),
            "stack.action" => Some(JobKind::StackAction { action: keepsake_api::StackAction::parse(target?)? }),
            _ => None,
        }
    }

    /// What the job works on, shown as the job's `target` (a drive's UUID, a restore point).
    pub fn target(&self) -> Option<String> {
        match self {
            JobKind::HostSelfCheck
            | JobKind::Reset
            | JobKind::UndoReset
            | JobKind::RestoreDrill
            | JobKind::StackInstall
            | JobKind::StackRecover => None,
            JobKind::StackUpdate { to } | JobKind::StackRollback { to } => Some(to.clone()),
            JobKind::StackAction { action } => Some(action.as_str().to_owned()),
            JobKind::RestorePointCreate { kind } => Some(kind.as_str().to_owned()),
            JobKind::Restore { point } => Some(point.clone()),
            JobKind::DriveBackup { drive } | JobKind::DriveVerify { drive } | JobKind::DriveRestore { drive } => {
                Some(drive.clone())
            }
            JobKind::DriveFormat { device } => Some(device.clone()),
        }
    }

    /// The resources a job of this kind holds while it runs.
    pub fn locks(&self) -> Vec<Lock> {
        match self {
            // It only reads the host; two at once would race to write the same cached answers.
            JobKind::HostSelfCheck => vec![Lock::exclusive(Resource::Facilities)],
            // A dump reads the database and the snapshot the library; neither may be replaced
            // meanwhile, and the set of points changes (a new one, retention).
            JobKind::RestorePointCreate { .. } => vec![
                Lock::exclusive(Resource::RestorePoints),
                Lock::shared(Resource::Database),
                Lock::shared(Resource::Library),
            ],
            // Everything Immich is, replaced; and a pre-point made first.
            JobKind::Restore { .. } | JobKind::Reset | JobKind::UndoReset => vec![
                Lock::exclusive(Resource::RestorePoints),
                Lock::exclusive(Resource::Database),
                Lock::exclusive(Resource::Library),
                Lock::exclusive(Resource::Stack),
            ],
            // Reads a dump (which must not be pruned meanwhile) into a database of its own.
            JobKind::RestoreDrill => vec![Lock::shared(Resource::RestorePoints), Lock::shared(Resource::Database)],
            // Writes one drive; reads the library and the latest point's dump, which a restore
            // must not replace (nor retention prune) meanwhile: the shared locks keep a restore
            // and a backup from overlapping.
            JobKind::DriveBackup { drive } => vec![
                Lock::exclusive(Resource::Drive(drive.clone())),
                Lock::shared(Resource::Library),
                Lock::shared(Resource::RestorePoints),
            ],
            // Only reads the drive, but mounts and unmounts it: nobody else may use it meanwhile.
            JobKind::DriveVerify { drive } => vec![Lock::exclusive(Resource::Drive(drive.clone()))],
            // Everything Immich is may be replaced, from the drive.
            JobKind::DriveRestore { drive } => vec![
                Lock::exclusive(Resource::Drive(drive.clone())),
                Lock::exclusive(Resource::RestorePoints),
                Lock::exclusive(Resource::Database),
                Lock::exclusive(Resource::Library),
                Lock::exclusive(Resource::Stack),
            ],
            // Keyed by the device: two formats of one device never run together.
            JobKind::DriveFormat { device } => vec![Lock::exclusive(Resource::Drive(device.clone()))],
            // Creates and replaces containers: nobody else may start, stop or replace them
            // meanwhile (a restore stops the server, a dump reads the database container).
            JobKind::StackInstall | JobKind::StackAction { .. } => {
                vec![Lock::exclusive(Resource::Stack), Lock::shared(Resource::Database)]
            }
            // Replaces the server, makes a point, and may load the database back from it.
            JobKind::StackUpdate { .. } | JobKind::StackRecover | JobKind::StackRollback { .. } => vec![
                Lock::exclusive(Resource::Stack),
                Lock::exclusive(Resource::Database),
                Lock::exclusive(Resource::RestorePoints),
                Lock::shared(Resource::Library),
            ],
        }
    }

    pub fn cancel(&self) -> Cancel {
        match self {
            // Probes change nothing, and a hung one must not keep the cancel waiting.
            JobKind::HostSelfCheck => Cancel::Abort,
            // Each stops at its next safe point and cleans up what it began; a restore refuses a
            // cancel once it replaces the database or the library (its point of no return).
            JobKind::RestorePointCreate { .. }
            | JobKind::Restore { .. }
            | JobKind::Reset
            | JobKind::UndoReset
            | JobKind::RestoreDrill
            | JobKind::DriveBackup { .. }
            | JobKind::DriveVerify { .. }
            | JobKind::DriveRestore { .. }
            | JobKind::DriveFormat { .. }
            | JobKind::StackInstall
            | JobKind::StackUpdate { .. }
            | JobKind::StackRecover
            | JobKind::StackRollback { .. }
            | JobKind::StackAction { .. } => Cancel::Checkpoint,
        }
    }

    /// Decides from what an interrupted job left whether to resume it, or what it came to.
    pub fn reconcile(&self, _left: &Interrupted) -> Verdict {
        match self {
            // Probing again is cheap and the old answers are stale anyway.
            JobKind::HostSelfCheck => {
                Verdict::Failed("interrupted: the agent stopped before this job finished; run it again".into())
            }
            // Never resumed: at start the restore points module removes a half-made point, undoes
            // a half-done database swap and starts Immich again (see restore_points::recover).
            JobKind::RestorePointCreate { .. } | JobKind::RestoreDrill => Verdict::Failed(
                "interrupted: the agent stopped before this job finished; what it had begun was removed. Run it again".into(),
            ),
            JobKind::Restore { .. } | JobKind::Reset | JobKind::UndoReset => Verdict::Failed(
                "interrupted: the agent stopped during this job. Immich was started again; if things look wrong, restore the pre-restore point this job made (see its log)".into(),
            ),
            // Every file on a drive is written under a temporary name and renamed, so a cut-off
            // run leaves nothing half-written visible; the next run continues.
            JobKind::DriveBackup { .. } | JobKind::DriveVerify { .. } => Verdict::Failed(
                "interrupted: the agent stopped during this job; the drive holds no partial files. Run it again (or plug the drive in again)".into(),
            ),
            JobKind::DriveRestore { .. } => Verdict::Failed(
                "interrupted: the agent stopped during this restore; files already restored stay, none is half-written. Run the restore again".into(),
            ),
            JobKind::DriveFormat { .. } => Verdict::Failed(
                "interrupted: the agent stopped while formatting; the drive's filesystem may be incomplete. Format it again".into(),
            ),
            // Install converges from whatever it finds, so running it again finishes the work.
            JobKind::StackInstall => Verdict::Failed(
                "interrupted: the agent stopped while installing the stack; run the install again to finish it".into(),
            ),
            JobKind::StackAction { .. } => Verdict::Failed(
                "interrupted: the agent stopped while starting or stopping the stack; some services may be stopped. Run it again".into(),
            ),
            // The update's own record (stack state) is what the agent acts on at start: a
            // `stack.recover` job brings back the version before, with its database.
            JobKind::StackUpdate { .. } | JobKind::StackRecover | JobKind::StackRollback { .. } => Verdict::Failed(
                "interrupted: the agent stopped during the update; it is being rolled back to the version before (see the stack.recover job)".into(),
            ),
        }
    }
}
