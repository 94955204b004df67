//! Throttles progress reports to about ten a second; phase changes and the final report always pass.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::{Phase, Progress, ProgressSink};

pub struct Throttle<'a> {
    sink: &'a dyn ProgressSink,
    last: Cell<Option<Instant>>,
    phase: Cell<Option<Phase>>,
}

const EVERY: Duration = Duration::from_millis(100);

impl<'a> Throttle<'a> {
    pub fn new(sink: &'a dyn ProgressSink) -> Self {
        Throttle { sink, last: Cell::new(None), phase: Cell::new(None) }
    }

    /// Reports if the phase changed or enough time has passed.
    pub fn maybe(&self, p: &Progress) {
        let now = Instant::now();
        let due = self.phase.get() != Some(p.phase) || self.last.get().is_none_or(|t| now.duration_since(t) >= EVERY);
        if due {
            self.force(p);
        }
    }

    pub fn force(&self, p: &Progress) {
        self.last.set(Some(Instant::now()));
        self.phase.set(Some(p.phase));
        self.sink.progress(p);
    }
}
