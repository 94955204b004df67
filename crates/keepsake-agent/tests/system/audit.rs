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
