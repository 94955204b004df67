//! The manager against a real (in-memory) store, with work supplied by the tests.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use keepsake_api::{JobState, Progress, SelfCheckReport};
use tokio::sync::oneshot;

use super::*;
use crate::events::Event;

fn store() -> Arc<Store> {
    Arc::new(Store::open_in_memory().unwrap())
}

fn manager() -> Arc<JobManager> {
    let s = store();
    JobManager::start(Arc::clone(&s), Events::new(s), &mut |_, _| None).unwrap()
}

fn report(problems: u32) -> JobResult {
    JobResult::SelfCheck(SelfCheckReport { checks: vec![], problems })
}

async fn wait_for(m: &JobManager, id: i64, state: JobState) -> Job {
    for _ in 0..300 {
        let j = m.store().job(id).unwrap().unwrap();
        if j.state == state {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {id} never reached {state:?}: {:?}", m.store().job(id).unwrap());
}

/// Waits until the job as the manager sees it (live while running) satisfies `ok`.
async fn wait_until(m: &JobManager, id: i64, ok: impl Fn(&Job) -> bool) -> Job {
    for _ in 0..300 {
        let j = m.job(id).unwrap().unwrap();
        if ok(&j) {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("job {id} never got there: {:?}", m.job(id).unwrap());
}

/// Work that waits until the test releases it.
fn gated() -> (Work, oneshot::Sender<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let work: Work = Box::new(move |ctx: JobContext| {
        Box::pin(async move {
            ctx.progress(0, Some(1), "steps", "waiting for the gate");
            let _ = rx.await;
            ctx.progress(1, Some(1), "steps", "done");
            Ok(Some(report(0)))
        })
    });
    (work, tx)
}

#[tokio::test]
async fn a_second_self_check_waits_for_the_first() {
    let m = manager();
    let (w1, gate1) = gated();
    let (w2, gate2) = gated();
    let a = m.submit(JobKind::HostSelfCheck, "t", w1).unwrap();
    let b = m.submit(JobKind::HostSelfCheck, "t", w2).unwrap();
    wait_for(&m, a.id, JobState::Running).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(m.store().job(b.id).unwrap().unwrap().state, JobState::Queued);
    gate1.send(()).unwrap();
    let a = wait_for(&m, a.id, JobState::Succeeded).await;
    assert_eq!(a.result, Some(report(0)));
    wait_for(&m, b.id, JobState::Running).await;
    gate2.send(()).unwrap();
    wait_for(&m, b.id, JobState::Succeeded).await;
}

#[tokio::test]
async fn backups_to_different_drives_run_together_and_to_the_same_drive_one_after_the_other() {
    let m = manager();
    let backup = |drive: &str| {
        vec![
            Lock::shared(Resource::Library),
            Lock::shared(Resource::Database),
            Lock::exclusive(Resource::Drive(drive.into())),
        ]
    };
    let submit = |drive: &str, work| {
        m.submit_declared(JobKind::HostSelfCheck, backup(drive), Cancel::Checkpoint, "t", work).unwrap()
    };
    let (w1, g1) = gated();
    let (w2, g2) = gated();
    let (w3, g3) = gated();
    let a = submit("uuid-a", w1);
    let a2 = submit("uuid-a", w2);
    let b = submit("uuid-b", w3);
    wait_for(&m, a.id, JobState::Running).await;
    wait_for(&m, b.id, JobState::Running).await;
    assert_eq!(m.store().job(a2.id).unwrap().unwrap().state, JobState::Queued);
    g1.send(()).unwrap();
    wait_for(&m, a2.id, JobState::Running).await;
    g2.send(()).unwrap();
    g3.send(()).unwrap();
    wait_for(&m, a2.id, JobState::Succeeded).await;
    wait_for(&m, b.id, JobState::Succeeded).await;
}

#[tokio::test]
async fn cancelling_a_running_self_check_drops_its_work() {
    let m = manager();
    let (w, _gate) = gated();
    let j = m.submit(JobKind::HostSelfCheck, "t", w).unwrap();
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
async fn cooperative_work_stops_at_its_next_checkpoint_and_finishes_the_step_it_is_in() {
    let m = manager();
    let (step_tx, step_rx) = oneshot::channel::<()>();
    let finished_step = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&finished_step);
    let work: Work = Box::new(move |ctx| {
        Box::pin(async move {
            ctx.checkpoint("started", &serde_json::json!({}))?;
            ctx.progress(0, None, "steps", "in the step");
            // A step that must not be cut in half: it runs to its end although a cancel arrives.
            let _ = step_rx.await;
            seen.store(true, Ordering::SeqCst);
            ctx.checkpoint("step done", &serde_json::json!({"step": 1}))?;
            Err(JobFailure::Failed("the checkpoint should have stopped the work".into()))
        })
    });
    let j = m.submit_declared(JobKind::HostSelfCheck, vec![], Cancel::Checkpoint, "t", work).unwrap();
    wait_until(&m, j.id, |j| j.progress.phase == "in the step").await;
    m.cancel(j.id, "alice").unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(m.store().job(j.id).unwrap().unwrap().state, JobState::Running, "not dropped midway");
    step_tx.send(()).unwrap();
    let j = wait_for(&m, j.id, JobState::Cancelled).await;
    assert!(finished_step.load(Ordering::SeqCst));
    let left = m.store().unfinished_jobs().unwrap();
    assert!(left.is_empty());
    assert_eq!(j.error.as_deref(), Some("cancelled while running"));
}

#[tokio::test]
async fn a_cancel_after_the_point_of_no_return_is_refused_and_one_before_it_wins() {
    let m = manager();
    let (gate_tx, gate_rx) = oneshot::channel::<()>();
    let work: Work = Box::new(move |ctx| {
        Box::pin(async move {
            ctx.point_of_no_return("switching to the new configuration")?;
            let _ = gate_rx.await;
            ctx.checkpoint("switched", &serde_json::Value::Null)?;
            Ok(None)
        })
    });
    let j = m.submit_declared(JobKind::HostSelfCheck, vec![], Cancel::Checkpoint, "t", work).unwrap();
    wait_until(&m, j.id, |j| j.point_of_no_return.is_some()).await;
    let err = m.cancel(j.id, "alice").unwrap_err();
    assert!(matches!(err, JobsError::PastPointOfNoReturn { .. }), "{err}");
    assert!(err.to_string().contains("switching to the new configuration"), "{err}");
    gate_tx.send(()).unwrap();
    let done = wait_for(&m, j.id, JobState::Succeeded).await;
    assert!(!done.cancel_requested);
    assert_eq!(done.point_of_no_return.as_deref(), Some("switching to the new configuration"));

    // Cancelled first: the work may not pass the point, and stops.
    let (gate_tx, gate_rx) = oneshot::channel::<()>();
    let work: Work = Box::new(move |ctx| {
        Box::pin(async move {
            let _ = gate_rx.await;
            ctx.point_of_no_return("switching")?;
            Err(JobFailure::Failed("passed the point after a cancel".into()))
        })
    });
    let j = m.submit_declared(JobKind::HostSelfCheck, vec![], Cancel::Checkpoint, "t", work).unwrap();
    wait_for(&m, j.id, JobState::Running).await;
    m.cancel(j.id, "alice").unwrap();
    gate_tx.send(()).unwrap();
    let j = wait_for(&m, j.id, JobState::Cancelled).await;
    assert_eq!(j.point_of_no_return, None);
}

#[tokio::test]
async fn cancelling_a_queued_job_never_runs_it() {
    let m = manager();
    let (w1, gate1) = gated();
    let ran = Arc::new(AtomicBool::new(false));
    let ran2 = ran.clone();
    let w2: Work = Box::new(move |_ctx| {
        Box::pin(async move {
            ran2.store(true, Ordering::SeqCst);
            Ok(None)
        })
    });
    let a = m.submit(JobKind::HostSelfCheck, "t", w1).unwrap();
    let b = m.submit(JobKind::HostSelfCheck, "t", w2).unwrap();
    wait_for(&m, a.id, JobState::Running).await;
    let b = m.cancel(b.id, "bob").unwrap();
    assert_eq!(b.state, JobState::Cancelled);
    gate1.send(()).unwrap();
    wait_for(&m, a.id, JobState::Succeeded).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!ran.load(Ordering::SeqCst));
}

#[tokio::test]
async fn failures_and_panics_become_failed_jobs_with_a_reason() {
    let m = manager();
    let fail: Work = Box::new(|_| Box::pin(async { Err(JobFailure::Failed("disk is full; free space".into())) }));
    let j = m.submit(JobKind::HostSelfCheck, "t", fail).unwrap();
    let j = wait_for(&m, j.id, JobState::Failed).await;
    assert_eq!(j.error.as_deref(), Some("disk is full; free space"));

    let boom: Work = Box::new(|_| Box::pin(async { panic!("bug") }));
    let j = m.submit(JobKind::HostSelfCheck, "t", boom).unwrap();
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
            Ok(None)
        })
    });
    let j = m.submit(JobKind::HostSelfCheck, "t", work).unwrap();
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

