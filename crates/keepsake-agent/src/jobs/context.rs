//! What a running job's work uses to report and to stay safe: progress, log lines, checkpoints, the
//! point of no return, cancellation, and events.
//!
//! Progress is coalesced: each call updates the job kept in memory ([`Live`]) and is broadcast at
//! once, but reaches the database at most once per [`PROGRESS_WRITE_INTERVAL`] (the manager flushes
//! the rest on a timer and when the job ends), so a job may report per block without a write per
//! block. Checkpoints and the point of no return are written at once: they are what reconciliation
//! reads after a crash.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use keepsake_api::{Job, LogLevel, Progress};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{JobEvent, JobFailure};
use crate::events::{Event, Events};
use crate::store::{Checkpoint, Store};

/// At most one progress write per job per this interval.
pub const PROGRESS_WRITE_INTERVAL: Duration = Duration::from_secs(1);

/// Decides when coalesced progress is written. Pure (time is passed in) so it can be tested.
#[derive(Debug)]
pub(super) struct Coalescer {
    interval: Duration,
    last_write: Option<Instant>,
    dirty: bool,
}

impl Coalescer {
    pub(super) fn new(interval: Duration) -> Coalescer {
        Coalescer { interval, last_write: None, dirty: false }
    }

    /// A new value arrived; true when it should be written now.
    pub(super) fn offer(&mut self, now: Instant) -> bool {
        self.dirty = true;
        self.due(now)
    }

    /// True when an unwritten value is waiting and the interval has passed (a timer tick).
    pub(super) fn due(&mut self, now: Instant) -> bool {
        let elapsed = self.last_write.is_none_or(|t| now.duration_since(t) >= self.interval);
        if self.dirty && elapsed {
            self.dirty = false;
            self.last_write = Some(now);
            true
        } else {
            false
        }
    }
}

/// The in-memory state of a running job, shared by its context and the manager.
pub(super) struct Live {
    pub(super) state: Mutex<LiveState>,
}

pub(super) struct LiveState {
    pub(super) job: Job,
    pub(super) coalescer: Coalescer,
    /// How many progress writes reached the store (for tests of the coalescing).
    pub(super) progress_writes: u64,
}

