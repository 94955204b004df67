//! Wire types of accounts, sign-in, second factors, groups, the audit log, security settings and
//! secrets.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `GET /api/v1/auth/state`: what the sign-in page needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuthState {
    /// No account exists yet: show the first-run setup page.
    pub setup_required: bool,
    /// A password was accepted and a second factor is owed.
    pub second_factor_pending: bool,
    /// The second factors the pending user may use: `totp`, `recovery_code`, `passkey`.
    pub second_factors: Vec<String>,
    pub user: Option<Me>,
    pub passkeys_available: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    #[schemars(regex(pattern = crate::limits::ACCOUNT_NAME_PATTERN))]
    pub name: String,
    #[schemars(length(max = crate::limits::DISPLAY_NAME_MAX_CHARS), regex(pattern = crate::limits::NO_CONTROL_PATTERN))]
    pub display_name: Option<String>,
    #[schemars(length(min = crate::limits::PASSWORD_MIN_CHARS, max = crate::limits::PASSWORD_MAX_CHARS))]
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schemars(length(max = crate::limits::NAME_MAX), regex(pattern = crate::limits::ASCII_PATTERN))]
    pub name: String,
    #[schemars(length(max = crate::limits::PASSWORD_MAX_CHARS))]
    pub password: String,
}

/// The answer to a sign-in step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoginResponse {
    /// Signed in; otherwise a second factor is owed (see `second_factors`).
    pub complete: bool,
    pub second_factors: Vec<String>,
    pub user: Option<Me>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    #[schemars(length(max = crate::limits::CODE_MAX), regex(pattern = crate::limits::ASCII_PATTERN))]
    pub code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameRequest {
    #[schemars(length(max = crate::limits::NAME_MAX), regex(pattern = crate::limits::ASCII_PATTERN))]
    pub name: String,
}

/// `POST /api/v1/me/passkeys/begin`: what to call the new passkey.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyNameRequest {
    /// e.g. "Anna's phone".
    #[schemars(length(max = crate::limits::PASSKEY_NAME_MAX_CHARS), regex(pattern = crate::limits::VISIBLE_PATTERN))]
    pub name: String,
}

/// A WebAuthn challenge to pass to `navigator.credentials.create/get`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PasskeyChallenge {
    /// Send back with the answer.
    pub ceremony: String,
    /// `publicKey` options as JSON (binary fields base64url-encoded).
    pub options: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAnswer {
    #[schemars(length(max = crate::limits::CEREMONY_ID_MAX), regex(pattern = crate::limits::ASCII_PATTERN))]
    pub ceremony: String,
    /// The credential as JSON (binary fields base64url-encoded).
    pub credential: serde_json::Value,
}

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Me {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub groups: Vec<String>,
    /// Every permission the user holds (role and groups).
    pub permissions: Vec<String>,
    pub totp_enabled: bool,
    pub passkeys: u32,
    pub recovery_codes_left: u32,
    /// Second factors are required for admins and this admin has none: only the account page works.
    pub must_enroll_second_factor: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schemars(length(max = crate::limits::PASSWORD_MAX_CHARS))]
    pub current: String,
    #[schemars(length(min = crate::limits::PASSWORD_MIN_CHARS, max = crate::limits::PASSWORD_MAX_CHARS))]
    pub new: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfirm {
    #[schemars(length(max = crate::limits::PASSWORD_MAX_CHARS))]
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordSet {
    #[schemars(length(min = crate::limits::PASSWORD_MIN_CHARS, max = crate::limits::PASSWORD_MAX_CHARS))]
    pub password: String,
}

/// An authenticator app being set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TotpEnrollment {
    /// Base32, for typing into the app.
    pub secret: String,
    pub otpauth_url: String,
    /// A QR code of `otpauth_url`, as a `data:image/png;base64,` URL.
    pub qr_png: String,
}

