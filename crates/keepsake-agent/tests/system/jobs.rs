//! Jobs across agent crashes, cancellation, queueing, and live events.
//!
//! A hung Docker engine (a socket that accepts and never answers) keeps a self-check running in
//! its first step for as long as a test needs, with no test-only job kind in the product.

use std::time::Duration;

use keepsake_agent::events::{Event, Events};
use keepsake_agent::store::Store;
use keepsake_api::{Job, JobState, LogLine, event};

use crate::harness::{Agent, AgentOpts, StalledSocket, open_tempdir, wait_job, wait_state};

fn stalled_opts(stalled: &StalledSocket) -> AgentOpts {
    AgentOpts { docker_host: stalled.docker_host(), probe_timeout_secs: 120, ..AgentOpts::default() }
}

async fn running_self_check(agent: &Agent) -> Job {
    let client = agent.client();
    let job = client.start_self_check().await.unwrap();
    wait_job(&client, job.id, 20, "running in its Docker step", |j| {
        j.state == JobState::Running && j.progress.phase.contains("Docker")
    })
    .await
}

#[tokio::test]
async fn a_job_running_when_the_agent_is_killed_is_failed_interrupted_after_restart() {
    let dir = open_tempdir();
    let stalled = StalledSocket::new(dir.path());
    let mut agent = Agent::start(dir.path(), stalled_opts(&stalled)).await;
    let job = running_self_check(&agent).await;

    agent.kill_hard();
    agent.restart().await;

    let after = agent.client().job(job.id).await.unwrap();
    assert_eq!(after.state, JobState::Failed, "{after:?}");
    assert!(after.error.as_deref().unwrap_or("").starts_with("interrupted"), "{after:?}");
    assert!(after.finished_at.is_some());
    // The CLI shows the same.
    let out = agent.cli(None, &["jobs", "show", &job.id.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("failed") && text.contains("interrupted"), "{text}");
}

#[tokio::test]
async fn the_end_of_an_interrupted_job_reaches_the_outbox_once_whatever_restarts_follow() {
    let dir = open_tempdir();
    let stalled = StalledSocket::new(dir.path());
    let mut agent = Agent::start(dir.path(), stalled_opts(&stalled)).await;
    let job = running_self_check(&agent).await;
    let store = std::sync::Arc::new(Store::open(&agent.state_dir).unwrap());
    let mut alerts = Events::new(std::sync::Arc::clone(&store)).consumer("test.alerts").unwrap();
    // Only job events count here: the host watchers publish what they see as well.
    let jobs_only = |c: &mut keepsake_agent::events::Consumer| {
        let all = c.pending(1000).unwrap();
        if let Some(last) = all.last() {
            c.ack(last.seq).unwrap();
        }
        all.into_iter().map(|d| d.event).filter(|e| matches!(e, Event::JobFinished { .. })).collect::<Vec<_>>()
    };
    assert!(jobs_only(&mut alerts).is_empty(), "a running job has not finished");

    agent.kill_hard();
    agent.restart().await;
    // The kind's reconcile rule said why, in the job's own log too.
    let log = agent.client().job_log(job.id).await.unwrap();
    assert!(log.lines.last().unwrap().message.contains("run it again"), "{log:?}");
    let finished = Event::JobFinished { job_id: job.id, kind: "host.self_check".into(), outcome: JobState::Failed };
    assert_eq!(jobs_only(&mut alerts), vec![finished]);

    // A second restart finds nothing left to reconcile and publishes nothing again.
    agent.kill_hard();
    agent.restart().await;
    agent.client().status().await.unwrap();
    assert!(jobs_only(&mut alerts).is_empty());
}

#[tokio::test]
async fn a_clean_shutdown_also_marks_running_jobs_interrupted() {
    let dir = open_tempdir();
    let stalled = StalledSocket::new(dir.path());
    let mut agent = Agent::start(dir.path(), stalled_opts(&stalled)).await;
    let job = running_self_check(&agent).await;
    assert!(agent.stop().success(), "agent did not exit cleanly on SIGTERM:\n{}", agent.log());
    assert!(!agent.socket.exists(), "socket removed on clean exit");
    agent.restart().await;
    let after = agent.client().job(job.id).await.unwrap();
    assert_eq!(after.state, JobState::Failed);
    assert!(after.error.unwrap().starts_with("interrupted"));
}

#[tokio::test]
async fn cancelling_stops_a_running_job_and_a_queued_one_never_starts() {
    let dir = open_tempdir();
    let stalled = StalledSocket::new(dir.path());
    let agent = Agent::start(dir.path(), stalled_opts(&stalled)).await;
    let client = agent.client();
    let first = running_self_check(&agent).await;
    // One self-check at a time: the second waits.
    let second = client.start_self_check().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.job(second.id).await.unwrap().state, JobState::Queued);

    // Cancel the queued one from the CLI (confirmation given with --yes)...
    let out = agent.cli(None, &["jobs", "cancel", "--yes", &second.id.to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(client.job(second.id).await.unwrap().state, JobState::Cancelled);
    // ...and without --yes and no terminal, the CLI refuses rather than guess.
    let out = agent.cli(None, &["jobs", "cancel", &first.id.to_string()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert_eq!(client.job(first.id).await.unwrap().state, JobState::Running);

    // Cancel the running one over the API: it stops although Docker never answers.
    let j = client.cancel_job(first.id).await.unwrap();
    assert!(j.cancel_requested);
    let j = wait_state(&client, first.id, 10, JobState::Cancelled).await;
    assert!(j.finished_at.is_some());
    // Cancelling again is a conflict with a clear message.
    let err = client.cancel_job(first.id).await.unwrap_err();
    assert_eq!(err.code(), Some("job.finished"), "{err}");
}

#[tokio::test]
async fn job_events_stream_progress_and_log_then_end_with_the_terminal_state() {
    let dir = open_tempdir();
    // No lab needed: every facility is simply missing, and the check still completes.
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let client = agent.client();
    let job = client.start_self_check().await.unwrap();
    let mut events = client.events(&format!("/api/v1/jobs/{}/events", job.id)).await.unwrap();
    let mut jobs: Vec<Job> = Vec::new();
    let mut lines: Vec<LogLine> = Vec::new();
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(30), events.next()).await.unwrap().unwrap() {
        match ev.event.as_str() {
            event::JOB => jobs.push(ev.json().unwrap()),
            event::LOG => lines.push(ev.json().unwrap()),
            other => panic!("unexpected event {other}"),
        }
    }
    let last = jobs.last().unwrap();
    assert_eq!(last.state, JobState::Succeeded);
    assert_eq!(last.progress.done, 6);
    assert_eq!(last.progress.total, Some(6));
    // Progress only grows.
    assert!(jobs.windows(2).all(|w| w[0].progress.done <= w[1].progress.done));
    // One line per facility and a summary, in order, without gaps or repeats.
    let seqs: Vec<i64> = lines.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
    assert!(lines.last().unwrap().message.contains("need attention"));
    // The stream of a finished job gives its snapshot and whole log, then ends.
    let mut again = client.events(&format!("/api/v1/jobs/{}/events", job.id)).await.unwrap();
    let mut n = 0;
    while again.next().await.unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 1 + 7);
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let dir = open_tempdir();
    let agent = Agent::start(dir.path(), AgentOpts::default()).await;
    let client = agent.client();
    let resp = client
        .send(http::Method::POST, "/api/v1/host/self-check", Some(&serde_json::json!({"force": true})))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(client.jobs(&Default::default()).await.unwrap().jobs.is_empty(), "no job was created");
    let err = client.job(999).await.unwrap_err();
    assert_eq!(err.code(), Some("job.not_found"));
    let resp = client.send(http::Method::GET, "/api/v1/jobs/abc", None).await.unwrap();
    assert_eq!(resp.status(), 400);
    let resp = client.send(http::Method::GET, "/api/v1/jobs?state=sleeping", None).await.unwrap();
    assert_eq!(resp.status(), 400);
    let resp = client.send(http::Method::GET, "/api/v1/jobs?limit=0", None).await.unwrap();
    assert_eq!(resp.status(), 400);
}
