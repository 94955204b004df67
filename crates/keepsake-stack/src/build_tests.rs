//! Tests of build.rs: both network modes, ML off, the config hash and every error.

use std::path::{Path, PathBuf};

use super::*;
use crate::settings::StackPorts;
use crate::version::ImmichVersion;

const PW: &str = "abcdefghijklmnopqrstuvwxyz012345";

fn settings() -> StackSettings {
    StackSettings::defaults(ImmichVersion::new(3, 2, 2), Path::new("/srv/immich"), PW.to_string())
}

fn host_settings() -> StackSettings {
    let mut s = settings();
    s.network = Network::Host;
    s.ports = StackPorts { server: 12283, database: 15432, redis: 16379, machine_learning: 13003 };
    s.timezone = Some("Europe/Berlin".to_string());
    s
}

fn env<'a>(spec: &'a StackSpec, role: Role, key: &str) -> Option<&'a str> {
    spec.service(role).unwrap().env.get(key).map(String::as_str)
}

#[test]
fn bridge_mode_follows_compose() {
    let spec = build(&settings()).unwrap();
    assert_eq!(spec.project, "immich");
    let order: Vec<Role> = spec.start_order().iter().map(|s| s.role).collect();
    assert_eq!(order, Role::ALL);

    let names: Vec<&str> = spec.services.iter().map(|s| s.container.as_str()).collect();
    assert_eq!(names, ["immich_postgres", "immich_redis", "immich_machine_learning", "immich_server"]);
    let aliases: Vec<&[String]> = spec.services.iter().map(|s| s.aliases.as_slice()).collect();
    assert_eq!(aliases, [["database"], ["redis"], ["immich-machine-learning"], ["immich-server"]]);

    let server = spec.service(Role::Server).unwrap();
    assert_eq!(server.image.reference(), "ghcr.io/immich-app/immich-server:v3.2.2");
    assert_eq!(server.ports, [Port { host_ip: "127.0.0.1".into(), host_port: 2283, container_port: 2283 }]);
    for (k, want) in [
        ("DB_HOSTNAME", "database"),
        ("REDIS_HOSTNAME", "redis"),
        ("DB_USERNAME", "postgres"),
        ("DB_PASSWORD", PW),
        ("DB_DATABASE_NAME", "immich"),
        ("IMMICH_MACHINE_LEARNING_URL", "http://immich-machine-learning:3003"),
    ] {
        assert_eq!(env(&spec, Role::Server, k), Some(want), "{k}");
    }
    for k in ["DB_PORT", "REDIS_PORT", "IMMICH_HOST", "IMMICH_PORT", "TZ", "IMMICH_MACHINE_LEARNING_ENABLED"] {
        assert_eq!(env(&spec, Role::Server, k), None, "{k}");
    }
    assert_eq!(
        server.mounts,
        [
            Mount { source: "/srv/immich/library".into(), target: "/data".into(), read_only: false },
            Mount { source: "/etc/localtime".into(), target: "/etc/localtime".into(), read_only: true },
        ]
    );

    let db = spec.service(Role::Database).unwrap();
    assert_eq!(db.image.reference(), crate::DEFAULT_POSTGRES_IMAGE);
    assert_eq!(db.shm_size_bytes, Some(134_217_728));
    assert_eq!(env(&spec, Role::Database, "POSTGRES_PASSWORD"), Some(PW));
    assert_eq!(env(&spec, Role::Database, "POSTGRES_USER"), Some("postgres"));
    assert_eq!(env(&spec, Role::Database, "POSTGRES_DB"), Some("immich"));
    assert_eq!(env(&spec, Role::Database, "POSTGRES_INITDB_ARGS"), Some("--data-checksums"));
    assert_eq!(env(&spec, Role::Database, "PGPORT"), None);
    assert_eq!(db.mounts[0].source, PathBuf::from("/srv/immich/postgres"));
    assert_eq!(db.mounts[0].target, "/var/lib/postgresql/data");

    let redis = spec.service(Role::Redis).unwrap();
    assert_eq!(redis.image.reference(), crate::DEFAULT_REDIS_IMAGE);
    assert_eq!(redis.cmd, None);
    assert_eq!(redis.healthcheck.as_ref().unwrap().test, ["CMD-SHELL", "redis-cli ping || exit 1"]);

    let ml = spec.service(Role::MachineLearning).unwrap();
    assert_eq!(ml.image.tagged(), "ghcr.io/immich-app/immich-machine-learning:v3.2.2");
    assert_eq!(ml.mounts[0].target, "/cache");
    assert_eq!(ml.mounts[0].source, PathBuf::from("/srv/immich/model-cache"));

    for svc in &spec.services {
        assert_eq!(svc.restart, Restart::Always);
        assert_eq!(svc.network, Network::Bridge { name: "immich".into() });
        if svc.role != Role::Redis {
            assert_eq!(svc.healthcheck, None, "{:?} keeps the image's own", svc.role);
        }
        if svc.role != Role::Server {
            assert!(svc.ports.is_empty(), "{:?} publishes nothing", svc.role);
        }
        assert_eq!(svc.labels[LABEL_PROJECT], "immich");
        assert_eq!(svc.labels[LABEL_ROLE], svc.role.as_str());
        assert_eq!(svc.labels[LABEL_VERSION], "v3.2.2");
        assert_eq!(svc.labels[LABEL_CONFIG], svc.config_hash());
        assert_eq!(svc.labels.len(), 4);
    }
    let json = serde_json::to_string(&spec).unwrap();
    assert!(!json.contains("0.0.0.0"), "{json}");
}

