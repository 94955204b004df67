//! The built-in rules: what each watches, how bad it is, its editable threshold, and the words its
//! messages use (what it means, what to do, which knowledge-base page explains it).
//!
//! Rule ids are stable: channels and stored overrides name them. To add a rule, add a [`Rule`]
//! here and teach `evaluate` which events move it.

use keepsake_api::Severity;

use crate::store::RuleOverride;

/// An editable number a rule compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThresholdSpec {
    pub default: u32,
    pub min: u32,
    pub max: u32,
    pub unit: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub severity: Severity,
    pub threshold: Option<ThresholdSpec>,
    /// The page under `docs/kb/` (without `.md`) its messages link to.
    pub help: Option<&'static str>,
    /// What a firing alert means for the photos, in plain words.
    pub meaning: &'static str,
    /// What to do about it.
    pub todo: &'static str,
    /// What a resolved alert means.
    pub resolved: &'static str,
}

pub const BACKUP_FAILED: &str = "backup.failed";
pub const BACKUP_OVERDUE: &str = "backup.overdue";
pub const BACKUP_VERIFY_FAILED: &str = "backup.verify_failed";
pub const DRIVE_SAFE_TO_REMOVE: &str = "drive.safe_to_remove";
pub const DRILL_FAILED: &str = "restore_drill.failed";
pub const POOL_UNHEALTHY: &str = "zfs.pool_unhealthy";
pub const DEVICE_ERRORS: &str = "zfs.device_errors";
pub const SPACE_LOW: &str = "zfs.space_low";
pub const CONTAINER_CRASHED: &str = "container.crashed";
pub const CONTAINER_RESTART_LOOP: &str = "container.restart_loop";
pub const CONTAINER_UNHEALTHY: &str = "container.unhealthy";
pub const UPDATE_AVAILABLE: &str = "immich.update_available";
pub const CERT_EXPIRING: &str = "tls.certificate_expiring";
pub const LOGIN_SPIKE: &str = "auth.login_spike";
pub const ACCOUNT_BACKOFF: &str = "auth.account_backoff";
pub const REBUILD_FAILED: &str = "nixos.rebuild_failed";

