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
    assert_eq!(again.code(), "setup.done", "{again}");
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

    // A reset by the console removes the second factor.
    f.auth.reset_second_factor(user.id, &Identity::Root).unwrap();
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
    let bob = f.auth.create_user("bob", "Bob", PW, Role::Admin, &[], None, &owner).unwrap();
    let bob_s = f.auth.login_password("bob", PW, &client()).unwrap();
    let bob_id = Identity::User(Box::new(complete(&f.auth, &bob_s.session.token)));
    assert_eq!(
        f.auth.create_user("eve", "Eve", PW, Role::Owner, &[], None, &bob_id).unwrap_err().code(),
        "auth.owner_only"
    );
    assert_eq!(f.auth.delete_user(anna.id, &bob_id).unwrap_err().code(), "auth.owner_only");
    assert_eq!(f.auth.set_password(anna.id, "a new long password", &bob_id).unwrap_err().code(), "auth.owner_only");
    assert_eq!(
        f.auth.update_user(anna.id, None, Some(Role::Viewer), None, None, None, &owner).unwrap_err().code(),
        "auth.last_owner"
    );
    assert_eq!(
        f.auth.create_user("bob", "Bob again", PW, Role::Viewer, &[], None, &owner).unwrap_err().code(),
        "user.name_taken",
        "names are unique"
    );
    f.auth.update_user(bob.id, None, None, Some(true), None, None, &owner).unwrap();
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
    let v = f.auth.create_user("vic", "Vic", PW, Role::Viewer, &[], None, &owner).unwrap();
    let gid = f.auth.create_group("auditors", &["audit.view".into()]).unwrap().id;
    let tok = f.auth.login_password("vic", PW, &client()).unwrap().session.token;
    assert!(!complete(&f.auth, &tok).permissions.contains(&Permission::AuditView));
    f.auth.update_user(v.id, None, None, None, Some(&[gid]), None, &owner).unwrap();
    assert!(complete(&f.auth, &tok).permissions.contains(&Permission::AuditView));
}