#[test]
fn host_mode_binds_loopback_on_distinct_ports() {
    let spec = build(&host_settings()).unwrap();
    for svc in &spec.services {
        assert!(svc.ports.is_empty(), "{:?} publishes nothing on the host network", svc.role);
        assert!(svc.aliases.is_empty(), "{:?}", svc.role);
        assert_eq!(svc.network, Network::Host);
    }
    for (k, want) in [
        ("IMMICH_HOST", "127.0.0.1"),
        ("IMMICH_PORT", "12283"),
        ("DB_HOSTNAME", "127.0.0.1"),
        ("DB_PORT", "15432"),
        ("REDIS_HOSTNAME", "127.0.0.1"),
        ("REDIS_PORT", "16379"),
        ("IMMICH_MACHINE_LEARNING_URL", "http://127.0.0.1:13003"),
        ("TZ", "Europe/Berlin"),
    ] {
        assert_eq!(env(&spec, Role::Server, k), Some(want), "{k}");
    }
    assert_eq!(env(&spec, Role::Database, "PGPORT"), Some("15432"));
    assert_eq!(spec.service(Role::Database).unwrap().cmd, None);
    for k in ["IMMICH_HOST", "MACHINE_LEARNING_HOST"] {
        assert_eq!(env(&spec, Role::MachineLearning, k), Some("127.0.0.1"), "{k}");
    }
    for k in ["IMMICH_PORT", "MACHINE_LEARNING_PORT"] {
        assert_eq!(env(&spec, Role::MachineLearning, k), Some("13003"), "{k}");
    }
    let redis = spec.service(Role::Redis).unwrap();
    assert_eq!(redis.cmd.as_deref().unwrap(), ["valkey-server", "--bind", "127.0.0.1", "--port", "16379"]);
    assert_eq!(redis.healthcheck.as_ref().unwrap().test[1], "redis-cli -h 127.0.0.1 -p 16379 ping || exit 1");
    let json = serde_json::to_string(&spec).unwrap();
    assert!(!json.contains("0.0.0.0"), "{json}");
}

