//! Jobs: every long operation the agent performs (self-check now; backups, restores, stack updates
//! and rebuilds later) runs as a job.
//!
//! The contract a job kind signs, all declared in [`kind`] by the kind itself:
//! - **Locks.** The [`Lock`]s it holds on [`Resource`]s (the library, the database, a drive...),
//!   shared or exclusive. A job waits `queued` until its locks are free and it does not conflict
//!   with an older waiting job ([`schedule::runnable`], pure and table-tested).
//! - **Cancellation.** Its [`Cancel`] style: dropped (read-only work), cooperative checkpoints, or
//!   a systemd unit the work stops. Any job may pass a point of no return
//!   ([`JobContext::point_of_no_return`]); a cancel after it is refused.
//! - **Reconciliation.** A job is persisted from the moment it is asked for. One found `queued` or
//!   `running` at start belongs to a dead process: its kind's `reconcile` rule decides from the row
//!   and its last checkpoint whether to resume it, or whether it failed or in fact succeeded. It is
//!   never blindly marked failed or done.
//! - **Result.** A typed [`keepsake_api::JobResult`], tagged by kind.
//!
//! Progress is coalesced (see `context.rs`); changes are broadcast live as [`JobEvent`]s for the
//! API's server-sent events (lossy by design); every terminal state also reaches the durable event
//! bus as `JobFinished`, in the same transaction. The manager knows nothing of what a job does: the
//! caller hands it the work as a future-making closure, which reports through its [`JobContext`].

mod context;
pub mod kind;
pub mod schedule;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use keepsake_api::{Job, JobResult, JobState, LogLevel, LogLine};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use self::context::Live;
pub use self::context::{JobContext, PROGRESS_WRITE_INTERVAL};
pub use self::kind::{Cancel, Interrupted, JobKind, Verdict};
pub use self::schedule::{Lock, Mode, Resource};
use crate::events::Events;
use crate::store::{Checkpoint, Store, StoreError};

/// A live change to a job.
#[derive(Debug, Clone)]
pub enum JobEvent {
    /// The job's new state (progress, state, result...).
    Updated(Box<Job>),
    Log(LogLine),
}

impl JobEvent {
    pub fn job_id(&self) -> i64 {
        match self {
            JobEvent::Updated(j) => j.id,
            JobEvent::Log(l) => l.job_id,
        }
    }
}

/// How a job's work ended, when it did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// Failed, with a message for a person saying what failed and what to do.
    #[error("{0}")]
    Failed(String),
    /// Stopped at a checkpoint because someone cancelled it.
    #[error("cancelled")]
    Cancelled,
}

/// What a job's work returns: its result (`None` for kinds that produce none) or why it stopped.
pub type Outcome = Result<Option<JobResult>, JobFailure>;

/// The work of one job: called once, when the job starts.
pub type Work = Box<dyn FnOnce(JobContext) -> BoxFuture<'static, Outcome> + Send>;

