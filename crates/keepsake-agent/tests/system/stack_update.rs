//! Updating Immich as one transaction on the real engine, with the stand-in images of the lab's
//! registry (see `stack.rs`): the stand-in server records its version in the database when it
//! starts, as Immich's migrations change it, and refuses a database a newer version migrated; tag
//! v3.2.2 migrates and then never becomes healthy. A box with restore points on the lab's ZFS pool.

use http::Method;
use keepsake_api::paths;
use keepsake_api::{Job, JobResult, JobState, StackService};
use serde_json::json;

use crate::stack::{TestBox, service};

async fn update(b: &TestBox, version: &str) -> Job {
    let job: Job = b
        .client()
        .call_json(Method::POST, paths::STACK_UPDATE, Some(&json!({ "version": version })))
        .await
        .expect("update accepted");
    crate::harness::wait_job(&b.client(), job.id, 300, "the update ends", |j| j.state.is_terminal()).await
}

#[tokio::test(flavor = "current_thread")]
async fn an_update_goes_through_and_a_broken_one_rolls_back_with_the_database_as_it_was() {
    let b = TestBox::with_restore_points("upd").await;
    b.install(json!({})).await;
    b.psql("CREATE TABLE family_note (n text); INSERT INTO family_note VALUES ('before v3.2.0')");

    // Refused before anything happens: a downgrade, the same version, a pre-release.
    for (v, why) in [("v3.0.0", "earlier"), ("v3.1.0", "already"), ("v3.3.0-rc.1", "release")] {
        let e = b.client().call_json::<Job>(Method::POST, paths::STACK_UPDATE, Some(&json!({ "version": v }))).await;
        let e = e.expect_err(v).to_string();
        assert!(e.to_lowercase().contains(why), "{v}: {e}");
    }

    let job = update(&b, "v3.2.0").await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    let Some(JobResult::StackUpdated(r)) = &job.result else { panic!("{job:#?}") };
    assert_eq!((r.from.as_str(), r.to.as_str()), ("v3.1.0", "v3.2.0"));
    let s = b.healthy_status().await;
    assert_eq!(s.version.as_deref(), Some("v3.2.0"));
    let server = service(&s, StackService::Server);
    assert!(server.image.contains(":v3.2.0@sha256:"), "{}", server.image);
    assert_eq!(service(&s, StackService::MachineLearning).version.as_deref(), Some("v3.2.0"));
    assert_eq!(b.server_version().await, json!({"major": 3, "minor": 2, "patch": 0, "prerelease": null}));
    assert_eq!(b.psql("SELECT string_agg(version, ',' ORDER BY version) FROM standin_migrations"), "v3.1.0,v3.2.0");

    b.psql("INSERT INTO family_note VALUES ('before v3.2.2')");
    let before = b.psql("SELECT string_agg(n, ',' ORDER BY n) FROM family_note");
    let job = update(&b, "v3.2.2").await;
    assert_eq!(job.state, JobState::Failed, "{job:#?}");
    let msg = job.error.clone().unwrap_or_default();
    assert!(msg.contains("back on v3.2.0") && msg.contains("as it was before"), "{msg}");
    // Back on v3.2.0, healthy, and the database without v3.2.2's migration but with every row
    // written before the attempt.
    let s = b.healthy_status().await;
    assert_eq!(s.version.as_deref(), Some("v3.2.0"), "{s:#?}");
    assert!(service(&s, StackService::Server).image.contains(":v3.2.0@sha256:"));
    assert_eq!(b.server_version().await["minor"], 2);
    assert_eq!(b.psql("SELECT string_agg(version, ',' ORDER BY version) FROM standin_migrations"), "v3.1.0,v3.2.0");
    assert_eq!(b.psql("SELECT string_agg(n, ',' ORDER BY n) FROM family_note"), before);
    // Both attempts left a pre-update restore point.
    let points = b.client().restore_points().await.expect("points");
    let pre = points.points.iter().filter(|p| p.kind == Some(keepsake_api::RestorePointKind::PreUpdate)).count();
    assert_eq!(pre, 2, "{points:#?}");

    // Back by hand to v3.1.0: its images are still here and a point was made while it ran.
    let versions: keepsake_api::StackVersions =
        b.client().call_json(Method::GET, paths::STACK_VERSIONS, None).await.expect("versions");
    assert_eq!(versions.current.as_deref(), Some("v3.2.0"));
    let v1 = versions.versions.iter().find(|v| v.version == "v3.1.0").expect("v3.1.0 listed");
    assert!(v1.images_local && v1.restore_point.is_some() && v1.not_possible.is_none(), "{v1:?}");
    for (body, why) in [
        (json!({"version": "v3.1.0", "confirm": "yes"}), "roll back"),
        (json!({"version": "v3.0.0", "confirm": "roll back"}), "never ran"),
        (json!({"version": "v3.2.0", "confirm": "roll back"}), "running now"),
    ] {
        let e = b.client().call_json::<Job>(Method::POST, paths::STACK_ROLLBACK, Some(&body)).await;
        let e = e.expect_err("refused").to_string();
        assert!(e.contains(why), "{body}: {e}");
    }
    let job: Job = b
        .client()
        .call_json(Method::POST, paths::STACK_ROLLBACK, Some(&json!({"version": "v3.1.0", "confirm": "roll back"})))
        .await
        .expect("rollback accepted");
    let job = crate::harness::wait_job(&b.client(), job.id, 300, "the rollback ends", |j| j.state.is_terminal()).await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    let s = b.healthy_status().await;
    assert_eq!(s.version.as_deref(), Some("v3.1.0"), "{s:#?}");
    assert_eq!(b.server_version().await["minor"], 1);
    // The database of the point made while v3.1.0 ran: what came after is undone.
    assert_eq!(b.psql("SELECT string_agg(version, ',' ORDER BY version) FROM standin_migrations"), "v3.1.0");
    assert_eq!(b.psql("SELECT string_agg(n, ',' ORDER BY n) FROM family_note"), "before v3.2.0");
    let versions: keepsake_api::StackVersions =
        b.client().call_json(Method::GET, paths::STACK_VERSIONS, None).await.expect("versions");
    assert!(versions.versions.iter().any(|v| v.version == "v3.2.0" && v.not_possible.is_none()), "{versions:#?}");
}