#[tokio::test]
async fn ten_thousand_progress_calls_make_few_writes_and_the_last_value_is_kept() {
    let m = manager();
    let writes = Arc::new(AtomicU64::new(u64::MAX));
    let seen = Arc::clone(&writes);
    let mut rx = m.subscribe();
    let work: Work = Box::new(move |ctx| {
        Box::pin(async move {
            for i in 0..10_000 {
                ctx.progress(i, Some(10_000), "blocks", "copying");
            }
            seen.store(ctx.progress_writes(), Ordering::SeqCst);
            Ok(None)
        })
    });
    let j = m.submit(JobKind::HostSelfCheck, "t", work).unwrap();
    let j = wait_for(&m, j.id, JobState::Succeeded).await;
    // The first call writes, then at most one a second; the loop takes far less than 5 s.
    let writes = writes.load(Ordering::SeqCst);
    assert!((1..=5).contains(&writes), "{writes} progress writes");
    assert_eq!(
        j.progress,
        Progress { done: 9_999, total: Some(10_000), unit: "blocks".into(), phase: "copying".into() }
    );
    // Every call is still broadcast live (the channel keeps the newest 1024).
    let mut live = 0;
    loop {
        match rx.try_recv() {
            Ok(JobEvent::Updated(job)) if job.progress.unit == "blocks" => live += 1,
            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(_) => break,
        }
    }
    assert!(live > 1000, "{live} live progress updates");
}

