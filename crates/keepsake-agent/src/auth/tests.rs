//! The identity service against a real (temporary) store and key file.

use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    auth: Auth,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let auth = Auth::new(store, dir.path(), AuthConfig::default()).unwrap();
    Fixture { _dir: dir, auth }
}

fn client() -> ClientInfo {
    ClientInfo { address: Some("192.0.2.7".into()), user_agent: "test".into() }
}

const PW: &str = "a long enough password";

fn complete(a: &Auth, token: &str) -> UserIdentity {
    match a.session_state(Some(token)).unwrap() {
        SessionState::Complete(u) => *u,
        other => panic!("expected a complete session, got {other:?}"),
    }
}

#[test]
fn setup_creates_one_owner_only_and_signs_them_in() {
    let f = fixture();
    assert!(f.auth.setup_required().unwrap());
    let (owner, s) = f.auth.setup_owner("anna", "Anna", PW, &client()).unwrap();
    assert_eq!(owner.role, "owner");
    assert!(complete(&f.auth, &s.token).permissions.contains(&Permission::UsersManage));
    let again = f.auth.setup_owner("mallory", "M", PW, &client()).err().unwrap();
    assert!(matches!(again, AuthError::Conflict(_)), "{again}");
    assert!(!f.auth.setup_required().unwrap());
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let f = fixture();
    assert!(
        f.auth
            .setup_owner("Anna Smith", "Anna", PW, &client())
            .err()
            .unwrap()
            .to_string()
            .contains("not a valid account name")
    );
    assert!(f.auth.setup_owner("anna", "Anna", "short", &client()).err().unwrap().to_string().contains("at least 10"));
    assert!(f.auth.setup_required().unwrap(), "nothing was created");
}

#[test]
fn sessions_are_stored_hashed_and_end_on_logout() {
    let f = fixture();
    let (_, s) = f.auth.setup_owner("anna", "Anna", PW, &client()).unwrap();
    assert!(f.auth.store().session_by_token_hash(&s.token).unwrap().is_none(), "the raw token is not stored");
    let me = complete(&f.auth, &s.token);
    f.auth.logout(me.session_id).unwrap();
    assert!(matches!(f.auth.session_state(Some(&s.token)).unwrap(), SessionState::None));
    assert!(matches!(f.auth.session_state(Some("forged")).unwrap(), SessionState::None));
}

#[test]
fn twenty_wrong_passwords_lock_out_the_right_one_and_leave_an_audit_entry() {
    let f = fixture();
    f.auth.setup_owner("anna", "Anna", PW, &client()).unwrap();
    for i in 0..20 {
        let e = f.auth.login_password("anna", &format!("wrong password {i}"), &client()).err().unwrap();
        assert!(matches!(e, AuthError::BadCredentials | AuthError::TooManyAttempts { .. }), "{e}");
    }
    let e = f.auth.login_password("anna", PW, &client()).err().unwrap();
    assert!(matches!(e, AuthError::TooManyAttempts { retry_after_secs } if retry_after_secs > 0), "{e}");
    let audit = f.auth.store().audit_entries(&crate::store::AuditFilter { limit: 50, ..Default::default() }).unwrap();
    assert!(audit.iter().any(|a| a.action == "security.login_backoff"), "{audit:?}");
}

#[test]
fn totp_makes_sign_in_two_steps_and_recovery_codes_work_once() {
    let f = fixture();
    let (_, s) = f.auth.setup_owner("anna", "Anna", PW, &client()).unwrap();
    let me = complete(&f.auth, &s.token);
    let (b32, _, _) = f.auth.totp_begin(&me).unwrap();
    let secret = totp_rs::Secret::try_from_base32(&b32).unwrap().as_bytes().to_vec();
    assert!(f.auth.totp_confirm(&me, "000000").is_err() || totp::current(&secret, "anna").unwrap() == "000000");
    let codes = f.auth.totp_confirm(&me, &totp::current(&secret, "anna").unwrap()).unwrap();
    assert_eq!(codes.len(), 10);

    let step = f.auth.login_password("anna", PW, &client()).unwrap();
    assert_eq!(step.second_factors, vec!["totp", "recovery_code"]);
    let SessionState::Pending { session, user } = f.auth.session_state(Some(&step.session.token)).unwrap() else {
        panic!("a password alone must not complete the session");
    };
    assert!(f.auth.second_factor_code(&session, &user, "123456x", false, &client()).is_err());
    // The enrollment code cannot be used again...
    let replay = f.auth.second_factor_code(&session, &user, &totp::current(&secret, "anna").unwrap(), false, &client());
    assert!(replay.is_err(), "a TOTP code was accepted twice");
    // ...the next one works.
    f.auth.second_factor_code(&session, &user, &totp::next(&secret, "anna").unwrap(), false, &client()).unwrap();
    complete(&f.auth, &step.session.token);

    let step = f.auth.login_password("anna", PW, &client()).unwrap();
    let SessionState::Pending { session, user } = f.auth.session_state(Some(&step.session.token)).unwrap() else {
        panic!()
    };
    f.auth.second_factor_code(&session, &user, &codes[3], true, &client()).unwrap();
    let step = f.auth.login_password("anna", PW, &client()).unwrap();
    let SessionState::Pending { session, user } = f.auth.session_state(Some(&step.session.token)).unwrap() else {
        panic!()
    };
    assert!(f.auth.second_factor_code(&session, &user, &codes[3], true, &client()).is_err(), "a code works once");

    // An admin reset removes the second factor.
    f.auth.reset_second_factor(user.id).unwrap();
    assert!(f.auth.login_password("anna", PW, &client()).unwrap().second_factors.is_empty());
}