/// Builds the work to resume an interrupted job whose kind said [`Verdict::Resume`]; `None` when
/// it cannot (the job is then failed with a reason).
pub type Resumer<'a> = &'a mut dyn FnMut(&JobKind, &Interrupted) -> Option<Work>;

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("no job with id {0}")]
    NotFound(i64),
    #[error("job {id} has already {state} and cannot be cancelled")]
    AlreadyFinished { id: i64, state: &'static str },
    #[error(
        "job {id} cannot be cancelled any more: it is {point}, and stopping it now would leave things half done; wait for it to finish"
    )]
    PastPointOfNoReturn { id: i64, point: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Pending {
    kind: JobKind,
    locks: Vec<Lock>,
    cancel: Cancel,
    work: Work,
    resumed_from: Option<Checkpoint>,
}

struct Running {
    locks: Vec<Lock>,
    token: CancellationToken,
    live: Arc<Live>,
}

#[derive(Default)]
struct Slots {
    queued: BTreeMap<i64, Pending>,
    running: HashMap<i64, Running>,
}

/// Runs jobs by their locks and tells everyone what they do.
pub struct JobManager {
    store: Arc<Store>,
    bus: Events,
    slots: Mutex<Slots>,
    broadcast: broadcast::Sender<JobEvent>,
}

impl JobManager {
    /// Creates the manager and reconciles the jobs a previous agent process left unfinished, each
    /// by its kind's rule; jobs to resume get their work from `resume` and are queued again.
    pub fn start(store: Arc<Store>, bus: Events, resume: Resumer<'_>) -> Result<Arc<JobManager>, JobsError> {
        Self::start_with(store, bus, &|kind, left| kind.reconcile(left), resume)
    }

    /// [`JobManager::start`] with the reconcile rule given, for tests of the reconciliation itself.
    fn start_with(
        store: Arc<Store>,
        bus: Events,
        decide: &dyn Fn(&JobKind, &Interrupted) -> Verdict,
        resume: Resumer<'_>,
    ) -> Result<Arc<JobManager>, JobsError> {
        let (broadcast, _) = broadcast::channel(1024);
        let manager = Arc::new(JobManager { store, bus, slots: Mutex::new(Slots::default()), broadcast });
        for left in manager.store.unfinished_jobs()? {
            manager.reconcile(left, decide, resume)?;
        }
        manager.schedule();
        Ok(manager)
    }

    fn reconcile(
        &self,
        left: Interrupted,
        decide: &dyn Fn(&JobKind, &Interrupted) -> Verdict,
        resume: Resumer<'_>,
    ) -> Result<(), JobsError> {
        let id = left.job.id;
        let kind = JobKind::from_row(&left.job.kind, left.job.target.as_deref());
        let verdict = match &kind {
            Some(kind) => decide(kind, &left),
            None => Verdict::Failed(format!(
                "interrupted: the agent stopped before this job finished, and this agent does not know jobs of kind {:?}",
                left.job.kind
            )),
        };
        let work = match (&verdict, &kind) {
            (Verdict::Resume, Some(kind)) => resume(kind, &left),
            _ => None,
        };
        let span = tracing::info_span!("job", id, kind = left.job.kind.as_str());
        let _enter = span.enter();
        match (verdict, kind, work) {
            (Verdict::Resume, Some(kind), Some(work)) => {
                self.store.append_job_log(id, LogLevel::Warn, "the agent restarted; resuming this job")?;
                self.store.requeue_job(id)?;
                tracing::warn!(checkpoint = ?left.checkpoint, "resuming a job of a previous agent process");
                let (locks, cancel) = (kind.locks(), kind.cancel());
                let pending = Pending { kind, locks, cancel, work, resumed_from: left.checkpoint };
                self.lock().queued.insert(id, pending);
            }
            (Verdict::Resume, ..) => {
                self.fail_left(
                    id,
                    "interrupted: the agent stopped before this job finished and cannot resume it; run it again",
                )?;
            }
            (Verdict::Failed(reason), ..) => self.fail_left(id, &reason)?,
            (Verdict::Succeeded(result), ..) => {
                self.store.append_job_log(id, LogLevel::Info, "the agent restarted and found this job had finished")?;
                self.store.finish_job(id, JobState::Succeeded, None, result.as_ref(), None)?;
                tracing::info!("a job of a previous agent process had succeeded");
            }
        }
        Ok(())
    }

    fn fail_left(&self, id: i64, reason: &str) -> Result<(), JobsError> {
        self.store.append_job_log(id, LogLevel::Error, reason)?;
        self.store.finish_job(id, JobState::Failed, None, None, Some(reason))?;
        tracing::warn!(reason, "failed a job of a previous agent process");
        Ok(())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.broadcast.subscribe()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The job as it is now: from memory while it runs (its progress is newer than the database's),
    /// else from the database.
    pub fn job(&self, id: i64) -> Result<Option<Job>, JobsError> {
        if let Some(r) = self.lock().running.get(&id) {
            return Ok(Some(r.live.lock().job.clone()));
        }
        Ok(self.store.job(id)?)
    }

    /// Records a job and starts it as soon as its locks are free.
    pub fn submit(self: &Arc<Self>, kind: JobKind, requested_by: &str, work: Work) -> Result<Job, JobsError> {
        let (locks, cancel) = (kind.locks(), kind.cancel());
        self.submit_declared(kind, locks, cancel, requested_by, work)
    }

    /// [`JobManager::submit`] with the kind's locks and cancel style given, so tests can exercise
    /// rules no product kind declares yet.
    fn submit_declared(
        self: &Arc<Self>,
        kind: JobKind,
        locks: Vec<Lock>,
        cancel: Cancel,
        requested_by: &str,
        work: Work,
    ) -> Result<Job, JobsError> {
        let job = self.store.insert_job(kind.name(), kind.target().as_deref(), requested_by)?;
        tracing::info!(job = job.id, kind = kind.name(), requested_by, "job queued");
        self.lock().queued.insert(job.id, Pending { kind, locks, cancel, work, resumed_from: None });
        self.emit_job(job.id);
        self.schedule();
        Ok(self.job(job.id)?.unwrap_or(job))
    }

    /// Cancels a queued job at once, or asks a running one to stop the way its kind declares
    /// ([`Cancel`]). Refused once the job passed its point of no return.
    pub fn cancel(self: &Arc<Self>, id: i64, by: &str) -> Result<Job, JobsError> {
        let job = self.job(id)?.ok_or(JobsError::NotFound(id))?;
        if job.state.is_terminal() {
            return Err(JobsError::AlreadyFinished { id, state: job.state.as_str() });
        }
        let mut slots = self.lock();
        if slots.queued.remove(&id).is_some() {
            drop(slots);
            let why = format!("cancelled by {by} before it started");
            self.store.append_job_log(id, LogLevel::Warn, &why)?;
            self.store.finish_job(id, JobState::Cancelled, None, None, Some(&why))?;
            tracing::info!(job = id, by, "queued job cancelled");
        } else if let Some(r) = slots.running.get(&id) {
            let (live, token) = (Arc::clone(&r.live), r.token.clone());
            drop(slots);
            {
                // The work's point_of_no_return takes the same lock: exactly one of the two wins.
                let mut s = live.lock();
                if let Some(point) = &s.job.point_of_no_return {
                    return Err(JobsError::PastPointOfNoReturn { id, point: point.clone() });
                }
                if s.job.cancel_requested {
                    return Ok(s.job.clone());
                }
                s.job.cancel_requested = true;
                self.store.set_job_cancel_requested(id)?;
            }
            self.store.append_job_log(id, LogLevel::Warn, &format!("cancel requested by {by}"))?;
            token.cancel();
            tracing::info!(job = id, by, "running job asked to cancel");
        }
        self.emit_job(id);
        self.job(id)?.ok_or(JobsError::NotFound(id))
    }

    /// A job (running or waiting) that locks `resource`, if any: for quick changes made outside a
    /// job (deleting one restore point) that must not happen under a job using the same thing.
    pub fn busy_with(&self, resource: &Resource) -> Option<i64> {
        let slots = self.lock();
        let running = slots.running.iter().map(|(id, r)| (*id, &r.locks));
        let queued = slots.queued.iter().map(|(id, p)| (*id, &p.locks));
        running.chain(queued).find(|(_, locks)| locks.iter().any(|l| &l.resource == resource)).map(|(id, _)| id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit_job(&self, id: i64) {
        match self.job(id) {
            // No receivers is normal (nobody watching); it is not an error.
            Ok(Some(job)) => {
                let _ = self.broadcast.send(JobEvent::Updated(Box::new(job)));
            }
            Ok(None) => {}
            Err(e) => tracing::error!(job = id, error = %e, "cannot read job to announce it"),
        }
    }

    /// Starts every queued job whose locks are now free.
    fn schedule(self: &Arc<Self>) {
        let starts = {
            let mut slots = self.lock();
            let queued: Vec<(i64, Vec<Lock>)> = slots.queued.iter().map(|(id, p)| (*id, p.locks.clone())).collect();
            let running: Vec<Vec<Lock>> = slots.running.values().map(|r| r.locks.clone()).collect();
            let mut starts = Vec::new();
            for id in schedule::runnable(&queued, &running) {
                let pending = slots.queued.remove(&id).expect("runnable ids come from the queue");
                if let Err(e) = self.store.mark_job_running(id) {
                    tracing::error!(job = id, error = %e, "cannot mark job running");
                }
                let job = match self.store.job(id) {
                    Ok(Some(job)) => job,
                    other => {
                        tracing::error!(job = id, result = ?other.err(), "cannot read a job about to start; dropping it");
                        continue;
                    }
                };
                let running =
                    Running { locks: pending.locks.clone(), token: CancellationToken::new(), live: Live::new(job) };
                starts.push((id, pending, running.token.clone(), Arc::clone(&running.live)));
                slots.running.insert(id, running);
            }
            starts
        };
        for (id, pending, token, live) in starts {
            self.spawn(id, pending, token, live);
        }
    }

    fn spawn(self: &Arc<Self>, id: i64, pending: Pending, token: CancellationToken, live: Arc<Live>) {
        let this = Arc::clone(self);
        let span = tracing::info_span!("job", id, kind = pending.kind.name());
        let style = pending.cancel;
        tokio::spawn(
            async move {
                this.emit_job(id);
                tracing::info!(resumed = pending.resumed_from.is_some(), "job started");
                let ctx = JobContext::new(
                    Arc::clone(&this.store),
                    this.bus.clone(),
                    Arc::clone(&live),
                    this.broadcast.clone(),
                    token.clone(),
                    pending.resumed_from,
                );
                let work = std::panic::AssertUnwindSafe((pending.work)(ctx)).catch_unwind();
                // Writes coalesced progress that would otherwise wait for the next progress call.
                let flush = async {
                    let mut tick = tokio::time::interval(PROGRESS_WRITE_INTERVAL);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    loop {
                        tick.tick().await;
                        live.flush_due(&this.store);
                    }
                };
                let run = async {
                    tokio::select! {
                        r = work => r,
                        _ = flush => unreachable!("the flush loop never ends"),
                    }
                };
                let outcome = match style {
                    Cancel::Abort => tokio::select! {
                        biased;
                        _ = token.cancelled() => None,
                        r = run => Some(r),
                    },
                    Cancel::Checkpoint | Cancel::StopUnit => Some(run.await),
                };
                let (state, result, error) = match outcome {
                    None | Some(Ok(Err(JobFailure::Cancelled))) => {
                        (JobState::Cancelled, None, Some("cancelled while running".to_owned()))
                    }
                    Some(Ok(Ok(result))) => (JobState::Succeeded, result, None),
                    Some(Ok(Err(JobFailure::Failed(msg)))) => (JobState::Failed, None, Some(msg)),
                    Some(Err(_panic)) => (
                        JobState::Failed,
                        None,
                        Some("internal error in the agent (a bug); see the agent's log".to_owned()),
                    ),
                };
                tracing::info!(state = state.as_str(), "job finished");
                let progress = live.lock().job.progress.clone();
                // Out of the running set first, so nobody acts on the stale in-memory copy (a cancel)
                // while the outcome is being written.
                this.lock().running.remove(&id);
                if let Err(e) = this.store.finish_job(id, state, Some(&progress), result.as_ref(), error.as_deref()) {
                    tracing::error!(error = %e, "cannot record job outcome");
                }
                this.emit_job(id);
                this.schedule();
            }
            .instrument(span),
        );
    }
}

#[cfg(test)]
mod tests;
