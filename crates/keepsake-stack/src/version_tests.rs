//! Tests of version.rs: parsing, printing, ordering and each update rule.

use super::*;
use proptest::prelude::*;

fn v(s: &str) -> ImmichVersion {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn img(s: &str) -> ImageRef {
    ImageRef::parse(s).unwrap()
}

const VCHORD: &str = "ghcr.io/immich-app/postgres:14-vectorchord0.4.3-pgvectors0.2.0";
const PGVECTORS: &str = "docker.io/tensorchord/pgvecto-rs:pg14-v0.2.0";

#[test]
fn parses_and_prints() {
    let cases = [
        ("v3.2.2", "v3.2.2", (3, 2, 2, None)),
        ("3.2.2", "v3.2.2", (3, 2, 2, None)),
        ("v3.0.0-rc.1", "v3.0.0-rc.1", (3, 0, 0, Some("rc.1"))),
        ("v1.132.3", "v1.132.3", (1, 132, 3, None)),
        ("0.0.0", "v0.0.0", (0, 0, 0, None)),
    ];
    for (input, shown, (ma, mi, pa, pre)) in cases {
        let got = v(input);
        assert_eq!((got.major, got.minor, got.patch, got.prerelease.as_deref()), (ma, mi, pa, pre));
        assert_eq!(got.to_string(), shown);
    }
}

#[test]
fn rejects_non_versions() {
    for s in [
        "release",
        "v3",
        "v3.2",
        "v3.2.2.1",
        "",
        "v",
        "vv3.2.2",
        "v3.2.x",
        "v03.2.2",
        "v3.2.2-",
        "v3.2.2-rc..1",
        "v3.2.2+build",
        "v3.2.2-rc.01",
        " v3.2.2",
        "v-3.2.2",
        "v3.2.99999999999999999999",
    ] {
        let e = s.parse::<ImmichVersion>().expect_err(s);
        assert!(e.to_string().contains("v3.2.2"), "error says how to write one: {e}");
    }
}

#[test]
fn serde_is_the_tag_string() {
    let x = v("v3.0.0-rc.1");
    assert_eq!(serde_json::to_value(&x).unwrap(), "v3.0.0-rc.1");
    assert_eq!(serde_json::from_value::<ImmichVersion>("3.2.2".into()).unwrap(), v("v3.2.2"));
    assert!(serde_json::from_value::<ImmichVersion>("release".into()).is_err());
}

#[test]
fn semver_precedence() {
    let ordered = [
        "v1.0.0-alpha",
        "v1.0.0-alpha.1",
        "v1.0.0-alpha.beta",
        "v1.0.0-beta",
        "v1.0.0-beta.2",
        "v1.0.0-beta.11",
        "v1.0.0-rc.1",
        "v1.0.0",
        "v1.9.0",
        "v1.10.0",
        "v1.132.3",
        "v2.0.0",
        "v3.0.0-rc.1",
        "v3.0.0",
        "v3.2.2",
    ];
    for w in ordered.windows(2) {
        assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
    }
}

#[test]
fn from_server_version_reads_the_api_body() {
    let j = serde_json::json!({"major": 3, "minor": 2, "patch": 2});
    assert_eq!(ImmichVersion::from_server_version(&j).unwrap(), v("v3.2.2"));
    let j = serde_json::json!({"major": 3, "minor": 0, "patch": 0, "prerelease": "rc.1"});
    assert_eq!(ImmichVersion::from_server_version(&j).unwrap(), v("v3.0.0-rc.1"));
    let j = serde_json::json!({"major": 3, "minor": 0, "patch": 0, "prerelease": null});
    assert_eq!(ImmichVersion::from_server_version(&j).unwrap(), v("v3.0.0"));
    for bad in [
        serde_json::json!({"major": 3, "minor": 2}),
        serde_json::json!({"major": "3", "minor": 2, "patch": 2}),
        serde_json::json!({"major": -1, "minor": 2, "patch": 2}),
        serde_json::json!({"major": 3, "minor": 2, "patch": 2, "prerelease": 5}),
        serde_json::json!({"major": 3, "minor": 2, "patch": 2, "prerelease": "a b"}),
        serde_json::json!("v3.2.2"),
    ] {
        assert!(ImmichVersion::from_server_version(&bad).is_err(), "{bad}");
    }
}

/// Which rule fires, by name, so the table reads plainly.
fn rule(from: Option<&str>, to: &str, db: &str) -> &'static str {
    match check_update(from.map(v).as_ref(), &v(to), &img(db)) {
        Ok(()) => "ok",
        Err(UpgradeError::AlreadyCurrent { .. }) => "current",
        Err(UpgradeError::Downgrade { .. }) => "downgrade",
        Err(UpgradeError::BridgeRequired { .. }) => "bridge",
        Err(UpgradeError::VectorExtension { .. }) => "vector",
        Err(UpgradeError::Prerelease { .. }) => "prerelease",
    }
}

