//! Every API path, once for all Rust code: the agent's route table, the client and the CLI use
//! these constants, so a path cannot be spelt two ways. `{name}` segments are filled in with
//! [`fill`]. (The dashboard's paths come from the OpenAPI document the route table generates.)

pub const HEALTH: &str = "/api/v1/health";
pub const STATUS: &str = "/api/v1/status";
pub const OPENAPI: &str = "/api/v1/openapi.json";
pub const SELF_CHECK: &str = "/api/v1/host/self-check";

pub const STACK: &str = "/api/v1/stack";
pub const STACK_INSTALL: &str = "/api/v1/stack/install";
pub const STACK_UPDATE: &str = "/api/v1/stack/update";
pub const STACK_ACTION: &str = "/api/v1/stack/action";
pub const STACK_VERSIONS: &str = "/api/v1/stack/versions";
pub const STACK_UPDATES: &str = "/api/v1/stack/updates";
pub const STACK_ROLLBACK: &str = "/api/v1/stack/rollback";
pub const STACK_SERVICE_ACTION: &str = "/api/v1/stack/services/{service}/action";
pub const STACK_SERVICE_LOGS: &str = "/api/v1/stack/services/{service}/logs";
pub const STACK_SERVICE_LOGS_FOLLOW: &str = "/api/v1/stack/services/{service}/logs/follow";

pub const JOBS: &str = "/api/v1/jobs";
pub const JOB: &str = "/api/v1/jobs/{id}";
pub const JOB_LOG: &str = "/api/v1/jobs/{id}/log";
pub const JOB_EVENTS: &str = "/api/v1/jobs/{id}/events";
pub const JOB_CANCEL: &str = "/api/v1/jobs/{id}/cancel";
pub const EVENTS: &str = "/api/v1/events";

pub const AUTH_STATE: &str = "/api/v1/auth/state";
pub const AUTH_SETUP: &str = "/api/v1/auth/setup";
pub const AUTH_LOGIN: &str = "/api/v1/auth/login";
pub const AUTH_LOGIN_TOTP: &str = "/api/v1/auth/login/totp";
pub const AUTH_LOGIN_RECOVERY: &str = "/api/v1/auth/login/recovery";
pub const AUTH_PASSKEY_BEGIN: &str = "/api/v1/auth/passkey/begin";
pub const AUTH_PASSKEY_FINISH: &str = "/api/v1/auth/passkey/finish";
pub const AUTH_LOGOUT: &str = "/api/v1/auth/logout";

pub const ME: &str = "/api/v1/me";
pub const ME_PASSWORD: &str = "/api/v1/me/password";
pub const ME_TOTP_BEGIN: &str = "/api/v1/me/totp/begin";
pub const ME_TOTP_CONFIRM: &str = "/api/v1/me/totp/confirm";
pub const ME_TOTP_DISABLE: &str = "/api/v1/me/totp/disable";
pub const ME_RECOVERY_CODES: &str = "/api/v1/me/recovery-codes";
pub const ME_PASSKEYS: &str = "/api/v1/me/passkeys";
pub const ME_PASSKEYS_BEGIN: &str = "/api/v1/me/passkeys/begin";
pub const ME_PASSKEYS_FINISH: &str = "/api/v1/me/passkeys/finish";
pub const ME_PASSKEY: &str = "/api/v1/me/passkeys/{id}";
pub const ME_SESSIONS: &str = "/api/v1/me/sessions";
pub const ME_SESSION: &str = "/api/v1/me/sessions/{id}";

pub const USERS: &str = "/api/v1/users";
pub const USER: &str = "/api/v1/users/{id}";
pub const USER_PASSWORD: &str = "/api/v1/users/{id}/password";
pub const USER_RESET_SECOND_FACTOR: &str = "/api/v1/users/{id}/reset-second-factor";
pub const GROUPS: &str = "/api/v1/groups";
pub const GROUP: &str = "/api/v1/groups/{id}";
pub const PERMISSIONS: &str = "/api/v1/permissions";