#[test]
fn secrets_go_through_the_vault_with_stable_codes() {
    let f = fixture();
    f.auth.set_secret("smtp_password", &Secret::new("pa55-w0rd-xyz".into())).unwrap();
    assert_eq!(f.auth.secret("smtp_password").unwrap().unwrap().expose(), "pa55-w0rd-xyz");
    let e = f.auth.set_secret("root_password", &Secret::new("x".into())).unwrap_err();
    assert_eq!(e.code(), "secret.not_found");
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

fn owner_fixture() -> (Fixture, Identity) {
    let f = fixture();
    let (_, s) = f.auth.setup_owner("anna", "Anna", PW, &client()).unwrap();
    let owner = Identity::User(Box::new(complete(&f.auth, &s.token)));
    (f, owner)
}

#[test]
fn creating_a_user_with_an_unknown_group_leaves_no_user_behind() {
    let (f, owner) = owner_fixture();
    let gid = f.auth.create_group("family", &[]).unwrap().id;
    let e = f.auth.create_user("bob", "Bob", PW, Role::Viewer, &[gid, 999], None, &owner).unwrap_err();
    assert_eq!(e.code(), "user.unknown_group", "{e}");
    assert!(f.auth.store().user_by_name("bob").unwrap().is_none(), "the user was created anyway");
    let bob = f.auth.create_user("bob", "Bob", PW, Role::Viewer, &[gid], None, &owner).unwrap();
    assert_eq!(f.auth.store().group_ids_of(bob.id).unwrap(), vec![gid]);
}

#[test]
fn an_update_with_an_unknown_group_changes_nothing() {
    let (f, owner) = owner_fixture();
    let bob = f.auth.create_user("bob", "Bob", PW, Role::Viewer, &[], None, &owner).unwrap();
    let e = f.auth.update_user(bob.id, Some("Robert"), Some(Role::Admin), Some(true), Some(&[999]), None, &owner);
    assert_eq!(e.unwrap_err().code(), "user.unknown_group");
    assert_eq!(f.auth.user(bob.id).unwrap(), bob, "the role, name or flag was written before the groups failed");
    assert_eq!(f.auth.update_user(999, None, None, None, None, None, &owner).unwrap_err().code(), "user.not_found");
}

#[test]
fn renaming_a_group_to_a_taken_name_is_a_conflict_not_an_internal_error() {
    let (f, _) = owner_fixture();
    f.auth.create_group("family", &[]).unwrap();
    let friends = f.auth.create_group("friends", &[]).unwrap();
    let e = f.auth.update_group(friends.id, "Family", &[]).unwrap_err();
    assert_eq!(e.code(), "group.name_taken", "{e}");
    // The store's own path (used by the group handlers) answers the same conflict.
    let e = f.auth.store().upsert_group(Some(friends.id), "family", &[]).unwrap_err();
    assert!(matches!(e, crate::store::StoreError::Conflict { code: "group.name_taken", .. }), "{e}");
    assert_eq!(f.auth.create_group("FAMILY", &[]).unwrap_err().code(), "group.name_taken");
    assert_eq!(f.auth.update_group(999, "x", &[]).unwrap_err().code(), "group.not_found");
    assert_eq!(f.auth.delete_group(999).unwrap_err().code(), "group.not_found");
    assert_eq!(f.auth.create_group("x", &["root.everything".into()]).unwrap_err().code(), "group.unknown_permission");
}

#[test]
fn an_admin_cannot_reset_an_owners_second_factors() {
    let (f, owner) = owner_fixture();
    let me = match &owner {
        Identity::User(u) => (**u).clone(),
        _ => unreachable!(),
    };
    let (b32, _, _) = f.auth.totp_begin(&me).unwrap();
    let secret = totp_rs::Secret::try_from_base32(&b32).unwrap().as_bytes().to_vec();
    f.auth.totp_confirm(&me, &totp::current(&secret, "anna").unwrap()).unwrap();
    f.auth.create_user("bob", "Bob", PW, Role::Admin, &[], None, &owner).unwrap();
    let step = f.auth.login_password("bob", PW, &client()).unwrap();
    let admin = Identity::User(Box::new(complete(&f.auth, &step.session.token)));

    let e = f.auth.reset_second_factor(me.user.id, &admin).unwrap_err();
    assert_eq!(e.code(), "auth.owner_only", "{e}");
    let step = f.auth.login_password("anna", PW, &client()).unwrap();
    assert_eq!(step.second_factors, vec!["totp", "recovery_code"], "the owner's second factor was removed");
    // An owner (and the console) still can.
    f.auth.reset_second_factor(me.user.id, &owner).unwrap();
    assert!(f.auth.login_password("anna", PW, &client()).unwrap().second_factors.is_empty());
}

#[test]
fn oversized_inputs_are_refused_before_anything_is_stored_or_hashed() {
    let (f, owner) = owner_fixture();
    let huge = "a".repeat(1 << 20);
    let started = std::time::Instant::now();
    for _ in 0..20 {
        let e = f.auth.login_password(&huge, PW, &client()).err().unwrap();
        assert_eq!(e.code(), "input.too_long", "{e}");
        let e = f.auth.login_password("anna", &huge, &client()).err().unwrap();
        assert_eq!(e.code(), "input.too_long", "{e}");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "oversized sign-ins took {:?}", started.elapsed());
    assert_eq!(f.auth.store().transaction(|t| t.login_failure_rows()).unwrap(), 0, "backoff rows were stored");

    fn too_long<T>(r: Result<T>) -> Option<&'static str> {
        r.err().map(|e| e.code())
    }
    assert_eq!(too_long(f.auth.create_user("bob", &huge, PW, Role::Viewer, &[], None, &owner)), Some("input.too_long"));
    assert_eq!(too_long(f.auth.create_user(&huge, "Bob", PW, Role::Viewer, &[], None, &owner)), Some("input.too_long"));
    assert_eq!(too_long(f.auth.create_group(&huge, &[])), Some("input.too_long"));
    assert_eq!(too_long(f.auth.passkey_login_begin(&huge)), Some("input.too_long"));
    let me = match &owner {
        Identity::User(u) => (**u).clone(),
        _ => unreachable!(),
    };
    assert_eq!(too_long(f.auth.passkey_register_begin(&me, &huge)), Some("input.too_long"));
    assert_eq!(too_long(f.auth.change_own_password(&me, &huge, PW)), Some("input.too_long"));
    assert_eq!(f.auth.store().users().unwrap().len(), 1);
    // What is recorded for an unknown caller is bounded.
    assert!(claimed_name(&huge).len() <= keepsake_api::limits::CLAIMED_NAME_MAX);
    let ua = ClientInfo { address: Some(huge.clone()), user_agent: huge.clone() }.bounded();
    assert!(ua.user_agent.len() <= keepsake_api::limits::USER_AGENT_MAX);
    assert!(ua.address.unwrap().len() <= keepsake_api::limits::ADDRESS_MAX);
}