#[test]
fn update_rules() {
    let cases = [
        // fresh installs
        (None, "v3.2.2", VCHORD, "ok"),
        (None, "v3.2.2", PGVECTORS, "vector"),
        (None, "v1.131.0", PGVECTORS, "ok"),
        (None, "v3.0.0-rc.1", VCHORD, "prerelease"),
        // same and lower
        (Some("v3.2.2"), "v3.2.2", VCHORD, "current"),
        (Some("v3.2.2"), "v3.2.1", VCHORD, "downgrade"),
        (Some("v3.2.2"), "v2.9.0", VCHORD, "downgrade"),
        (Some("v3.0.0"), "v3.0.0-rc.1", VCHORD, "downgrade"),
        // forward
        (Some("v3.2.1"), "v3.2.2", VCHORD, "ok"),
        (Some("v2.5.0"), "v3.2.2", VCHORD, "ok"),
        (Some("v2.5.0"), "v3.2.2", PGVECTORS, "vector"),
        (Some("v2.5.0"), "v2.6.0", PGVECTORS, "ok"),
        (Some("v3.2.2"), "v3.3.0-rc.1", VCHORD, "prerelease"),
        (Some("v3.0.0-rc.1"), "v3.0.0", VCHORD, "ok"),
        // the 1.132 bridge
        (Some("v1.131.0"), "v1.137.0", VCHORD, "bridge"),
        (Some("v1.120.0"), "v3.2.2", VCHORD, "bridge"),
        (Some("v1.131.0"), "v1.136.0", VCHORD, "ok"),
        (Some("v1.131.0"), "v1.132.3", VCHORD, "ok"),
        (Some("v1.132.0"), "v1.137.0", VCHORD, "ok"),
        (Some("v1.132.3"), "v3.2.2", VCHORD, "ok"),
    ];
    for (from, to, db, want) in cases {
        assert_eq!(rule(from, to, db), want, "{from:?} -> {to} with {db}");
    }
}

#[test]
fn messages_say_what_to_do() {
    let e = check_update(Some(&v("v1.120.0")), &v("v3.2.2"), &img(VCHORD)).unwrap_err();
    let m = e.to_string();
    assert!(m.contains("Update to v1.132.3 first, open Immich once"), "{m}");
    assert!(m.contains("then update to v3.2.2"), "{m}");

    let m = check_update(Some(&v("v3.2.2")), &v("v3.2.1"), &img(VCHORD)).unwrap_err().to_string();
    assert!(m.contains("not supported by Immich") && m.contains("restore point"), "{m}");

    let m = check_update(None, &v("v3.2.2"), &img(PGVECTORS)).unwrap_err().to_string();
    assert!(m.contains("ghcr.io/immich-app/postgres:14-vectorchord"), "{m}");
    let m = check_update(None, &v("v3.2.2"), &img("postgres:16")).unwrap_err().to_string();
    assert!(m.contains("ghcr.io/immich-app/postgres:16-vectorchord"), "{m}");
    let m = check_update(None, &v("v3.2.2"), &img("postgres:latest")).unwrap_err().to_string();
    assert!(m.contains("ghcr.io/immich-app/postgres:<pg>-vectorchord"), "{m}");

    let m = check_update(None, &v("v3.0.0-rc.1"), &img(VCHORD)).unwrap_err().to_string();
    assert!(m.contains("prerelease") && m.contains("v3.0.0"), "{m}");

    let m = check_update(Some(&v("v3.2.2")), &v("v3.2.2"), &img(VCHORD)).unwrap_err().to_string();
    assert!(m.contains("already at v3.2.2"), "{m}");
}

fn version() -> impl Strategy<Value = ImmichVersion> {
    let pre = prop::option::of(prop::collection::vec(
        prop_oneof!["[a-zA-Z-][a-zA-Z0-9-]{0,5}", (0u64..1000).prop_map(|n| n.to_string())],
        1..4,
    ));
    (0u64..5000, 0u64..5000, 0u64..5000, pre).prop_map(|(major, minor, patch, pre)| ImmichVersion {
        major,
        minor,
        patch,
        prerelease: pre.map(|ids| ids.join(".")),
    })
}

proptest! {
    #[test]
    fn display_from_str_round_trip(x in version()) {
        let shown = x.to_string();
        prop_assert_eq!(shown.parse::<ImmichVersion>().unwrap(), x.clone());
        let bare = shown.trim_start_matches('v');
        prop_assert_eq!(bare.parse::<ImmichVersion>().unwrap(), x);
    }

    #[test]
    fn ord_agrees_with_numbers(a in version(), b in version()) {
        let na = (a.major, a.minor, a.patch);
        let nb = (b.major, b.minor, b.patch);
        if na != nb {
            prop_assert_eq!(a.cmp(&b), na.cmp(&nb));
        }
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a.cmp(&b) == Ordering::Equal, a == b);
        prop_assert!(a.release() >= a);
    }
}