#[test]
fn machine_learning_off_removes_the_service() {
    for mut s in [settings(), host_settings()] {
        s.machine_learning = false;
        s.model_cache = PathBuf::from("relative/is/ignored/when/off");
        let spec = build(&s).unwrap();
        assert!(spec.service(Role::MachineLearning).is_none());
        let order: Vec<Role> = spec.start_order().iter().map(|s| s.role).collect();
        assert_eq!(order, [Role::Database, Role::Redis, Role::Server]);
        assert_eq!(env(&spec, Role::Server, "IMMICH_MACHINE_LEARNING_ENABLED"), Some("false"));
        assert_eq!(env(&spec, Role::Server, "IMMICH_MACHINE_LEARNING_URL"), None);
    }
}

#[test]
fn pinned_digests_reach_the_images() {
    let d = "sha256:".to_string() + &"a".repeat(64);
    let mut s = settings();
    s.server_digest = Some(d.clone());
    s.ml_digest = Some(d.clone());
    let spec = build(&s).unwrap();
    assert_eq!(
        spec.service(Role::Server).unwrap().image.reference(),
        format!("ghcr.io/immich-app/immich-server:v3.2.2@{d}")
    );
    assert_eq!(spec.service(Role::MachineLearning).unwrap().image.digest, Some(d));
}

#[test]
fn config_hash_is_stable_and_tracks_what_matters() {
    let a = build(&settings()).unwrap();
    let b = build(&settings()).unwrap();
    for (x, y) in a.services.iter().zip(&b.services) {
        assert_eq!(x.config_hash(), y.config_hash());
        assert_eq!(x.config_hash().len(), 64);
    }
    let server = a.service(Role::Server).unwrap().clone();
    let h = server.config_hash();
    let hashes: std::collections::HashSet<String> = a.services.iter().map(ServiceSpec::config_hash).collect();
    assert_eq!(hashes.len(), a.services.len(), "every service hashes differently");

    let mut changed = server.clone();
    changed.env.insert("TZ".into(), "Etc/UTC".into());
    assert_ne!(changed.config_hash(), h, "env");

    let mut changed = server.clone();
    changed.image.tag = "v3.2.3".into();
    assert_ne!(changed.config_hash(), h, "image");

    let mut changed = server.clone();
    changed.mounts[0].read_only = true;
    assert_ne!(changed.config_hash(), h, "mount mode");
    let mut changed = server.clone();
    changed.mounts[0].source = "/srv/other".into();
    assert_ne!(changed.config_hash(), h, "mount source");

    let mut changed = server.clone();
    changed.ports[0].host_port = 2284;
    assert_ne!(changed.config_hash(), h, "port");

    let mut changed = server.clone();
    changed.labels.insert("x".into(), "y".into());
    changed.labels.remove(LABEL_CONFIG);
    assert_eq!(changed.config_hash(), h, "labels are not hashed");

    let mut s = settings();
    s.db_password = "ZZZZZZZZZZZZZZZZZZZZ".into();
    let other = build(&s).unwrap();
    assert_ne!(
        other.service(Role::Database).unwrap().labels[LABEL_CONFIG],
        a.service(Role::Database).unwrap().labels[LABEL_CONFIG],
        "a new password means a new container"
    );
}

#[test]
fn debug_hides_passwords() {
    let spec = build(&settings()).unwrap();
    let d = format!("{spec:?}");
    assert!(!d.contains(PW), "{d}");
    assert!(d.contains("<redacted>"));
}

/// Applies `change` to good settings and expects `build` to fail with a matching error.
fn fails(change: impl FnOnce(&mut StackSettings), want: fn(&SpecError) -> bool) {
    let mut s = settings();
    change(&mut s);
    match build(&s) {
        Ok(_) => panic!("built with {s:?}"),
        Err(e) => assert!(want(&e), "unexpected error: {e}"),
    }
}