#[test]
fn the_backoff_table_is_bounded_and_keeps_active_locks() {
    let f = fixture();
    let max = keepsake_api::limits::BACKOFF_ROWS_MAX;
    let until = Some(chrono::Utc::now() + chrono::Duration::minutes(10));
    f.auth
        .store()
        .transaction(|t| {
            t.set_login_failures("account:locked", 9, until)?;
            for i in 0..max + 50 {
                t.set_login_failures(&format!("account:junk{i}"), 1, None)?;
            }
            Ok::<_, crate::store::StoreError>(())
        })
        .unwrap();
    let store = f.auth.store();
    assert_eq!(store.transaction(|t| t.login_failure_rows()).unwrap(), max as i64);
    assert!(store.login_failures("account:locked").unwrap().is_some(), "an active lock was evicted");
    assert!(store.login_failures("account:junk0").unwrap().is_none(), "the oldest junk entry was kept");
}

/// Resolves `token` and returns the identity, or `None` if the session no longer grants anything.
fn resolve(a: &Auth, token: &str) -> Option<UserIdentity> {
    match a.session_state(Some(token)).unwrap() {
        SessionState::Complete(u) => Some(*u),
        _ => None,
    }
}

#[test]
fn the_identity_cache_sees_every_change_on_the_very_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    // A TTL far longer than the test: only the epoch can make changes visible.
    let cfg = AuthConfig { identity_cache_ttl: Duration::from_secs(3600), ..AuthConfig::default() };
    let auth = Auth::new(Arc::clone(&store), dir.path(), cfg).unwrap();
    let (_, s) = auth.setup_owner("anna", "Anna", PW, &client()).unwrap();
    let owner = Identity::User(Box::new(complete(&auth, &s.token)));
    let bob = auth.create_user("bob", "Bob", PW, Role::Viewer, &[], None, &owner).unwrap();
    let tok = auth.login_password("bob", PW, &client()).unwrap().session.token;

    // Cached reads do not write or move the epoch.
    let epoch = store.identity_epoch();
    for _ in 0..3 {
        assert_eq!(resolve(&auth, &tok).unwrap().role, Role::Viewer);
    }
    assert_eq!(store.identity_epoch(), epoch, "resolving a session changed identity data");

    // Role change.
    auth.update_user(bob.id, None, Some(Role::Admin), None, None, None, &owner).unwrap();
    assert_eq!(resolve(&auth, &tok).unwrap().role, Role::Admin);

    // The second-factor-for-admins setting.
    assert!(!resolve(&auth, &tok).unwrap().must_enroll_second_factor);
    auth.settings().set_require_second_factor_for_admins(true).unwrap();
    assert!(resolve(&auth, &tok).unwrap().must_enroll_second_factor);
    auth.settings().set_require_second_factor_for_admins(false).unwrap();
    assert!(!resolve(&auth, &tok).unwrap().must_enroll_second_factor);

    // A group's permissions change.
    auth.update_user(bob.id, None, Some(Role::Viewer), None, None, None, &owner).unwrap();
    let g = auth.create_group("auditors", &[]).unwrap();
    auth.update_user(bob.id, None, None, None, Some(&[g.id]), None, &owner).unwrap();
    assert!(!resolve(&auth, &tok).unwrap().permissions.contains(&Permission::AuditView));
    auth.update_group(g.id, "auditors", &["audit.view".into()]).unwrap();
    assert!(resolve(&auth, &tok).unwrap().permissions.contains(&Permission::AuditView));
    auth.delete_group(g.id).unwrap();
    assert!(!resolve(&auth, &tok).unwrap().permissions.contains(&Permission::AuditView));

    // Session revoke.
    let sid = resolve(&auth, &tok).unwrap().session_id;
    auth.revoke_session(bob.id, sid).unwrap();
    assert!(resolve(&auth, &tok).is_none(), "a revoked session still resolved");

    // Disable.
    let tok = auth.login_password("bob", PW, &client()).unwrap().session.token;
    assert!(resolve(&auth, &tok).is_some());
    auth.update_user(bob.id, None, None, Some(true), None, None, &owner).unwrap();
    assert!(resolve(&auth, &tok).is_none(), "a disabled account's session still resolved");

    // A password set by an admin ends sessions; so does a second-factor reset.
    auth.update_user(bob.id, None, None, Some(false), None, None, &owner).unwrap();
    let tok = auth.login_password("bob", PW, &client()).unwrap().session.token;
    assert!(resolve(&auth, &tok).is_some());
    auth.reset_second_factor(bob.id, &owner).unwrap();
    assert!(resolve(&auth, &tok).is_none());
}
