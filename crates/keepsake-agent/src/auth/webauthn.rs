//! WebAuthn through webauthn-rs: the relying party, and the two halves of registration and of
//! authentication. Stateless: the challenge state between the halves is kept by `passkeys` in the
//! store (`ceremonies`), so it survives nothing but its timeout.

use url::Url;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::AuthError;

/// Builds the relying party from the dashboard's public origins; the first names the RP ID.
pub fn relying_party(origins: &[Url]) -> Result<Webauthn, AuthError> {
    let first = origins.first().ok_or_else(|| AuthError::Internal("no public origin configured".into()))?;
    let rp_id = first.host_str().ok_or_else(|| AuthError::Internal(format!("origin {first} has no host")))?;
    let mut b = WebauthnBuilder::new(rp_id, first)
        .map_err(|e| AuthError::Internal(format!("passkeys cannot use origin {first}: {e}")))?
        .rp_name("Keepsake")
        .allow_any_port(true);
    for o in &origins[1..] {
        b = b.append_allowed_origin(o);
    }
    b.build().map_err(|e| AuthError::Internal(format!("passkeys cannot be set up: {e}")))
}

/// The WebAuthn user handle for an account: stable, and not the name.
pub fn user_handle(user_id: i64) -> Uuid {
    Uuid::from_u128(0x6b65_6570_7361_6b65_0000_0000_0000_0000 | user_id as u128)
}

fn bad(what: &str, e: impl std::fmt::Display) -> AuthError {
    AuthError::bad_request("passkey.rejected", format!("the passkey {what} was not accepted: {e}"))
}

pub fn start_registration(
    rp: &Webauthn,
    user_id: i64,
    name: &str,
    display: &str,
    existing: &[Passkey],
) -> Result<(serde_json::Value, String), AuthError> {
    let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
    let (challenge, state) = rp
        .start_passkey_registration(user_handle(user_id), name, display, Some(exclude))
        .map_err(|e| AuthError::Internal(format!("cannot start passkey registration: {e}")))?;
    Ok((to_json(&challenge)?, to_string(&state)?))
}

pub fn finish_registration(rp: &Webauthn, credential: &serde_json::Value, state: &str) -> Result<Passkey, AuthError> {
    let cred: RegisterPublicKeyCredential =
        serde_json::from_value(credential.clone()).map_err(|e| bad("registration", e))?;
    let state: PasskeyRegistration =
        serde_json::from_str(state).map_err(|e| AuthError::Internal(format!("stored registration: {e}")))?;
    rp.finish_passkey_registration(&cred, &state).map_err(|e| bad("registration", e))
}

pub fn start_authentication(rp: &Webauthn, keys: &[Passkey]) -> Result<(serde_json::Value, String), AuthError> {
    let (challenge, state) = rp
        .start_passkey_authentication(keys)
        .map_err(|e| AuthError::Internal(format!("cannot start passkey sign-in: {e}")))?;
    Ok((to_json(&challenge)?, to_string(&state)?))
}

/// Checks the answer; returns the credential id used, and updates the matching passkey's counter.
pub fn finish_authentication(
    rp: &Webauthn,
    credential: &serde_json::Value,
    state: &str,
    keys: &mut [Passkey],
) -> Result<usize, AuthError> {
    let cred: PublicKeyCredential = serde_json::from_value(credential.clone()).map_err(|e| bad("answer", e))?;
    let state: PasskeyAuthentication =
        serde_json::from_str(state).map_err(|e| AuthError::Internal(format!("stored sign-in: {e}")))?;
    let result = rp.finish_passkey_authentication(&cred, &state).map_err(|e| bad("answer", e))?;
    let idx = keys
        .iter()
        .position(|k| k.cred_id() == result.cred_id())
        .ok_or_else(|| AuthError::bad_request("passkey.rejected", "that passkey is not registered to this account"))?;
    keys[idx].update_credential(&result);
    Ok(idx)
}

pub fn credential_id(p: &Passkey) -> String {
    use base64::Engine;
    let raw: &[u8] = p.cred_id().as_ref();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, AuthError> {
    serde_json::to_value(v).map_err(|e| AuthError::Internal(e.to_string()))
}

fn to_string<T: serde::Serialize>(v: &T) -> Result<String, AuthError> {
    serde_json::to_string(v).map_err(|e| AuthError::Internal(e.to_string()))
}
