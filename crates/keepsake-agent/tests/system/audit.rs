//! Every mutating request is recorded in the audit log, whatever its outcome.

use keepsake_agent::store::Store;

use crate::harness::{Agent, AgentOpts, open_tempdir};

#[tokio::test]
async fn mutating_requests_are_audited_with_actor_outcome_and_source_and_reads_are_not() {
    let dir = open_tempdir();
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let client = agent.client();
    let job = client.start_self_check().await.unwrap();
    crate::harness::wait_state(&client, job.id, 30, keepsake_api::JobState::Succeeded).await;
    let _ = client.cancel_job(job.id).await.unwrap_err(); // a conflict: audited too
    client.status().await.unwrap();
    client.jobs(&Default::default()).await.unwrap();

    let store = Store::open(&agent.state_dir).unwrap();
    let entries = store.audit_entries(&keepsake_agent::store::AuditFilter { limit: 10, ..Default::default() }).unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let (cancel, start) = (&entries[0], &entries[1]);
    assert_eq!(start.action, "host.self_check");
    assert_eq!(start.actor, "root@console");
    assert_eq!(start.outcome, "ok");
    assert!(start.source.starts_with("unix:uid=0,pid="));
    assert_eq!(cancel.action, "jobs.cancel");
    assert_eq!(cancel.target.as_deref(), Some(format!("id={}", job.id).as_str()));
    assert_eq!(cancel.outcome, "error:job.finished");
}

/// Root can rewrite the whole log, markers included, so that it verifies on its own; a head
/// written down earlier (the weekly summary, a backup drive) still catches it.
#[tokio::test]
async fn a_witnessed_head_catches_a_log_rewritten_from_scratch() {
    let dir = open_tempdir();
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let client = agent.client();
    let job = client.start_self_check().await.unwrap();
    crate::harness::wait_state(&client, job.id, 30, keepsake_api::JobState::Succeeded).await;

    let out = agent.cli(None, &["--json", "audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: keepsake_api::AuditVerification = serde_json::from_slice(&out.stdout).unwrap();
    let head = v.head.expect("verify reports the head");
    assert_eq!(head.len(), 64);

    // Later entries do not disturb the witness: the chain still passes through it.
    client.start_self_check().await.unwrap();
    let out = agent.cli(None, &["audit", "verify", "--head", &head]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("witnessed head"), "{text}");

    // Root empties the log and its markers: it verifies on its own, but not against the witness.
    let db = agent.state_dir.join("keepsake.db");
    let sql = "DELETE FROM audit_log; DELETE FROM settings WHERE key LIKE 'audit.%';";
    let wiped = std::process::Command::new("sqlite3").arg(&db).arg(sql).output().unwrap();
    assert!(wiped.status.success(), "{}", String::from_utf8_lossy(&wiped.stderr));
    let alone = agent.cli(None, &["audit", "verify"]);
    assert!(
        alone.status.success(),
        "the wiped log should verify on its own: {}",
        String::from_utf8_lossy(&alone.stdout)
    );
    let out = agent.cli(None, &["audit", "verify", "--head", &head]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "a rewritten log passed against the witness: {text}");
    assert!(text.contains("TAMPERED"), "{text}");
}