#[test]
fn every_error_case() {
    use SpecError as E;
    fails(|s| s.db_password = "abcdefghijklmnop!".into(), |e| matches!(e, E::PasswordCharacters));
    fails(|s| s.db_password = "abcdéfghijklmnopq".into(), |e| matches!(e, E::PasswordCharacters));
    fails(|s| s.db_password = "short123".into(), |e| matches!(e, E::PasswordTooShort { len: 8, min: 16 }));
    fails(|s| s.db_password = String::new(), |e| matches!(e, E::PasswordTooShort { .. }));
    fails(|s| s.upload_location = "library".into(), |e| matches!(e, E::RelativePath { what: "upload location", .. }));
    fails(|s| s.db_data_location = "./postgres".into(), |e| matches!(e, E::RelativePath { .. }));
    fails(|s| s.model_cache = "cache".into(), |e| matches!(e, E::RelativePath { what: "model cache", .. }));
    fails(|s| s.upload_location = "/srv/a:b".into(), |e| matches!(e, E::UnusablePath { .. }));
    fails(|s| s.upload_location = "/".into(), |e| matches!(e, E::UnusablePath { .. }));
    fails(
        |s| {
            use std::os::unix::ffi::OsStrExt;
            s.upload_location = PathBuf::from(std::ffi::OsStr::from_bytes(b"/srv/\xff"));
        },
        |e| matches!(e, E::UnusablePath { .. }),
    );
    fails(
        |s| {
            s.network = Network::Host;
            s.ports.redis = s.ports.database;
        },
        |e| matches!(e, E::PortConflict { first: "the database", second: "redis", port: 5432 }),
    );
    fails(
        |s| {
            s.network = Network::Host;
            s.ports.machine_learning = s.ports.server;
        },
        |e| matches!(e, E::PortConflict { first: "the server", second: "machine learning", .. }),
    );
    fails(|s| s.ports.server = 0, |e| matches!(e, E::PortZero { .. }));
    fails(|s| s.server_repository = "Not A Repo".into(), |e| matches!(e, E::InvalidImage { .. }));
    fails(|s| s.ml_repository = "a//b".into(), |e| matches!(e, E::InvalidImage { .. }));
    fails(|s| s.server_digest = Some("sha256:1234".into()), |e| matches!(e, E::InvalidImage { .. }));
    fails(|s| s.redis_image.tag = String::new(), |e| matches!(e, E::InvalidImage { .. }));
    fails(|s| s.postgres_image.digest = Some("md5:x".into()), |e| matches!(e, E::InvalidImage { .. }));
    fails(|s| s.db_username = "Post Gres".into(), |e| matches!(e, E::InvalidName { .. }));
    fails(|s| s.db_name = String::new(), |e| matches!(e, E::InvalidName { .. }));
    fails(|s| s.container_prefix = "/x".into(), |e| matches!(e, E::InvalidName { .. }));
    fails(|s| s.project = "".into(), |e| matches!(e, E::InvalidName { .. }));
    fails(|s| s.network = Network::Bridge { name: "a b".into() }, |e| matches!(e, E::InvalidName { .. }));
    fails(|s| s.timezone = Some("Europe/Berlin; rm".into()), |e| matches!(e, E::InvalidName { .. }));
}

#[test]
fn bridge_mode_allows_shared_internal_ports() {
    // On the bridge only the server's port is on the host; the others are never bound there.
    let mut s = settings();
    s.ports = StackPorts { server: 2283, database: 2283, redis: 2283, machine_learning: 2283 };
    build(&s).unwrap();
}

#[test]
fn error_messages_say_what_to_do() {
    let mut s = settings();
    s.db_password = "bad pw".into();
    assert!(build(&s).unwrap_err().to_string().contains("generate_db_password"));
    let mut s = host_settings();
    s.ports.redis = s.ports.server;
    let m = build(&s).unwrap_err().to_string();
    assert!(m.contains("127.0.0.1:12283") && m.contains("own port"), "{m}");
}
