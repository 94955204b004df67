//! The event bus: subsystems publish typed [`Event`]s into one place; consumers that must not miss
//! any read them from a durable outbox, each at its own pace.
//!
//! - Publishing: [`Events::publish`] for changes that are not database writes (a facility's probed
//!   state). A change that *is* a database write inserts its event in the same transaction inside
//!   the store (a job's end in `finish_job`, a `security.*` audit row in `append_audit`), so the
//!   change and its event commit together or not at all.
//! - Consuming: [`Events::consumer`] registers a named consumer once (its cursor is persisted and
//!   starts before every event still kept). A consumer loops: [`Consumer::pending`], handle each
//!   event, [`Consumer::ack`] the last one handled, then [`Consumer::wait`] for more. Delivery is at
//!   least once: an event handled but not yet acknowledged when the agent dies comes again, so
//!   handling must be idempotent (or the ack written in the handler's own transaction).
//! - Retention: [`Events::prune`] (run by the agent at start and every few hours through
//!   [`Events::prune_every`]) deletes what every registered consumer has acknowledged, and anything
//!   older than [`RETENTION`] whoever has not read it.
//!
//! There is no lossy broadcast here: live views (the dashboard) follow their own streams, such as
//! the job events; they may watch [`Events::head`] and read the outbox if they need these events.

mod event;

use std::sync::Arc;

use tokio::sync::watch;

pub use event::Event;

pub use crate::store::Delivered;
use crate::store::{Store, StoreError};

/// How long events are kept when a consumer does not read them.
pub const RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// Where events are published and consumed. Cheap to clone.
#[derive(Clone)]
pub struct Events {
    store: Arc<Store>,
}

impl Events {
    pub fn new(store: Arc<Store>) -> Events {
        Events { store }
    }

    /// Appends an event to the outbox durably and wakes waiting consumers. Returns its sequence
    /// number.
    pub fn publish(&self, event: &Event) -> Result<i64, StoreError> {
        let seq = self.store.publish_event(event)?;
        tracing::debug!(seq, topic = event.topic(), "event published");
        Ok(seq)
    }

    /// The consumer called `name`, registered if it is new. Names are stable identifiers
    /// (`alerts`): a renamed consumer starts again from the oldest event kept.
    pub fn consumer(&self, name: &str) -> Result<Consumer, StoreError> {
        let head = self.store.outbox_head();
        self.store.register_outbox_consumer(name)?;
        Ok(Consumer { name: name.to_owned(), store: Arc::clone(&self.store), head })
    }

    /// Forgets a consumer that no longer exists, so it stops holding back pruning.
    pub fn unregister(&self, name: &str) -> Result<bool, StoreError> {
        self.store.unregister_outbox_consumer(name)
    }

    /// Deletes events every consumer has acknowledged, and events older than [`RETENTION`].
    pub fn prune(&self) -> Result<usize, StoreError> {
        let (deleted, unread) = self.store.prune_outbox(chrono::Utc::now() - RETENTION)?;
        if unread > 0 {
            tracing::warn!(unread, "dropped events older than the retention age that a consumer never acknowledged");
        }
        Ok(deleted)
    }

    /// Prunes every `period`, for as long as the returned future runs (the agent spawns it).
    pub async fn prune_every(self, period: std::time::Duration) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.prune() {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "removed events every consumer had read or past retention"),
                Err(e) => tracing::error!(error = %e, "cannot prune the event outbox"),
            }
        }
    }

    /// The newest event's sequence number, updated on every publish.
    pub fn head(&self) -> watch::Receiver<i64> {
        self.store.outbox_head()
    }
}

/// One named reader of the outbox with a persisted cursor.
pub struct Consumer {
    name: String,
    store: Arc<Store>,
    head: watch::Receiver<i64>,
}

impl Consumer {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Up to `limit` events after this consumer's cursor, oldest first. The same events come again
    /// until they are acknowledged.
    pub fn pending(&mut self, limit: u32) -> Result<Vec<Delivered>, StoreError> {
        // Marked seen before reading, so an event committed after the read still wakes `wait`.
        self.head.borrow_and_update();
        self.store.outbox_pending(&self.name, limit)
    }

    /// Records that every event up to and including `seq` was handled.
    pub fn ack(&self, seq: i64) -> Result<(), StoreError> {
        self.store.ack_outbox(&self.name, seq)
    }

    /// Waits until an event is published after the last call to [`Consumer::pending`].
    pub async fn wait(&mut self) {
        // The sender lives as long as the store, which this consumer holds: `changed` cannot fail.
        let _ = self.head.changed().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use keepsake_api::{FacilityKind, FacilityState};

    use super::*;

    fn changed(to: FacilityState) -> Event {
        Event::FacilityChanged { facility: FacilityKind::Docker, from: FacilityState::Ok, to }
    }

    #[tokio::test]
    async fn a_waiting_consumer_wakes_for_a_new_event_and_gets_it_once() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let events = Events::new(Arc::clone(&store));
        let mut c = events.consumer("alerts").unwrap();
        assert!(c.pending(10).unwrap().is_empty());
        let publisher = events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            publisher.publish(&changed(FacilityState::Missing)).unwrap();
        });
        tokio::time::timeout(Duration::from_secs(5), c.wait()).await.expect("woken by the publish");
        let got = c.pending(10).unwrap();
        assert_eq!(got.iter().map(|d| d.event.clone()).collect::<Vec<_>>(), vec![changed(FacilityState::Missing)]);
        c.ack(got[0].seq).unwrap();
        assert!(c.pending(10).unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_event_published_before_wait_is_not_slept_through() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let events = Events::new(store);
        let mut c = events.consumer("alerts").unwrap();
        assert!(c.pending(10).unwrap().is_empty());
        events.publish(&changed(FacilityState::Degraded)).unwrap();
        tokio::time::timeout(Duration::from_secs(1), c.wait()).await.expect("wait returns at once");
        assert_eq!(c.pending(10).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn pruning_keeps_what_a_consumer_has_not_acknowledged() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let events = Events::new(store);
        let mut a = events.consumer("a").unwrap();
        let _b = events.consumer("b").unwrap();
        let seq = events.publish(&changed(FacilityState::Ok)).unwrap();
        a.ack(seq).unwrap();
        assert_eq!(events.prune().unwrap(), 0, "b has not read it");
        assert!(events.unregister("b").unwrap());
        assert_eq!(events.prune().unwrap(), 1);
        assert!(a.pending(10).unwrap().is_empty());
    }
}
