//! Jobs: every long operation the agent performs (self-check now; pull, update, backup, rebuild and
//! restore later) runs as a job.
//!
//! A job is persisted from the moment it is asked for, so it survives in the history whatever
//! happens to the agent; a job found `queued` or `running` at start belongs to a dead process and is
//! marked failed ("interrupted"), never left running. Each kind declares its concurrency rule
//! ([`Concurrency`]); a job whose rule is not satisfied waits `queued`. Live changes are broadcast as
//! [`JobEvent`]s, which the API turns into server-sent events.
//!
//! The manager knows nothing of what a job does: the caller hands it the work as a future-making
//! closure, which reports through its [`JobContext`].

mod context;
mod schedule;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use keepsake_api::{Job, JobState, LogLine};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use context::JobContext;
pub use schedule::Concurrency;

use crate::store::Store;
use crate::store::StoreError;

/// The kinds of job the agent runs. Each kind's concurrency rule is declared here, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Probe every host facility and report what is missing and what to do.
    HostSelfCheck,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::HostSelfCheck => "host.self_check",
        }
    }

    pub fn concurrency(self) -> Concurrency {
        match self {
            // Two self-checks at once would only race each other for the same answers.
            JobKind::HostSelfCheck => Concurrency::OnePerKind,
        }
    }
}

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
}

pub type JobResult = Result<serde_json::Value, JobFailure>;

/// The work of one job: called once, when the job starts.
pub type Work = Box<dyn FnOnce(JobContext) -> BoxFuture<'static, JobResult> + Send>;

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("no job with id {0}")]
    NotFound(i64),
    #[error("job {id} has already {state} and cannot be cancelled")]
    AlreadyFinished { id: i64, state: &'static str },
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Pending {
    key: Option<String>,
    kind: JobKind,
    work: Work,
}

#[derive(Default)]
struct Slots {
    queued: BTreeMap<i64, Pending>,
    running: HashMap<i64, (Option<String>, CancellationToken)>,
}

/// Runs jobs by their concurrency rules and tells everyone what they do.
pub struct JobManager {
    store: Arc<Store>,
    slots: Mutex<Slots>,
    events: broadcast::Sender<JobEvent>,
}

impl JobManager {
    /// Creates the manager and marks jobs a previous agent process left unfinished as failed.
    pub fn start(store: Arc<Store>) -> Result<Arc<JobManager>, JobsError> {
        let interrupted = store.fail_interrupted_jobs()?;
        if !interrupted.is_empty() {
            tracing::warn!(?interrupted, "marked jobs of a previous agent process as interrupted");
        }
        let (events, _) = broadcast::channel(1024);
        Ok(Arc::new(JobManager { store, slots: Mutex::new(Slots::default()), events }))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.events.subscribe()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Records a job and starts it as soon as its concurrency rule allows.
    pub fn submit(
        self: &Arc<Self>,
        kind: JobKind,
        target: Option<String>,
        requested_by: &str,
        work: Work,
    ) -> Result<Job, JobsError> {
        let job = self.store.insert_job(kind.as_str(), target.as_deref(), requested_by)?;
        tracing::info!(job = job.id, kind = kind.as_str(), requested_by, "job queued");
        let key = kind.concurrency().key(kind.as_str(), target.as_deref());
        self.lock().queued.insert(job.id, Pending { key, kind, work });
        self.emit_job(job.id);
        self.schedule();
        Ok(self.store.job(job.id)?.unwrap_or(job))
    }

    /// Cancels a queued job at once, or asks a running one to stop (its work is dropped at its next
    /// await point, which also kills any child process it spawned with `kill_on_drop`).
    pub fn cancel(self: &Arc<Self>, id: i64, by: &str) -> Result<Job, JobsError> {
        let job = self.store.job(id)?.ok_or(JobsError::NotFound(id))?;
        if job.state.is_terminal() {
            return Err(JobsError::AlreadyFinished { id, state: job.state.as_str() });
        }
        let mut slots = self.lock();
        if slots.queued.remove(&id).is_some() {
            drop(slots);
            self.store.finish_job(
                id,
                JobState::Cancelled,
                None,
                Some(&format!("cancelled by {by} before it started")),
            )?;
            tracing::info!(job = id, by, "queued job cancelled");
        } else if let Some((_, token)) = slots.running.get(&id) {
            let token = token.clone();
            drop(slots);
            self.store.set_job_cancel_requested(id)?;
            self.store.append_job_log(id, keepsake_api::LogLevel::Warn, &format!("cancel requested by {by}"))?;
            token.cancel();
            tracing::info!(job = id, by, "running job asked to cancel");
        }
        self.emit_job(id);
        self.store.job(id)?.ok_or(JobsError::NotFound(id))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit_job(&self, id: i64) {
        match self.store.job(id) {
            Ok(Some(job)) => {
                // No receivers is normal (nobody watching); it is not an error.
                let _ = self.events.send(JobEvent::Updated(Box::new(job)));
            }
            Ok(None) => {}
            Err(e) => tracing::error!(job = id, error = %e, "cannot read job to announce it"),
        }
    }

    /// Starts every queued job whose concurrency rule is now satisfied.
    fn schedule(self: &Arc<Self>) {
        let starts = {
            let mut slots = self.lock();
            let queued: Vec<(i64, Option<String>)> = slots.queued.iter().map(|(id, p)| (*id, p.key.clone())).collect();
            let running: Vec<Option<String>> = slots.running.values().map(|(k, _)| k.clone()).collect();
            let mut starts = Vec::new();
            for id in schedule::runnable(&queued, &running) {
                let pending = slots.queued.remove(&id).expect("runnable ids come from the queue");
                let token = CancellationToken::new();
                slots.running.insert(id, (pending.key.clone(), token.clone()));
                starts.push((id, pending, token));
            }
            starts
        };
        for (id, pending, token) in starts {
            self.spawn(id, pending, token);
        }
    }

    fn spawn(self: &Arc<Self>, id: i64, pending: Pending, token: CancellationToken) {
        let this = Arc::clone(self);
        let span = tracing::info_span!("job", id, kind = pending.kind.as_str());
        tokio::spawn(
            async move {
                if let Err(e) = this.store.mark_job_running(id) {
                    tracing::error!(error = %e, "cannot mark job running");
                }
                this.emit_job(id);
                tracing::info!("job started");
                let ctx = JobContext::new(id, Arc::clone(&this.store), this.events.clone(), token.clone());
                let work = std::panic::AssertUnwindSafe((pending.work)(ctx)).catch_unwind();
                let outcome = tokio::select! {
                    biased;
                    _ = token.cancelled() => None,
                    r = work => Some(r),
                };
                let (state, result, error) = match outcome {
                    None => (JobState::Cancelled, None, Some("cancelled while running".to_owned())),
                    Some(Ok(Ok(value))) => (JobState::Succeeded, Some(value), None),
                    Some(Ok(Err(JobFailure::Failed(msg)))) => (JobState::Failed, None, Some(msg)),
                    Some(Err(_panic)) => (
                        JobState::Failed,
                        None,
                        Some("internal error in the agent (a bug); see the agent's log".to_owned()),
                    ),
                };
                tracing::info!(state = state.as_str(), "job finished");
                if let Err(e) = this.store.finish_job(id, state, result.as_ref(), error.as_deref()) {
                    tracing::error!(error = %e, "cannot record job outcome");
                }
                this.lock().running.remove(&id);
                this.emit_job(id);
                this.schedule();
            }
            .instrument(span),
        );
    }
}

#[cfg(test)]
mod tests;
