//! The durable outbox of the event bus: every published event as a row with an increasing sequence
//! number, and one persisted cursor per registered consumer.
//!
//! Events caused by a database write are inserted by [`insert_event`] inside that write's
//! transaction, so the change and its event commit together or not at all. Sequence numbers come
//! from `AUTOINCREMENT` and are never reused, even after pruning, so a cursor always means "every
//! event up to here". After a commit that added events, the store bumps a watch channel
//! ([`Store::outbox_head`]) so waiting consumers wake without polling.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use tokio::sync::watch;

use super::{Result, Store, StoreError, Tx, now, parse_ts, ts};
use crate::events::Event;

/// An event read back from the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub event: Event,
}

/// Appends `event` inside the caller's transaction and returns its sequence number. The caller
/// calls [`Store::outbox_advanced`] after committing.
pub(super) fn insert_event(tx: &Connection, event: &Event) -> Result<i64> {
    let payload = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(format!("cannot encode event: {e}")))?;
    let seq = tx.query_row(
        "INSERT INTO outbox (at, topic, payload) VALUES (?1, ?2, ?3) RETURNING seq",
        params![ts(now()), event.topic(), payload],
        |r| r.get(0),
    )?;
    Ok(seq)
}

pub(super) fn head(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM outbox", [], |r| r.get(0))
}

impl Store {
    /// Appends one event in its own transaction (for changes that are not database writes).
    pub fn publish_event(&self, event: &Event) -> Result<i64> {
        let seq = insert_event(&self.lock(), event)?;
        self.outbox_advanced(seq);
        Ok(seq)
    }

    /// Tells waiting consumers that events up to `seq` are committed.
    pub(super) fn outbox_advanced(&self, seq: i64) {
        self.outbox_head.send_if_modified(|h| {
            let newer = seq > *h;
            *h = (*h).max(seq);
            newer
        });
    }

    /// The sequence number of the newest committed event; changes whenever events are added.
    pub fn outbox_head(&self) -> watch::Receiver<i64> {
        self.outbox_head.subscribe()
    }

    /// Registers a consumer if it is new, with a cursor before every event still in the outbox.
    /// Returns its cursor (the last sequence number it acknowledged).
    pub fn register_outbox_consumer(&self, name: &str) -> Result<i64> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO outbox_consumers (name, cursor, registered_at) VALUES (?1, 0, ?2) ON CONFLICT(name) DO NOTHING",
            params![name, ts(now())],
        )?;
        Ok(conn.query_row("SELECT cursor FROM outbox_consumers WHERE name = ?1", [name], |r| r.get(0))?)
    }

    /// Removes a consumer that no longer exists, so it stops holding back pruning.
    pub fn unregister_outbox_consumer(&self, name: &str) -> Result<bool> {
        Ok(self.lock().execute("DELETE FROM outbox_consumers WHERE name = ?1", [name])? > 0)
    }

    /// Up to `limit` events after the consumer's cursor, oldest first.
    pub fn outbox_pending(&self, consumer: &str, limit: u32) -> Result<Vec<Delivered>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT seq, at, payload FROM outbox \
             WHERE seq > (SELECT cursor FROM outbox_consumers WHERE name = ?1) ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![consumer, limit.max(1)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(seq, at, payload)| {
                let event = serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("outbox event {seq} cannot be read: {e}")))?;
                Ok(Delivered { seq, at: parse_ts(&at)?, event })
            })
            .collect()
    }

    /// Moves the consumer's cursor to `seq` (never backwards): it has handled every event up to it.
    pub fn ack_outbox(&self, consumer: &str, seq: i64) -> Result<()> {
        self.transaction(|t| t.ack_outbox(consumer, seq))
    }

    /// Deletes events every registered consumer has acknowledged, and events older than `cutoff`
    /// whoever has not read them (a consumer that stopped must not grow the table for ever).
    /// Returns how many were deleted and how many of those some consumer had not acknowledged.
    pub fn prune_outbox(&self, cutoff: DateTime<Utc>) -> Result<(usize, usize)> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let floor: i64 =
            tx.query_row("SELECT COALESCE((SELECT MIN(cursor) FROM outbox_consumers), 0)", [], |r| r.get(0))?;
        let unread = tx.execute("DELETE FROM outbox WHERE seq > ?1 AND at < ?2", params![floor, ts(cutoff)])?;
        let read = tx.execute("DELETE FROM outbox WHERE seq <= ?1", [floor])?;
        tx.commit()?;
        Ok((read + unread, unread))
    }
}