/// Every built-in rule, in the order the dashboard lists them.
pub const RULES: &[Rule] = &[
    Rule {
        id: BACKUP_FAILED,
        title: "A backup to a drive failed",
        description: "A backup to an enrolled USB drive ended with an error.",
        severity: Severity::Critical,
        threshold: None,
        help: Some("backup-drive-failed"),
        meaning: "The newest photos are not yet on this backup drive. The photos on the appliance are not affected.",
        todo: "Check that the drive is plugged in and not full, then start the backup again from the Backups page.",
        resolved: "A later backup to this drive succeeded.",
    },
    Rule {
        id: BACKUP_OVERDUE,
        title: "A drive has not been backed up for too long",
        description: "An enrolled drive has had no successful backup for the set number of days.",
        severity: Severity::Warning,
        threshold: Some(ThresholdSpec { default: 7, min: 1, max: 365, unit: "days" }),
        help: Some("backup-drive-failed"),
        meaning: "Photos added since the last backup exist only on the appliance.",
        todo: "Plug the backup drive in; the backup starts by itself. If it does not, see the Backups page.",
        resolved: "The drive has a recent backup again.",
    },
    Rule {
        id: BACKUP_VERIFY_FAILED,
        title: "A backup drive failed its check",
        description: "Reading a drive's backup back found files missing, changed or unreadable, or the check \
                      could not run to its end.",
        severity: Severity::Critical,
        threshold: None,
        help: Some("backup-verify-failed"),
        meaning: "Some photos on this backup drive may not come back as they were. The photos on the \
                  appliance are not affected.",
        todo: "Run the next backup to this drive (it copies damaged files again), then a full check. If \
               problems come back, the drive is failing: replace it.",
        resolved: "A later check of this drive found every file intact.",
    },
    Rule {
        id: DRIVE_SAFE_TO_REMOVE,
        title: "A backup drive can be removed",
        description: "A backup or verification on a drive ended and the drive was unmounted.",
        severity: Severity::Info,
        threshold: None,
        help: None,
        meaning: "Nothing is wrong: the drive is no longer in use and nothing is lost by pulling it out.",
        todo: "Unplug the drive and keep it somewhere safe, away from the appliance.",
        resolved: "The drive was unplugged, or is in use again.",
    },
    Rule {
        id: DRILL_FAILED,
        title: "A restore drill failed",
        description: "A test restore into scratch space did not give back a working library.",
        severity: Severity::Critical,
        threshold: None,
        help: Some("restore-drill-failed"),
        meaning: "A restore from the newest restore point might not work when you need it.",
        todo: "Open Restore points: the drill card says which step failed. Make a new restore point, then run the drill again.",
        resolved: "A later restore drill succeeded.",
    },
    Rule {
        id: POOL_UNHEALTHY,
        title: "A storage pool is not healthy",
        description: "A ZFS pool is not ONLINE (DEGRADED, FAULTED, UNAVAIL, SUSPENDED ...).",
        severity: Severity::Critical,
        threshold: None,
        help: Some("pool-degraded"),
        meaning: "A disk has failed or gone missing. With a mirror the photos are still safe on the other disk, \
                  but there is no second copy until it is fixed.",
        todo: "Do not unplug any disk. Read the help page, then replace or reconnect the failed disk.",
        resolved: "The pool is ONLINE again.",
    },
    Rule {
        id: DEVICE_ERRORS,
        title: "A disk returned errors",
        description: "A ZFS pool reports read, write or checksum errors.",
        severity: Severity::Critical,
        threshold: None,
        help: Some("zfs-checksum-errors"),
        meaning: "Some data read back from a disk was wrong or could not be read. ZFS repairs it from the \
                  other copy when there is one; without one, some files may be damaged.",
        todo: "Read the help page: run a scrub, check which files are affected, and clear the counters once \
               the cause (cable, disk) is fixed.",
        resolved: "The pool reports no errors any more.",
    },
    Rule {
        id: SPACE_LOW,
        title: "Free space is low",
        description: "A dataset has less free space than the set percentage.",
        severity: Severity::Warning,
        threshold: Some(ThresholdSpec { default: 10, min: 1, max: 50, unit: "percent free" }),
        help: Some("disk-space-low"),
        meaning: "When the disk is full, new photos cannot be uploaded and the database may stop.",
        todo: "Empty Immich's trash, remove large videos you do not need, or add a bigger disk. Never delete \
               restore points by hand.",
        resolved: "There is enough free space again.",
    },
    Rule {
        id: CONTAINER_CRASHED,
        title: "A part of Immich crashed",
        description: "A container exited on its own with an error (a stop you asked for is not a crash).",
        severity: Severity::Warning,
        threshold: None,
        help: Some("container-crashed"),
        meaning: "Immich may be unavailable or slow until the container is running again.",
        todo: "Docker restarts it by itself. If it keeps crashing, look at its log and consider rolling back \
               the last update.",
        resolved: "The container is running again.",
    },
    Rule {
        id: CONTAINER_RESTART_LOOP,
        title: "A part of Immich keeps restarting",
        description: "A container crashed several times within ten minutes.",
        severity: Severity::Critical,
        threshold: None,
        help: Some("container-crashed"),
        meaning: "Immich is probably not working. The photos themselves are files and are not affected.",
        todo: "Look at the container's log. If it started after an update, roll the update back.",
        resolved: "The container has stopped crashing.",
    },
    Rule {
        id: CONTAINER_UNHEALTHY,
        title: "A part of Immich is unhealthy",
        description: "A container's health check is failing.",
        severity: Severity::Warning,
        threshold: None,
        help: Some("container-crashed"),
        meaning: "That part of Immich is running but not answering as it should.",
        todo: "Wait a few minutes; if it stays unhealthy, look at its log.",
        resolved: "Its health check passes again.",
    },
    Rule {
        id: UPDATE_AVAILABLE,
        title: "An Immich update is available",
        description: "A newer Immich release than the running one exists.",
        severity: Severity::Info,
        threshold: None,
        help: None,
        meaning: "Nothing is wrong; a newer version with fixes is ready.",
        todo: "Update from the dashboard when it suits you: Keepsake makes a restore point first and rolls \
               back by itself if the update fails.",
        resolved: "Immich is up to date.",
    },
    Rule {
        id: CERT_EXPIRING,
        title: "A certificate is about to expire",
        description: "The TLS certificate Caddy serves expires within the set number of days and within the \
                      last third of its lifetime (when Caddy should long have renewed it).",
        severity: Severity::Warning,
        threshold: Some(ThresholdSpec { default: 14, min: 1, max: 90, unit: "days" }),
        help: Some("certificate-expiring"),
        meaning: "When it expires, browsers and the Immich apps will refuse to connect.",
        todo: "Read the help page: usually Caddy could not renew it; restarting Caddy or fixing its access \
               to the internet helps.",
        resolved: "The certificate was renewed.",
    },
    Rule {
        id: LOGIN_SPIKE,
        title: "Many failed sign-ins",
        description: "More failed sign-ins to the dashboard than the set number within 15 minutes.",
        severity: Severity::Warning,
        threshold: Some(ThresholdSpec { default: 20, min: 3, max: 10_000, unit: "failed sign-ins in 15 minutes" }),
        help: Some("sign-in-attacks"),
        meaning: "Someone may be guessing passwords.",
        todo: "Check the audit log for where the attempts come from; make sure every account has a strong \
               password and a second factor.",
        resolved: "Failed sign-ins are back to normal.",
    },
    Rule {
        id: ACCOUNT_BACKOFF,
        title: "An account is being slowed down",
        description: "Sign-ins to an account are being delayed after repeated wrong passwords.",
        severity: Severity::Warning,
        threshold: None,
        help: Some("sign-in-attacks"),
        meaning: "Someone typed a wrong password for this account many times.",
        todo: "If it was not you, change the account's password and turn on a second factor.",
        resolved: "No more wrong passwords for this account in the last hour.",
    },
    Rule {
        id: REBUILD_FAILED,
        title: "A system update failed",
        description: "Applying a change to the host's NixOS configuration failed.",
        severity: Severity::Critical,
        threshold: None,
        help: None,
        meaning: "The change was not applied; the appliance keeps running its previous configuration.",
        todo: "Open the job's log on the Jobs page; try the change again or undo it.",
        resolved: "A later change was applied.",
    },
];

pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// A rule's effective configuration: its defaults with the stored overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleConfig {
    pub rule: &'static Rule,
    pub threshold: Option<u32>,
    pub muted: bool,
    pub min_repeat_minutes: u32,
}

/// Messages of an alert that fires again sooner than this after its last one are held back.
pub const DEFAULT_MIN_REPEAT_MINUTES: u32 = 60;

impl RuleConfig {
    pub fn of(rule: &'static Rule, overrides: &[RuleOverride]) -> RuleConfig {
        let o = overrides.iter().find(|o| o.id == rule.id);
        RuleConfig {
            rule,
            threshold: rule.threshold.map(|t| o.and_then(|o| o.threshold).unwrap_or(t.default).clamp(t.min, t.max)),
            muted: o.is_some_and(|o| o.muted),
            min_repeat_minutes: o.and_then(|o| o.min_repeat_minutes).unwrap_or(DEFAULT_MIN_REPEAT_MINUTES),
        }
    }

    /// The threshold, or 0 for a rule without one.
    pub fn threshold(&self) -> u32 {
        self.threshold.unwrap_or(0)
    }
}

/// Every rule's configuration.
pub fn configs(overrides: &[RuleOverride]) -> Vec<RuleConfig> {
    RULES.iter().map(|r| RuleConfig::of(r, overrides)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_help_pages_exist() {
        let kb = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/kb");
        for (i, r) in RULES.iter().enumerate() {
            assert!(RULES[..i].iter().all(|o| o.id != r.id), "duplicate rule id {}", r.id);
            if let Some(page) = r.help {
                assert!(kb.join(format!("{page}.md")).is_file(), "rule {} links to a missing page {page}", r.id);
            }
            if let Some(t) = r.threshold {
                assert!(t.min <= t.default && t.default <= t.max, "rule {} default out of bounds", r.id);
            }
        }
    }

    #[test]
    fn overrides_apply_within_bounds() {
        let r = rule(SPACE_LOW).unwrap();
        assert_eq!(RuleConfig::of(r, &[]).threshold, Some(10));
        let o = RuleOverride { id: SPACE_LOW.into(), threshold: Some(99), muted: true, min_repeat_minutes: Some(5) };
        let c = RuleConfig::of(r, &[o]);
        assert_eq!((c.threshold, c.muted, c.min_repeat_minutes), (Some(50), true, 5));
    }
}