#[tokio::test]
async fn progress_reaches_the_database_within_a_second_even_if_the_work_goes_quiet() {
    let m = manager();
    let (gate_tx, gate_rx) = oneshot::channel::<()>();
    let work: Work = Box::new(move |ctx| {
        Box::pin(async move {
            ctx.progress(1, None, "files", "first");
            ctx.progress(2, None, "files", "second");
            let _ = gate_rx.await;
            Ok(None)
        })
    });
    let j = m.submit(JobKind::HostSelfCheck, "t", work).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(m.store().job(j.id).unwrap().unwrap().progress.done, 1, "the first call writes at once");
    assert_eq!(m.job(j.id).unwrap().unwrap().progress.done, 2, "the manager answers with the latest");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(m.store().job(j.id).unwrap().unwrap().progress.done, 2, "flushed by the timer");
    gate_tx.send(()).unwrap();
}

#[tokio::test]
async fn every_finished_job_is_in_the_outbox() {
    let s = store();
    let bus = Events::new(Arc::clone(&s));
    let mut alerts = bus.consumer("alerts").unwrap();
    let m = JobManager::start(Arc::clone(&s), bus, &mut |_, _| None).unwrap();
    let ok: Work = Box::new(|_| Box::pin(async { Ok(None) }));
    let fail: Work = Box::new(|_| Box::pin(async { Err(JobFailure::Failed("no".into())) }));
    let a = m.submit(JobKind::HostSelfCheck, "t", ok).unwrap();
    wait_for(&m, a.id, JobState::Succeeded).await;
    let b = m.submit(JobKind::HostSelfCheck, "t", fail).unwrap();
    wait_for(&m, b.id, JobState::Failed).await;
    let got: Vec<Event> = alerts.pending(10).unwrap().into_iter().map(|d| d.event).collect();
    let finished = |id, outcome| Event::JobFinished { job_id: id, kind: "host.self_check".into(), outcome };
    assert_eq!(got, vec![finished(a.id, JobState::Succeeded), finished(b.id, JobState::Failed)]);
}