impl Tx<'_> {
    /// Publishes `event` with this transaction's other writes: both commit, or neither.
    pub fn publish_event(&self, event: &Event) -> Result<i64> {
        let seq = insert_event(self.conn, event)?;
        self.published.set(self.published.get().max(seq));
        Ok(seq)
    }

    /// [`Store::ack_outbox`] inside a transaction: a consumer that writes what an event caused
    /// and its cursor together handles each event exactly once, even across a crash.
    pub fn ack_outbox(&self, consumer: &str, seq: i64) -> Result<()> {
        let n = self
            .conn
            .execute("UPDATE outbox_consumers SET cursor = MAX(cursor, ?2) WHERE name = ?1", params![consumer, seq])?;
        if n == 0 {
            return Err(StoreError::conflict(
                "outbox.unknown_consumer",
                format!("no outbox consumer named {consumer:?}; register it before acknowledging"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use keepsake_api::{FacilityKind, FacilityState};

    use super::*;

    fn changed(n: u8) -> Event {
        let to = if n.is_multiple_of(2) { FacilityState::Ok } else { FacilityState::Missing };
        Event::FacilityChanged { facility: FacilityKind::Zfs, from: FacilityState::Degraded, to }
    }

    fn drain(s: &Store, consumer: &str) -> Vec<Delivered> {
        let mut got = Vec::new();
        loop {
            let batch = s.outbox_pending(consumer, 2).unwrap();
            let Some(last) = batch.last() else { return got };
            s.ack_outbox(consumer, last.seq).unwrap();
            got.extend(batch);
        }
    }

    #[test]
    fn events_survive_reopening_and_are_delivered_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.register_outbox_consumer("alerts").unwrap();
        for n in 0..3 {
            s.publish_event(&changed(n)).unwrap();
        }
        // The consumer handles the first event, then the agent dies.
        let first = s.outbox_pending("alerts", 1).unwrap();
        s.ack_outbox("alerts", first[0].seq).unwrap();
        drop(s);

        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.register_outbox_consumer("alerts").unwrap(), first[0].seq, "the cursor was kept");
        s.publish_event(&changed(3)).unwrap();
        let rest = drain(&s, "alerts");
        let all: Vec<Event> = first.iter().chain(&rest).map(|d| d.event.clone()).collect();
        assert_eq!(all, (0..4).map(changed).collect::<Vec<_>>());
        assert!(rest.windows(2).all(|w| w[0].seq < w[1].seq));
        assert!(drain(&s, "alerts").is_empty(), "nothing is delivered twice");
    }

    #[test]
    fn consumers_keep_separate_cursors() {
        let s = Store::open_in_memory().unwrap();
        s.register_outbox_consumer("a").unwrap();
        s.register_outbox_consumer("b").unwrap();
        s.publish_event(&changed(0)).unwrap();
        assert_eq!(drain(&s, "a").len(), 1);
        s.publish_event(&changed(1)).unwrap();
        assert_eq!(drain(&s, "a").len(), 1);
        assert_eq!(drain(&s, "b").iter().map(|d| d.event.clone()).collect::<Vec<_>>(), vec![changed(0), changed(1)]);
    }

    #[test]
    fn pruning_waits_for_every_consumer_unless_events_are_too_old() {
        let s = Store::open_in_memory().unwrap();
        s.register_outbox_consumer("a").unwrap();
        s.register_outbox_consumer("b").unwrap();
        let seqs: Vec<i64> = (0..3).map(|n| s.publish_event(&changed(n)).unwrap()).collect();
        s.ack_outbox("a", seqs[2]).unwrap();
        s.ack_outbox("b", seqs[0]).unwrap();
        let long_ago = now() - chrono::Duration::days(1);
        assert_eq!(s.prune_outbox(long_ago).unwrap(), (1, 0), "only what both have read");
        assert_eq!(s.outbox_pending("b", 10).unwrap().len(), 2);
        // Acknowledging backwards does not move the cursor back.
        s.ack_outbox("b", seqs[0] - 1).unwrap();
        assert_eq!(s.outbox_pending("b", 10).unwrap()[0].seq, seqs[1]);
        // Past the retention age, unread events go too, and the count says so.
        assert_eq!(s.prune_outbox(now() + chrono::Duration::seconds(1)).unwrap(), (2, 2));
        // Sequence numbers are not reused after pruning.
        assert!(s.publish_event(&changed(0)).unwrap() > seqs[2]);
    }

    #[test]
    fn acknowledging_for_an_unknown_consumer_is_refused() {
        let s = Store::open_in_memory().unwrap();
        assert!(matches!(s.ack_outbox("nobody", 1), Err(StoreError::Conflict { .. })));
    }

    #[test]
    fn the_head_moves_with_every_commit() {
        let s = Store::open_in_memory().unwrap();
        let mut head = s.outbox_head();
        assert_eq!(*head.borrow_and_update(), 0);
        let seq = s.publish_event(&changed(0)).unwrap();
        assert!(head.has_changed().unwrap());
        assert_eq!(*head.borrow_and_update(), seq);
    }
}