#[test]
fn admins_without_a_second_factor_are_held_to_their_account_when_required() {
    let f = fixture();
    let (_, s) = f.auth.setup_owner("anna", "Anna", PW, &client()).unwrap();
    f.auth.store().set_setting(SETTING_REQUIRE_2FA_ADMINS, "true").unwrap();
    let me = complete(&f.auth, &s.token);
    assert!(me.must_enroll_second_factor);
    let id = Identity::User(Box::new(me));
    assert!(id.allows(Permission::Authenticated));
    assert!(!id.allows(Permission::HostView));
}

#[test]
fn owner_rules_hold() {
    let f = fixture();
    let (anna, s) = f.auth.setup_owner("anna", "Anna", PW, &client()).unwrap();
    let owner = Identity::User(Box::new(complete(&f.auth, &s.token)));
    let bob = f.auth.create_user("bob", "Bob", PW, Role::Admin, &owner).unwrap();
    let bob_s = f.auth.login_password("bob", PW, &client()).unwrap();
    let bob_id = Identity::User(Box::new(complete(&f.auth, &bob_s.session.token)));
    assert!(matches!(f.auth.create_user("eve", "Eve", PW, Role::Owner, &bob_id), Err(AuthError::Forbidden(_))));
    assert!(matches!(f.auth.delete_user(anna.id, &bob_id), Err(AuthError::Forbidden(_))));
    assert!(matches!(
        f.auth.update_user(anna.id, None, Some(Role::Viewer), None, None, &owner),
        Err(AuthError::Conflict(_))
    ));
    assert!(f.auth.create_user("bob", "Bob again", PW, Role::Viewer, &owner).is_err(), "names are unique");
    f.auth.update_user(bob.id, None, None, Some(true), None, &owner).unwrap();
    assert!(
        matches!(f.auth.session_state(Some(&bob_s.session.token)).unwrap(), SessionState::None),
        "disabling ends sessions"
    );
}

#[test]
fn groups_add_permissions_to_a_role() {
    let f = fixture();
    let (_, s) = f.auth.setup_owner("anna", "Anna", PW, &client()).unwrap();
    let owner = Identity::User(Box::new(complete(&f.auth, &s.token)));
    let v = f.auth.create_user("vic", "Vic", PW, Role::Viewer, &owner).unwrap();
    let gid = f.auth.store().upsert_group(None, "auditors", &["audit.view".into()]).unwrap();
    let tok = f.auth.login_password("vic", PW, &client()).unwrap().session.token;
    assert!(!complete(&f.auth, &tok).permissions.contains(&Permission::AuditView));
    f.auth.update_user(v.id, None, None, None, Some(&[gid]), &owner).unwrap();
    assert!(complete(&f.auth, &tok).permissions.contains(&Permission::AuditView));
}

#[test]
fn secrets_are_sealed_at_rest_and_names_are_checked() {
    let f = fixture();
    f.auth.set_secret("smtp_password", &Secret::new("pa55-w0rd-xyz".into())).unwrap();
    let ct = f.auth.store().secret_ciphertext("smtp_password").unwrap().unwrap();
    assert!(!ct.windows(13).any(|w| w == b"pa55-w0rd-xyz"));
    assert_eq!(f.auth.secret("smtp_password").unwrap().unwrap().expose(), "pa55-w0rd-xyz");
    assert!(matches!(f.auth.set_secret("root_password", &Secret::new("x".into())), Err(AuthError::NotFound(_))));
    let names = f.auth.secret_names().unwrap();
    assert!(names.iter().any(|(n, at)| n == "smtp_password" && at.is_some()));
    assert!(names.iter().any(|(n, at)| n == "tunnel_token" && at.is_none()));
}

#[test]
fn idle_and_absolute_expiry_end_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let cfg = AuthConfig { session_idle: Duration::from_secs(1), ..AuthConfig::default() };
    let auth = Auth::new(Arc::clone(&store), dir.path(), cfg).unwrap();
    let (_, s) = auth.setup_owner("anna", "Anna", PW, &client()).unwrap();
    complete(&auth, &s.token);
    std::thread::sleep(Duration::from_millis(2100));
    assert!(matches!(auth.session_state(Some(&s.token)).unwrap(), SessionState::None), "idle session survived");
    assert!(store.session_by_token_hash(&hash_token(&s.token)).unwrap().is_none(), "expired session not deleted");

    let cfg = AuthConfig { session_max: Duration::from_secs(1), ..AuthConfig::default() };
    let auth = Auth::new(Arc::clone(&store), dir.path(), cfg).unwrap();
    let s = auth.login_password("anna", PW, &client()).unwrap().session;
    complete(&auth, &s.token);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(matches!(auth.session_state(Some(&s.token)).unwrap(), SessionState::None), "session outlived its maximum");
}