/// SIGKILLs the agent once the update's job shows `sign` (in its progress phase or its log), then
/// starts it again and waits until the stack is healthy with no update on record.
async fn kill_during_update_at(b: &mut TestBox, sign: &str) {
    let job: Job = b
        .client()
        .call_json(Method::POST, paths::STACK_UPDATE, Some(&json!({ "version": "v3.2.0" })))
        .await
        .expect("update accepted");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let j = b.client().job(job.id).await.expect("job");
        let log = b.client().job_log(job.id).await.expect("log");
        if j.progress.phase.contains(sign) || log.lines.iter().any(|l| l.message.contains(sign)) {
            break;
        }
        assert!(!j.state.is_terminal(), "the update ended before `{sign}` showed: {j:#?}");
        assert!(std::time::Instant::now() < deadline, "`{sign}` never showed: {j:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.agent.kill_hard();
    b.agent.restart().await;
    // The interrupted job is failed by its kind's rule; a stack.recover job may run.
    let j = crate::harness::wait_job(&b.client(), job.id, 30, "the interrupted update is closed", |j| {
        j.state.is_terminal()
    })
    .await;
    assert_eq!(j.state, JobState::Failed, "{j:#?}");
    let recover = b
        .client()
        .jobs(&keepsake_api::JobQuery { kind: Some("stack.recover".into()), ..Default::default() })
        .await
        .unwrap();
    for r in recover.jobs.iter().filter(|r| !r.state.is_terminal()) {
        let r = crate::harness::wait_job(&b.client(), r.id, 240, "the rollback ends", |j| j.state.is_terminal()).await;
        assert_eq!(r.state, JobState::Succeeded, "{r:#?}\n{}", b.agent.log());
    }
}

/// Whatever phase the agent dies in, the stack ends healthy on one version, with the database of
/// that version (the stand-in server records each version that migrated it).
#[tokio::test(flavor = "current_thread")]
async fn an_agent_killed_in_each_phase_of_an_update_leaves_one_whole_version() {
    let mut b = TestBox::with_restore_points("kill").await;
    b.install(json!({})).await;
    let creating = format!("creating {}server", b.prefix);
    // While the point is made; just after it (pull, intent); as the new server is created; while
    // the new version starts (it may have migrated the database).
    for sign in ["making a pre-update restore point", " made", creating.as_str(), "waiting for"] {
        kill_during_update_at(&mut b, sign).await;
        let s = b.healthy_status().await;
        let version = s.version.clone().expect("a version");
        let migrated = b.psql("SELECT max(version) FROM standin_migrations");
        eprintln!("killed at `{sign}`: the stack came back on {version}");
        assert_eq!(migrated, version, "after a kill at `{sign}`: the database is of {migrated}, Immich runs {version}");
        assert_eq!(service(&s, StackService::Server).version.as_deref(), Some(version.as_str()), "{s:#?}");
        let answered = b.server_version().await;
        assert_eq!(
            format!("v{}.{}.{}", answered["major"], answered["minor"], answered["patch"]),
            version,
            "after `{sign}`"
        );
        // Every phase is killed before the new version is proven healthy, so each must come back
        // on the old one; an update that went through would leave the later phases untested.
        assert_eq!(version, "v3.1.0", "the update finished before the kill at `{sign}`: the phase was not tested");
    }
}
