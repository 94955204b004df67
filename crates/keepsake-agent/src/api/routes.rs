//! The route table: the single source of truth for what the agent's API offers.
//!
//! One row per route: method and path, operation id (also the audit action), the permission it
//! needs, its query type, its body type, its success status and reply type, its handler, and a
//! summary. The dispatcher, the request parsing, the OpenAPI document and the audit trail are all
//! derived from these rows; the handler's signature must match the row's types or it does not
//! compile.

use std::sync::LazyLock;

use http::Method;
use keepsake_api as w;
use keepsake_api::paths::*;

use super::contract::{ContainerLogEvents, JobEvents, JsonOrCsv, NoBody, NoQuery, Route, WithCookie};
use super::{
    account, alerts, audit, drives, groups, host, jobs, password_reset, restore_points as rp, session, settings, stack,
    users,
};
use crate::auth::Permission;

/// `route!(METHOD PATH, operation id, permission, Query, Body => status Reply, handler, summary)`
macro_rules! route {
    ($m:ident $path:expr, $op:literal, $perm:ident, $q:ty, $b:ty => $status:literal $r:ty, $h:path, $summary:literal) => {
        Route::new::<$q, $b, $r, _, _>(Method::$m, $path, $op, Permission::$perm, $status, $summary, $h)
    };
}

