//! The manager against a real (in-memory) store, with work supplied by the tests.

use std::time::Duration;

use keepsake_api::JobState;
use tokio::sync::oneshot;

use super::*;

fn manager() -> Arc<JobManager> {
    JobManager::start(Arc::new(Store::open_in_memory().unwrap())).unwrap()
}

async fn wait_for(m: &JobManager, id: i64, state: JobState) -> Job {
    for _ in 0..200 {
        let j = m.store().job(id).unwrap().unwrap();
        if j.state == state {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {id} never reached {state:?}: {:?}", m.store().job(id).unwrap());
}

/// Work that waits until the test releases it.
fn gated() -> (Work, oneshot::Sender<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let work: Work = Box::new(move |ctx: JobContext| {
        Box::pin(async move {
            ctx.progress(0, Some(1), "steps", "waiting for the gate");
            let _ = rx.await;
            ctx.progress(1, Some(1), "steps", "done");
            Ok(serde_json::json!({"ok": true}))
        })
    });
    (work, tx)
}

#[tokio::test]
async fn one_per_kind_queues_the_second_job_until_the_first_ends() {
    let m = manager();
    let (w1, gate1) = gated();
    let (w2, gate2) = gated();
    let a = m.submit(JobKind::HostSelfCheck, None, "t", w1).unwrap();
    let b = m.submit(JobKind::HostSelfCheck, None, "t", w2).unwrap();
    wait_for(&m, a.id, JobState::Running).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(m.store().job(b.id).unwrap().unwrap().state, JobState::Queued);
    gate1.send(()).unwrap();
    let a = wait_for(&m, a.id, JobState::Succeeded).await;
    assert_eq!(a.result.unwrap()["ok"], true);
    wait_for(&m, b.id, JobState::Running).await;
    gate2.send(()).unwrap();
    wait_for(&m, b.id, JobState::Succeeded).await;
}

#[tokio::test]
async fn cancelling_a_running_job_stops_it() {
    let m = manager();
    let (w, _gate) = gated();
    let j = m.submit(JobKind::HostSelfCheck, None, "t", w).unwrap();
    wait_for(&m, j.id, JobState::Running).await;
    let after = m.cancel(j.id, "alice").unwrap();
    assert!(after.cancel_requested);
    let j = wait_for(&m, j.id, JobState::Cancelled).await;
    assert!(j.finished_at.is_some());
    let log = m.store().job_log(j.id).unwrap();
    assert!(log.iter().any(|l| l.message.contains("alice")), "{log:?}");
    assert!(matches!(m.cancel(j.id, "alice"), Err(JobsError::AlreadyFinished { .. })));
}

#[tokio::test]
async fn cancelling_a_queued_job_never_runs_it() {
    let m = manager();
    let (w1, gate1) = gated();
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ran2 = ran.clone();
    let w2: Work = Box::new(move |_ctx| {
        Box::pin(async move {
            ran2.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(serde_json::Value::Null)
        })
    });
    let a = m.submit(JobKind::HostSelfCheck, None, "t", w1).unwrap();
    let b = m.submit(JobKind::HostSelfCheck, None, "t", w2).unwrap();
    wait_for(&m, a.id, JobState::Running).await;
    let b = m.cancel(b.id, "bob").unwrap();
    assert_eq!(b.state, JobState::Cancelled);
    gate1.send(()).unwrap();
    wait_for(&m, a.id, JobState::Succeeded).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test]
async fn failures_and_panics_become_failed_jobs_with_a_reason() {
    let m = manager();
    let fail: Work = Box::new(|_| Box::pin(async { Err(JobFailure::Failed("disk is full; free space".into())) }));
    let j = m.submit(JobKind::HostSelfCheck, None, "t", fail).unwrap();
    let j = wait_for(&m, j.id, JobState::Failed).await;
    assert_eq!(j.error.as_deref(), Some("disk is full; free space"));

    let boom: Work = Box::new(|_| Box::pin(async { panic!("bug") }));
    let j = m.submit(JobKind::HostSelfCheck, None, "t", boom).unwrap();
    let j = wait_for(&m, j.id, JobState::Failed).await;
    assert!(j.error.unwrap().contains("internal error"));
}

#[tokio::test]
async fn events_announce_every_change_in_order() {
    let m = manager();
    let mut rx = m.subscribe();
    let work: Work = Box::new(|ctx| {
        Box::pin(async move {
            ctx.info("hello");
            ctx.progress(1, Some(2), "steps", "half");
            Ok(serde_json::Value::Null)
        })
    });
    let j = m.submit(JobKind::HostSelfCheck, None, "t", work).unwrap();
    let mut states = Vec::new();
    let mut logs = Vec::new();
    while states.last() != Some(&JobState::Succeeded) {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap() {
            JobEvent::Updated(job) => {
                assert_eq!(job.id, j.id);
                if states.last() != Some(&job.state) {
                    states.push(job.state);
                }
            }
            JobEvent::Log(l) => logs.push(l.message),
        }
    }
    assert_eq!(states, vec![JobState::Queued, JobState::Running, JobState::Succeeded]);
    assert_eq!(logs, vec!["hello".to_owned()]);
}
