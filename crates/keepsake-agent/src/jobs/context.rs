//! What a running job's work uses to report: progress, log lines, and whether to stop.

use std::sync::{Arc, Mutex};

use keepsake_api::{LogLevel, Progress};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::JobEvent;
use crate::store::Store;

/// Handed to a job's work when it starts. Reporting never fails the job: a store error while
/// recording progress is logged, and the work goes on.
#[derive(Clone)]
pub struct JobContext {
    id: i64,
    store: Arc<Store>,
    events: broadcast::Sender<JobEvent>,
    token: CancellationToken,
    progress: Arc<Mutex<Progress>>,
}

impl JobContext {
    pub(super) fn new(
        id: i64,
        store: Arc<Store>,
        events: broadcast::Sender<JobEvent>,
        token: CancellationToken,
    ) -> JobContext {
        JobContext { id, store, events, token, progress: Arc::default() }
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    /// True once someone asked the job to stop. Work that can stop between steps should check it.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Sets the whole progress: what is done of what total, counted in what, doing what now.
    pub fn progress(&self, done: u64, total: Option<u64>, unit: &str, phase: &str) {
        let p = Progress { done, total, unit: unit.to_owned(), phase: phase.to_owned() };
        *self.progress.lock().unwrap_or_else(|e| e.into_inner()) = p.clone();
        if let Err(e) = self.store.set_job_progress(self.id, &p) {
            tracing::error!(error = %e, "cannot record job progress");
        }
        self.announce();
    }

    pub fn info(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Info, message.as_ref());
    }

    pub fn warn(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Warn, message.as_ref());
    }

    pub fn error(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Error, message.as_ref());
    }

    fn log(&self, level: LogLevel, message: &str) {
        tracing::info!(job = self.id, ?level, "{message}");
        match self.store.append_job_log(self.id, level, message) {
            Ok(line) => {
                let _ = self.events.send(JobEvent::Log(line));
            }
            Err(e) => tracing::error!(error = %e, "cannot record job log line"),
        }
    }

    fn announce(&self) {
        if let Ok(Some(job)) = self.store.job(self.id) {
            let _ = self.events.send(JobEvent::Updated(Box::new(job)));
        }
    }
}