pub const AUDIT: &str = "/api/v1/audit";
pub const AUDIT_VERIFY: &str = "/api/v1/audit/verify";
pub const SECURITY_SETTINGS: &str = "/api/v1/settings/security";
pub const SECRETS: &str = "/api/v1/secrets";
pub const SECRET: &str = "/api/v1/secrets/{name}";

pub const ALERTS: &str = "/api/v1/alerts";
pub const ALERT_SNOOZE: &str = "/api/v1/alerts/{id}/snooze";
pub const ALERT_HISTORY: &str = "/api/v1/alerts/history";
pub const ALERT_RULES: &str = "/api/v1/alerts/rules";
pub const ALERT_RULE: &str = "/api/v1/alerts/rules/{rule}";
pub const ALERT_CHANNELS: &str = "/api/v1/alerts/channels";
pub const ALERT_CHANNEL: &str = "/api/v1/alerts/channels/{id}";
pub const ALERT_CHANNEL_TEST: &str = "/api/v1/alerts/channels/{id}/test";
pub const ALERT_SUMMARY: &str = "/api/v1/alerts/summary";
pub const ALERT_SUMMARY_SEND: &str = "/api/v1/alerts/summary/send";

pub const PASSWORD_RESET: &str = "/api/v1/auth/password-reset";
pub const PASSWORD_RESET_REQUEST: &str = "/api/v1/auth/password-reset/request";
pub const PASSWORD_RESET_CONFIRM: &str = "/api/v1/auth/password-reset/confirm";

pub const RESTORE_POINTS: &str = "/api/v1/restore-points";
pub const RESTORE_POINT: &str = "/api/v1/restore-points/{id}";
pub const RESTORE_POINT_PIN: &str = "/api/v1/restore-points/{id}/pin";
pub const RESTORE_POINT_FILES: &str = "/api/v1/restore-points/{id}/files";
pub const RESTORE_POINT_PLAN: &str = "/api/v1/restore-points/{id}/plan";
pub const RESTORE_POINT_RESTORE: &str = "/api/v1/restore-points/{id}/restore";
pub const RESTORE_POINT_SETTINGS: &str = "/api/v1/restore-points/settings";
pub const RESTORE_DRILL: &str = "/api/v1/restore-points/drill";
pub const INSTANCE_RESET: &str = "/api/v1/instance/reset";
pub const INSTANCE_RESET_UNDO: &str = "/api/v1/instance/reset/undo";

pub const DRIVES: &str = "/api/v1/drives";
pub const DRIVES_FORMAT: &str = "/api/v1/drives/format";
pub const DRIVES_SETTINGS: &str = "/api/v1/drives/settings";
pub const DRIVE: &str = "/api/v1/drives/{uuid}";
pub const DRIVE_BACKUP: &str = "/api/v1/drives/{uuid}/backup";
pub const DRIVE_VERIFY: &str = "/api/v1/drives/{uuid}/verify";
pub const DRIVE_EJECT: &str = "/api/v1/drives/{uuid}/eject";
pub const DRIVE_HISTORY: &str = "/api/v1/drives/{uuid}/history";
pub const DRIVE_FILES: &str = "/api/v1/drives/{uuid}/files";
pub const DRIVE_RESTORE: &str = "/api/v1/drives/{uuid}/restore";

/// `template` with each `{name}` replaced by its value, percent-encoded for a path segment.
pub fn fill(template: &str, values: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), &encode_segment(&value.to_string()));
    }
    debug_assert!(!out.contains('{'), "unfilled parameter in {out}");
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn fills_and_encodes_parameters() {
        assert_eq!(super::fill(super::JOB_LOG, &[("id", &42)]), "/api/v1/jobs/42/log");
        assert_eq!(super::fill(super::SECRET, &[("name", &"a b/c")]), "/api/v1/secrets/a%20b%2Fc");
    }
}