pub static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    vec![
        route!(GET HEALTH, "health", Public, NoQuery, NoBody => 200 w::Health, host::health, "Is the agent alive"),
        route!(GET STATUS, "status", HostView, NoQuery, NoBody => 200 w::Status, host::status, "Agent version, uptime and the host facilities it found"),
        route!(GET OPENAPI, "openapi", Public, NoQuery, NoBody => 200 w::OpenApiDocument, host::openapi, "This API, described in OpenAPI 3"),
        route!(POST SELF_CHECK, "host.self_check", HostCheck, NoQuery, w::NoParams => 202 w::Job, host::start_self_check, "Start a host self-check job (202: the queued job)"),
        route!(GET STACK, "stack.status", StackView, NoQuery, NoBody => 200 w::StackStatus, stack::status, "Every service of the Immich stack: state, health, uptime, restarts, image and version, CPU and memory, and drift from what Keepsake wants"),
        route!(POST STACK_INSTALL, "stack.install", StackManage, NoQuery, w::StackInstallRequest => 202 w::Job, stack::install, "Install the Immich stack, or converge it after hand edits: pull what is missing, make what is missing or changed, start, wait until healthy (202: the job)"),
        route!(POST STACK_ACTION, "stack.action", StackManage, NoQuery, w::StackActionRequest => 202 w::Job, stack::whole_action, "Start, stop or restart the whole stack in dependency order (the database first up, last down); a start waits until every service is healthy (202: the job)"),
        route!(POST STACK_UPDATE, "stack.update", UpdatesManage, NoQuery, w::StackUpdateRequest => 202 w::Job, stack::update, "Update Immich to a version as one transaction: a pre-update restore point, pull, recreate, health gate; back to the version before, with its database, if it fails (202: the job)"),
        route!(GET STACK_UPDATES, "stack.updates", UpdatesView, w::StackUpdateCheckQuery, NoBody => 200 w::StackUpdateCheck, stack::updates, "Whether a newer Immich is available: the version this Keepsake release runs, its digest from the registry's manifest (nothing is pulled), its release notes, and whether it can be taken directly; cached for hours unless `refresh`"),
        route!(GET STACK_VERSIONS, "stack.versions", UpdatesView, NoQuery, NoBody => 200 w::StackVersions, stack::versions, "The Immich versions this box ran, newest first, and whether it can go back to each (images still here, a restore point of it)"),
        route!(POST STACK_ROLLBACK, "stack.rollback", RestoreRun, NoQuery, w::StackRollbackRequest => 202 w::Job, stack::rollback, "Go back to an earlier version with the database of its restore point, after a restore point of now; confirm with `roll back` (202: the job)"),
        route!(GET STACK_SERVICE_LOGS, "stack.logs", StackView, w::ContainerLogQuery, NoBody => 200 w::ContainerLogs, stack::logs, "A page of a service's log, oldest first (since, until, tail, streams, a text filter); `oldest` asks for the page before"),
        route!(GET STACK_SERVICE_LOGS_FOLLOW, "stack.logs_follow", StackView, w::ContainerLogQuery, NoBody => 200 ContainerLogEvents, stack::follow_logs, "What a service writes from now on (or from `since`, for a client that reconnects), as `line` events (filtered by `stream` and `filter`)"),
        route!(POST STACK_SERVICE_ACTION, "stack.service_action", StackManage, NoQuery, w::StackActionRequest => 200 w::Done, stack::service_action, "Start, stop or restart one service now (a service stopped here stays stopped until started here)"),
        route!(GET JOBS, "jobs.list", JobsView, w::JobQuery, NoBody => 200 w::JobList, jobs::list, "Jobs, newest first"),
        route!(GET JOB, "jobs.get", JobsView, NoQuery, NoBody => 200 w::Job, jobs::get, "One job"),
        route!(GET JOB_LOG, "jobs.log", JobsView, NoQuery, NoBody => 200 w::JobLog, jobs::log, "A job's log lines"),
        route!(GET JOB_EVENTS, "jobs.events", JobsView, NoQuery, NoBody => 200 JobEvents, jobs::events, "Live events of one job: `job` snapshots and `log` lines; ends after the job ends"),
        route!(POST JOB_CANCEL, "jobs.cancel", JobsCancel, NoQuery, w::NoParams => 200 w::Job, jobs::cancel, "Cancel a queued or running job"),
        route!(GET EVENTS, "events", JobsView, NoQuery, NoBody => 200 JobEvents, jobs::all_events, "Live `job` events of every job (active jobs are sent first)"),
        route!(GET AUTH_STATE, "auth.state", Public, NoQuery, NoBody => 200 w::AuthState, session::state, "Whether setup is needed, who is signed in, and any second factor owed"),
        route!(POST AUTH_SETUP, "auth.setup", Public, NoQuery, w::SetupRequest => 201 WithCookie<w::LoginResponse>, session::setup, "First run only: create the owner account and sign in"),
        route!(POST AUTH_LOGIN, "auth.login", Public, NoQuery, w::LoginRequest => 200 WithCookie<w::LoginResponse>, session::login, "Sign in with name and password (a second factor may follow)"),
        route!(POST AUTH_LOGIN_TOTP, "auth.login_totp", Public, NoQuery, w::CodeRequest => 200 w::LoginResponse, session::login_totp, "Second factor: a code from the authenticator app"),
        route!(POST AUTH_LOGIN_RECOVERY, "auth.login_recovery", Public, NoQuery, w::CodeRequest => 200 w::LoginResponse, session::login_recovery, "Second factor: a one-time recovery code"),
        route!(POST AUTH_PASSKEY_BEGIN, "auth.passkey_begin", Public, NoQuery, w::NameRequest => 200 w::PasskeyChallenge, session::passkey_begin, "Start signing in with a passkey (passwordless, or as the second factor)"),
        route!(POST AUTH_PASSKEY_FINISH, "auth.passkey_finish", Public, NoQuery, w::PasskeyAnswer => 200 WithCookie<w::LoginResponse>, session::passkey_finish, "Finish signing in with a passkey"),
        route!(GET PASSWORD_RESET, "auth.password_reset_available", Public, NoQuery, NoBody => 200 w::PasswordResetAvailability, password_reset::availability, "Whether a forgotten password can be reset by email"),
        route!(POST PASSWORD_RESET_REQUEST, "auth.password_reset_request", Public, NoQuery, w::PasswordResetRequest => 202 w::Done, password_reset::request, "Email a single-use reset link to the account's address (the answer never says whether the account exists)"),
        route!(POST PASSWORD_RESET_CONFIRM, "auth.password_reset_confirm", Public, NoQuery, w::PasswordResetConfirm => 200 w::Done, password_reset::confirm, "Set a new password with a reset link's token (ends every session of the account)"),
        route!(POST AUTH_LOGOUT, "auth.logout", Authenticated, NoQuery, w::NoParams => 200 WithCookie<w::Done>, session::logout, "Sign out (end this session)"),
        route!(GET ME, "me.get", Authenticated, NoQuery, NoBody => 200 w::Me, account::me, "The signed-in user"),
        route!(POST ME_PASSWORD, "me.password", Authenticated, NoQuery, w::PasswordChange => 200 w::Done, account::change_password, "Change my password (ends my other sessions)"),
        route!(POST ME_TOTP_BEGIN, "me.totp_begin", Authenticated, NoQuery, w::NoParams => 200 w::TotpEnrollment, account::totp_begin, "Start setting up an authenticator app"),
        route!(POST ME_TOTP_CONFIRM, "me.totp_confirm", Authenticated, NoQuery, w::CodeRequest => 200 w::RecoveryCodes, account::totp_confirm, "Confirm the authenticator app with a code; returns recovery codes"),
        route!(POST ME_TOTP_DISABLE, "me.totp_disable", Authenticated, NoQuery, w::PasswordConfirm => 200 w::Done, account::totp_disable, "Remove the authenticator app"),
        route!(POST ME_RECOVERY_CODES, "me.recovery_codes", Authenticated, NoQuery, w::PasswordConfirm => 200 w::RecoveryCodes, account::recovery_codes, "Make new recovery codes (the old ones stop working)"),
        route!(GET ME_PASSKEYS, "me.passkeys", Authenticated, NoQuery, NoBody => 200 w::PasskeyList, account::passkeys, "My passkeys"),
        route!(POST ME_PASSKEYS_BEGIN, "me.passkey_begin", Authenticated, NoQuery, w::PasskeyNameRequest => 200 w::PasskeyChallenge, account::passkey_register_begin, "Start adding a passkey"),
        route!(POST ME_PASSKEYS_FINISH, "me.passkey_finish", Authenticated, NoQuery, w::PasskeyAnswer => 201 w::PasskeyInfo, account::passkey_register_finish, "Finish adding a passkey"),
        route!(DELETE ME_PASSKEY, "me.passkey_delete", Authenticated, NoQuery, NoBody => 200 w::Done, account::passkey_delete, "Remove one of my passkeys"),
        route!(GET ME_SESSIONS, "me.sessions", Authenticated, NoQuery, NoBody => 200 w::SessionList, account::sessions, "My sessions"),
        route!(DELETE ME_SESSION, "me.session_revoke", Authenticated, NoQuery, NoBody => 200 w::Done, account::revoke_session, "End one of my sessions"),
        route!(GET USERS, "users.list", UsersView, NoQuery, NoBody => 200 w::UserList, users::list, "All accounts"),
        route!(POST USERS, "users.create", UsersManage, NoQuery, w::NewUser => 201 w::UserInfo, users::create, "Create an account"),
        route!(GET USER, "users.get", UsersView, NoQuery, NoBody => 200 w::UserInfo, users::get, "One account"),
        route!(PATCH USER, "users.update", UsersManage, NoQuery, w::UserUpdate => 200 w::UserInfo, users::update, "Change an account's role, name, groups or disabled state"),
        route!(DELETE USER, "users.delete", UsersManage, NoQuery, NoBody => 200 w::Done, users::delete, "Delete an account"),
        route!(POST USER_PASSWORD, "users.set_password", UsersManage, NoQuery, w::PasswordSet => 200 w::Done, users::set_password, "Set someone's password (ends their sessions)"),
        route!(POST USER_RESET_SECOND_FACTOR, "users.reset_second_factor", UsersManage, NoQuery, w::NoParams => 200 w::Done, users::reset_second_factor, "Remove someone's authenticator app, recovery codes and passkeys"),
        route!(GET GROUPS, "groups.list", UsersView, NoQuery, NoBody => 200 w::GroupList, groups::list, "Custom groups"),
        route!(POST GROUPS, "groups.create", UsersManage, NoQuery, w::GroupUpsert => 201 w::GroupInfo, groups::create, "Create a group with a set of permissions"),
        route!(PUT GROUP, "groups.update", UsersManage, NoQuery, w::GroupUpsert => 200 w::GroupInfo, groups::update, "Rename a group or change its permissions"),
        route!(DELETE GROUP, "groups.delete", UsersManage, NoQuery, NoBody => 200 w::Done, groups::delete, "Delete a group"),
        route!(GET PERMISSIONS, "permissions", UsersView, NoQuery, NoBody => 200 w::PermissionCatalog, groups::permissions, "What can be granted, and what each role holds"),
        route!(GET AUDIT, "audit.list", AuditView, w::AuditQuery, NoBody => 200 JsonOrCsv<w::AuditList>, audit::list, "The audit log, newest first; filter, or export as CSV"),
        route!(POST AUDIT_VERIFY, "audit.verify", AuditView, NoQuery, w::AuditVerifyRequest => 200 w::AuditVerification, audit::verify, "Check the audit log's hash chain"),
        route!(GET SECURITY_SETTINGS, "settings.security_get", HostSettings, NoQuery, NoBody => 200 w::SecuritySettings, settings::security, "Security settings"),
        route!(PUT SECURITY_SETTINGS, "settings.security_set", HostSettings, NoQuery, w::SecuritySettings => 200 w::SecuritySettings, settings::set_security, "Change security settings"),
        route!(GET SECRETS, "secrets.list", HostSettings, NoQuery, NoBody => 200 w::SecretList, settings::secrets, "Which secrets are set (never their values)"),
        route!(PUT SECRET, "secrets.set", HostSettings, NoQuery, w::SecretValue => 200 w::Done, settings::set_secret, "Set a secret (write-only)"),
        route!(DELETE SECRET, "secrets.delete", HostSettings, NoQuery, NoBody => 200 w::Done, settings::delete_secret, "Remove a secret"),
        route!(GET ALERTS, "alerts.list", NotificationsView, NoQuery, NoBody => 200 w::AlertList, alerts::list, "Firing alerts, then those resolved in the last week"),
        route!(POST ALERT_SNOOZE, "alerts.snooze", NotificationsManage, NoQuery, w::SnoozeRequest => 200 w::AlertInfo, alerts::snooze, "Hold back an alert's messages for a while (0 minutes ends the snooze)"),
        route!(GET ALERT_HISTORY, "alerts.history", NotificationsView, w::HistoryQuery, NoBody => 200 w::AlertHistory, alerts::history, "What alerts did and which messages went out, newest first"),
        route!(GET ALERT_RULES, "alerts.rules", NotificationsView, NoQuery, NoBody => 200 w::RuleList, alerts::rules, "The built-in rules and their settings"),
        route!(PATCH ALERT_RULE, "alerts.rule_update", NotificationsManage, NoQuery, w::RuleUpdate => 200 w::RuleInfo, alerts::update_rule, "Change a rule's threshold, mute it, or set the least time between repeats"),
        route!(GET ALERT_CHANNELS, "alerts.channels", NotificationsManage, NoQuery, NoBody => 200 w::ChannelList, alerts::channels, "Where messages go (secrets are never shown; an ntfy topic or webhook address can be one, so only those who manage channels see them)"),
        route!(POST ALERT_CHANNELS, "alerts.channel_create", NotificationsManage, NoQuery, w::ChannelUpsert => 201 w::ChannelInfo, alerts::create_channel, "Add a channel: email, ntfy, Discord, Slack or a webhook"),
        route!(PUT ALERT_CHANNEL, "alerts.channel_update", NotificationsManage, NoQuery, w::ChannelUpsert => 200 w::ChannelInfo, alerts::update_channel, "Change a channel (an absent secret is kept, an empty one removed)"),
        route!(DELETE ALERT_CHANNEL, "alerts.channel_delete", NotificationsManage, NoQuery, NoBody => 200 w::Done, alerts::delete_channel, "Remove a channel and its queued messages"),
        route!(POST ALERT_CHANNEL_TEST, "alerts.channel_test", NotificationsManage, NoQuery, w::NoParams => 200 w::ChannelTestResult, alerts::test_channel, "Send a test message now; reports the server's own error on failure"),
        route!(GET ALERT_SUMMARY, "alerts.summary_get", NotificationsView, NoQuery, NoBody => 200 w::SummarySettings, alerts::summary, "When the weekly summary goes out"),
        route!(PUT ALERT_SUMMARY, "alerts.summary_set", NotificationsManage, NoQuery, w::SummarySettings => 200 w::SummarySettings, alerts::set_summary, "Change when the weekly summary goes out"),
        route!(POST ALERT_SUMMARY_SEND, "alerts.summary_send", NotificationsManage, NoQuery, w::NoParams => 202 w::Done, alerts::send_summary, "Send the weekly summary now"),
        route!(GET RESTORE_POINTS, "restore_points.list", RestorePointsView, NoQuery, NoBody => 200 w::RestorePointList, rp::list, "Every restore point, newest first: Keepsake's own, Sanoid's snapshots and Immich's dumps; the last drill; a reset that can be undone"),
        route!(POST RESTORE_POINTS, "restore_points.create", RestorePointsManage, NoQuery, w::RestorePointCreate => 202 w::Job, rp::create, "Make a restore point now (202: the queued job)"),
        route!(GET RESTORE_POINT_SETTINGS, "restore_points.settings_get", RestorePointsView, NoQuery, NoBody => 200 w::RestorePointSettings, rp::settings, "When points are made, how long they are kept, how often drills run"),
        route!(PUT RESTORE_POINT_SETTINGS, "restore_points.settings_set", RestorePointsManage, NoQuery, w::RestorePointSettings => 200 w::RestorePointSettings, rp::set_settings, "Change the schedule, retention and drills"),
        route!(POST RESTORE_DRILL, "restore_points.drill", RestorePointsManage, NoQuery, w::NoParams => 202 w::Job, rp::drill, "Run a restore drill now: load the latest dump into a throwaway database and check it"),
        route!(PUT RESTORE_POINT_PIN, "restore_points.pin", RestorePointsManage, NoQuery, w::RestorePointPin => 200 w::RestorePoint, rp::pin, "Pin a point (retention never removes it) or unpin it"),
        route!(DELETE RESTORE_POINT, "restore_points.delete", RestorePointsManage, NoQuery, NoBody => 200 w::Done, rp::delete, "Delete one of Keepsake's own points (not a pinned one)"),
        route!(GET RESTORE_POINT_FILES, "restore_points.files", RestoreRun, w::RestoreFilesQuery, NoBody => 200 w::RestoreFileList, rp::files, "A folder of a point's library snapshot, to choose files to restore"),
        route!(POST RESTORE_POINT_PLAN, "restore_points.plan", RestoreRun, NoQuery, w::RestoreRequest => 200 w::RestorePlan, rp::plan, "What a restore would do: its impact, warnings and the phrase to type to confirm. Changes nothing"),
        route!(POST RESTORE_POINT_RESTORE, "restore_points.restore", RestoreRun, NoQuery, w::RestoreRequest => 202 w::Job, rp::restore, "Restore from a point after making a pre-restore point (needs the plan's confirmation phrase)"),
        route!(GET DRIVES, "drives.list", BackupsView, NoQuery, NoBody => 200 w::DriveList, drives::list, "Enrolled backup drives (what each is doing, last runs, free space) and every block device attached"),
        route!(POST DRIVES, "drives.enroll", DrivesManage, NoQuery, w::DriveEnroll => 201 w::Drive, drives::enroll, "Enroll a plugged-in drive by its filesystem UUID, with its trigger"),
        route!(POST DRIVES_FORMAT, "drives.format", DrivesFormat, NoQuery, w::DriveFormat => 202 w::Job, drives::format, "Format a device to exFAT (owners and admins; a device holding data needs its typed confirmation; never a system device)"),
        route!(GET DRIVES_SETTINGS, "drives.settings_get", BackupsView, NoQuery, NoBody => 200 w::BackupSettings, drives::settings, "What every drive's backup keeps and how it is verified (the passphrase is never returned)"),
        route!(PUT DRIVES_SETTINGS, "drives.settings_set", DrivesManage, NoQuery, w::BackupSettings => 200 w::BackupSettings, drives::set_settings, "Change the backup settings every drive shares"),
        route!(PUT DRIVE, "drives.update", DrivesManage, NoQuery, w::DriveConfig => 200 w::Drive, drives::update, "Change a drive's name, trigger and what it copies"),
        route!(DELETE DRIVE, "drives.forget", DrivesManage, NoQuery, NoBody => 200 w::Done, drives::forget, "Forget a drive (the backup on it stays)"),
        route!(GET DRIVE_HISTORY, "drives.history", BackupsView, NoQuery, NoBody => 200 w::BackupHistory, drives::history, "A drive's backup and verification runs, newest first"),
        route!(POST DRIVE_BACKUP, "drives.backup", DrivesManage, NoQuery, w::NoParams => 202 w::Job, drives::backup, "Back up to a plugged-in drive now (202: the job; the running one if a backup is already under way)"),
        route!(POST DRIVE_EJECT, "drives.eject", DrivesManage, NoQuery, w::NoParams => 200 w::Done, drives::eject, "Unmount a drive so it can be pulled out safely"),
        route!(POST INSTANCE_RESET, "instance.reset", RestoreRun, NoQuery, w::ResetRequest => 202 w::Job, rp::reset, "Owners only: empty Immich (library and database) after a pre-reset point; confirm with `reset everything`"),
        route!(POST INSTANCE_RESET_UNDO, "instance.undo_reset", RestoreRun, NoQuery, w::ResetRequest => 202 w::Job, rp::undo_reset, "Owners only: bring back what a reset emptied, from its pre-reset point; confirm with `undo reset`"),
        route!(POST DRIVE_VERIFY, "drives.verify", DrivesManage, NoQuery, w::DriveVerifyRequest => 202 w::Job, super::drive_restore::verify, "Check a drive's backup now: read every file (`full`) or the settings' sample back against its manifest (202: the job)"),
        route!(GET DRIVE_FILES, "drives.files", RestoreRun, w::DriveFilesQuery, NoBody => 200 w::DriveFileList, super::drive_restore::files, "A folder of the backup on a drive, enrolled or only attached (one from another appliance), by original names"),
        route!(POST DRIVE_RESTORE, "drives.restore", RestoreRun, NoQuery, w::DriveRestoreRequest => 202 w::Job, super::drive_restore::restore, "Restore chosen files, or the whole instance (database and library), from a drive after a pre-restore point; confirm with `restore`"),
    ]
});