impl Live {
    pub(super) fn new(job: Job) -> Arc<Live> {
        Arc::new(Live {
            state: Mutex::new(LiveState {
                job,
                coalescer: Coalescer::new(PROGRESS_WRITE_INTERVAL),
                progress_writes: 0,
            }),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, LiveState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the latest progress if one is waiting and due (called by the manager's timer).
    pub(super) fn flush_due(&self, store: &Store) {
        let mut s = self.lock();
        if s.coalescer.due(Instant::now()) {
            write_progress(store, &mut s);
        }
    }
}

fn write_progress(store: &Store, s: &mut LiveState) {
    s.progress_writes += 1;
    if let Err(e) = store.set_job_progress(s.job.id, &s.job.progress) {
        tracing::error!(error = %e, "cannot record job progress");
    }
}

/// Handed to a job's work when it starts. Reporting never fails the job: a store error while
/// recording progress or a log line is logged, and the work goes on.
#[derive(Clone)]
pub struct JobContext {
    id: i64,
    store: Arc<Store>,
    bus: Events,
    live: Arc<Live>,
    broadcast: broadcast::Sender<JobEvent>,
    token: CancellationToken,
    resumed_from: Option<Checkpoint>,
}

impl JobContext {
    pub(super) fn new(
        store: Arc<Store>,
        bus: Events,
        live: Arc<Live>,
        broadcast: broadcast::Sender<JobEvent>,
        token: CancellationToken,
        resumed_from: Option<Checkpoint>,
    ) -> JobContext {
        let id = live.lock().job.id;
        JobContext { id, store, bus, live, broadcast, token, resumed_from }
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    /// True once someone asked the job to stop.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once someone asks the job to stop (for work that waits on something else, such as
    /// a systemd unit, and must stop it when asked).
    pub async fn cancelled(&self) {
        self.token.cancelled().await
    }

    /// A safe point: records `name` and `data` (what a restarted agent needs to reconcile or resume
    /// from here) durably, then returns `Err(Cancelled)` if a cancel was asked for, so the work
    /// can stop with `?`.
    pub fn checkpoint(&self, name: &str, data: &serde_json::Value) -> Result<(), JobFailure> {
        if let Err(e) = self.store.set_job_checkpoint(self.id, name, data) {
            // Without the checkpoint a crash from here on is reconciled from the previous one, which
            // is older but still true; going on is safer than failing work that may be half done.
            tracing::error!(error = %e, checkpoint = name, "cannot record job checkpoint");
        }
        if self.is_cancelled() { Err(JobFailure::Cancelled) } else { Ok(()) }
    }

    /// The checkpoint this job had reached when the agent died, when it is being resumed.
    pub fn resumed_from(&self) -> Option<&Checkpoint> {
        self.resumed_from.as_ref()
    }

    /// Declares that the job can no longer be stopped safely from here (`point` says what it is
    /// doing, e.g. "switching to the new configuration"). Refused with `Err(Cancelled)` if a cancel
    /// came first; after it, every cancel is refused with a clear error.
    pub fn point_of_no_return(&self, point: &str) -> Result<(), JobFailure> {
        let job = {
            let mut s = self.live.lock();
            // Checked under the same lock the manager's cancel takes, so exactly one of the two wins.
            if s.job.cancel_requested {
                return Err(JobFailure::Cancelled);
            }
            s.job.point_of_no_return = Some(point.to_owned());
            if let Err(e) = self.store.set_job_point_of_no_return(self.id, point) {
                tracing::error!(error = %e, point, "cannot record the job's point of no return");
            }
            s.job.clone()
        };
        tracing::info!(point, "job passed its point of no return");
        let _ = self.broadcast.send(JobEvent::Updated(Box::new(job)));
        Ok(())
    }

    /// Sets the whole progress: what is done of what total, counted in what, doing what now.
    pub fn progress(&self, done: u64, total: Option<u64>, unit: &str, phase: &str) {
        let job = {
            let mut s = self.live.lock();
            s.job.progress = Progress { done, total, unit: unit.to_owned(), phase: phase.to_owned() };
            if s.coalescer.offer(Instant::now()) {
                write_progress(&self.store, &mut s);
            }
            s.job.clone()
        };
        // No receivers is normal (nobody watching); it is not an error.
        let _ = self.broadcast.send(JobEvent::Updated(Box::new(job)));
    }

    /// How many progress writes reached the store so far.
    #[cfg(test)]
    pub(super) fn progress_writes(&self) -> u64 {
        self.live.lock().progress_writes
    }

    /// Publishes an event on the agent's bus (see [`crate::events`]).
    pub fn publish(&self, event: &Event) {
        if let Err(e) = self.bus.publish(event) {
            tracing::error!(error = %e, ?event, "cannot publish event");
        }
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
        tracing::info!(?level, "{message}");
        match self.store.append_job_log(self.id, level, message) {
            Ok(line) => {
                let _ = self.broadcast.send(JobEvent::Log(line));
            }
            Err(e) => tracing::error!(error = %e, "cannot record job log line"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_offers_in_three_seconds_make_a_bounded_number_of_writes() {
        let mut c = Coalescer::new(Duration::from_secs(1));
        let start = Instant::now();
        let mut writes = 0;
        for i in 0..10_000u64 {
            // 10,000 calls spread over 3 seconds.
            if c.offer(start + Duration::from_micros(i * 300)) {
                writes += 1;
            }
        }
        // The first call, then one per elapsed second.
        assert_eq!(writes, 3);
        // The last value is still waiting and is written on the next tick after the interval.
        assert!(!c.due(start + Duration::from_millis(2_999)));
        assert!(c.due(start + Duration::from_millis(4_000)));
        assert!(!c.due(start + Duration::from_millis(6_000)), "nothing new, nothing written");
    }
}