/// A store holding one job left `running` by a dead agent, with a checkpoint.
fn store_with_interrupted_job() -> (Arc<Store>, i64) {
    let s = store();
    let j = s.insert_job("host.self_check", None, "t").unwrap();
    s.mark_job_running(j.id).unwrap();
    s.set_job_checkpoint(j.id, "probed docker", &serde_json::json!({"unit": "keepsake-job-1.service"})).unwrap();
    (s, j.id)
}

#[tokio::test]
async fn an_interrupted_self_check_is_failed_with_a_reason_to_run_it_again() {
    let (s, id) = store_with_interrupted_job();
    let m = JobManager::start(Arc::clone(&s), Events::new(Arc::clone(&s)), &mut |_, _| None).unwrap();
    let j = m.store().job(id).unwrap().unwrap();
    assert_eq!(j.state, JobState::Failed);
    assert!(j.error.as_deref().unwrap().starts_with("interrupted"), "{j:?}");
    assert!(j.error.as_deref().unwrap().contains("run it again"), "{j:?}");
    let log = s.job_log(id).unwrap();
    assert!(log.last().unwrap().message.starts_with("interrupted"), "{log:?}");
}

#[tokio::test]
async fn reconciling_follows_the_kinds_verdict() {
    // Succeeded: a unit that finished while the agent was down.
    let (s, id) = store_with_interrupted_job();
    let decide = |_: &JobKind, left: &Interrupted| {
        assert_eq!(left.checkpoint.as_ref().unwrap().data["unit"], "keepsake-job-1.service");
        Verdict::Succeeded(Some(report(2)))
    };
    JobManager::start_with(Arc::clone(&s), Events::new(Arc::clone(&s)), &decide, &mut |_, _| None).unwrap();
    let j = s.job(id).unwrap().unwrap();
    assert_eq!((j.state, j.result), (JobState::Succeeded, Some(report(2))));

    // Resume: the work gets its checkpoint back and runs to the end.
    let (s, id) = store_with_interrupted_job();
    let got = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&got);
    let mut resume = move |_: &JobKind, _: &Interrupted| -> Option<Work> {
        let seen = Arc::clone(&seen);
        Some(Box::new(move |ctx: JobContext| {
            Box::pin(async move {
                *seen.lock().unwrap() = ctx.resumed_from().cloned();
                Ok(Some(report(0)))
            })
        }))
    };
    let m = JobManager::start_with(Arc::clone(&s), Events::new(Arc::clone(&s)), &|_, _| Verdict::Resume, &mut resume)
        .unwrap();
    let j = wait_for(&m, id, JobState::Succeeded).await;
    assert_eq!(got.lock().unwrap().as_ref().unwrap().name, "probed docker");
    assert_eq!(j.result, Some(report(0)));
    assert!(s.job_log(id).unwrap().iter().any(|l| l.message.contains("resuming")));

    // Resume asked for, but nothing can resume it: failed, saying so.
    let (s, id) = store_with_interrupted_job();
    JobManager::start_with(Arc::clone(&s), Events::new(Arc::clone(&s)), &|_, _| Verdict::Resume, &mut |_, _| None)
        .unwrap();
    let j = s.job(id).unwrap().unwrap();
    assert_eq!(j.state, JobState::Failed);
    assert!(j.error.unwrap().contains("cannot resume"));
}

#[tokio::test]
async fn a_job_of_an_unknown_kind_is_failed_naming_the_kind() {
    let s = store();
    let j = s.insert_job("drive.teleport", Some("uuid-a"), "t").unwrap();
    JobManager::start(Arc::clone(&s), Events::new(Arc::clone(&s)), &mut |_, _| None).unwrap();
    let j = s.job(j.id).unwrap().unwrap();
    assert_eq!(j.state, JobState::Failed);
    assert!(j.error.unwrap().contains("drive.teleport"));
}