/// One-time recovery codes, shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The client address it was opened from.
    pub source: String,
    pub user_agent: String,
    /// The session of this request.
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserInfo {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub groups: Vec<i64>,
    pub totp_enabled: bool,
    pub passkeys: u32,
    pub created_at: DateTime<Utc>,
    /// Where this account's alerts and password-reset links go.
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserList {
    pub users: Vec<UserInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schemars(regex(pattern = crate::limits::ACCOUNT_NAME_PATTERN))]
    pub name: String,
    #[schemars(length(max = crate::limits::DISPLAY_NAME_MAX_CHARS), regex(pattern = crate::limits::NO_CONTROL_PATTERN))]
    pub display_name: Option<String>,
    #[schemars(length(min = crate::limits::PASSWORD_MIN_CHARS, max = crate::limits::PASSWORD_MAX_CHARS))]
    pub password: String,
    /// owner, admin, operator or viewer.
    pub role: Role,
    #[serde(default)]
    #[schemars(length(max = crate::limits::USER_GROUPS_MAX))]
    pub groups: Vec<i64>,
    /// For password-reset links (optional).
    #[schemars(length(max = crate::limits::EMAIL_MAX), regex(pattern = crate::limits::EMAIL_PATTERN))]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[schemars(length(max = crate::limits::DISPLAY_NAME_MAX_CHARS), regex(pattern = crate::limits::VISIBLE_PATTERN))]
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    #[schemars(length(max = crate::limits::USER_GROUPS_MAX))]
    pub groups: Option<Vec<i64>>,
    /// A new email address; `""` removes it.
    #[schemars(length(max = crate::limits::EMAIL_MAX), regex(pattern = crate::limits::EMAIL_OR_EMPTY_PATTERN))]
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GroupInfo {
    pub id: i64,
    pub name: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GroupList {
    pub groups: Vec<GroupInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupUpsert {
    #[schemars(length(max = crate::limits::GROUP_NAME_MAX_CHARS), regex(pattern = crate::limits::VISIBLE_PATTERN))]
    pub name: String,
    #[schemars(length(max = crate::limits::GROUP_PERMISSIONS_MAX))]
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PermissionInfo {
    pub name: String,
    pub area: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RoleInfo {
    pub name: Role,
    pub permissions: Vec<String>,
}

/// `GET /api/v1/permissions`: what can be granted, and what each built-in role holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PermissionCatalog {
    pub permissions: Vec<PermissionInfo>,
    pub roles: Vec<RoleInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// `ok`, `denied:<why>`, `error:<code>`, or an event's own word.
    pub outcome: String,
    /// Client address, or `unix:uid=…` for the console.
    pub source: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditList {
    pub entries: Vec<AuditEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditVerification {
    pub ok: bool,
    pub checked: u64,
    pub bad_row: Option<i64>,
    pub problem: Option<String>,
    /// The chain's head when it was verified (64 hex digits): write it down, or keep the weekly
    /// summary that carries it, and `keepsake audit verify --head` can later prove that nothing
    /// before it was rewritten.
    pub head: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub require_second_factor_for_admins: bool,
    /// Audit entries older than this are removed (30 to 36500 days).
    #[schemars(range(min = 30, max = 36_500))]
    pub audit_retention_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretInfo {
    pub name: String,
    pub description: String,
    /// Whether a value is stored. The value itself is never returned.
    pub set: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretList {
    pub secrets: Vec<SecretInfo>,
}

#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    #[schemars(length(min = 1, max = crate::limits::SECRET_VALUE_MAX_CHARS))]
    pub value: String,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// The built-in roles, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Operator,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The query of `GET /api/v1/audit`. Text filters match the start of the field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries by this actor.
    #[schemars(length(max = 200))]
    pub actor: Option<String>,
    /// Only actions starting with this, e.g. `auth.` or `users.`.
    #[schemars(length(max = 200))]
    pub action: Option<String>,
    /// Only outcomes starting with this: ok, denied, error, ...
    #[schemars(length(max = 200))]
    pub outcome: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only entries at or before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// At most this many entries (1 to 100000, default 200).
    #[schemars(range(min = 1, max = 100_000))]
    pub limit: Option<u32>,
    /// `json` (default) or `csv` (a download).
    pub format: Option<ExportFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Json,
    Csv,
}

/// `POST /api/v1/audit/verify`: check the hash chain, optionally against a head published
/// outside the box (a weekly summary, a backup drive), which root on the box cannot rewrite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditVerifyRequest {
    /// The witnessed head hash (64 hex digits) the chain must still contain: from a backup drive
    /// or the weekly summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = "^[0-9a-f]{64}$"))]
    pub head: Option<String>,
}
