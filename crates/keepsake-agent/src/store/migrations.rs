//! Numbered schema migrations. Append only: a released migration is never edited, because
//! appliances in the field have already run it. `PRAGMA user_version` holds how many have run.

use rusqlite::Connection;

use super::{Result, StoreError};

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: jobs, their log lines, and the audit log.
    r#"
    CREATE TABLE jobs (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        kind             TEXT NOT NULL,
        target           TEXT,
        state            TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled')),
        progress_done    INTEGER NOT NULL DEFAULT 0,
        progress_total   INTEGER,
        progress_unit    TEXT NOT NULL DEFAULT '',
        progress_phase   TEXT NOT NULL DEFAULT '',
        requested_by     TEXT NOT NULL,
        created_at       TEXT NOT NULL,
        started_at       TEXT,
        finished_at      TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        result           TEXT,
        error            TEXT
    );
    CREATE INDEX jobs_by_state ON jobs(state);
    CREATE INDEX jobs_by_kind ON jobs(kind, id);

    CREATE TABLE job_log (
        job_id  INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        seq     INTEGER NOT NULL,
        at      TEXT NOT NULL,
        level   TEXT NOT NULL CHECK (level IN ('info','warn','error')),
        message TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
    );

    CREATE TABLE audit_log (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        at       TEXT NOT NULL,
        actor    TEXT NOT NULL,
        action   TEXT NOT NULL,
        target   TEXT,
        outcome  TEXT NOT NULL,
        source   TEXT NOT NULL
    );
    "#,
    // 2: identity: accounts, sessions, second factors, groups, settings, encrypted secrets, login
    // failures; and the audit log's hash chain (rows from migration 1 are chained by `audit_seal`).
    r#"
    CREATE TABLE users (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        name           TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name   TEXT NOT NULL,
        password_hash  TEXT NOT NULL,
        role           TEXT NOT NULL CHECK (role IN ('owner','admin','operator','viewer')),
        disabled       INTEGER NOT NULL DEFAULT 0,
        totp_secret    BLOB,
        totp_enabled   INTEGER NOT NULL DEFAULT 0,
        created_at     TEXT NOT NULL,
        password_changed_at TEXT NOT NULL
    );

    CREATE TABLE recovery_codes (
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        code_hash  TEXT NOT NULL,
        used_at    TEXT,
        PRIMARY KEY (user_id, code_hash)
    );

    CREATE TABLE passkeys (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        credential_id TEXT NOT NULL UNIQUE,
        passkey      TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        last_used_at TEXT
    );

    CREATE TABLE sessions (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        token_hash    TEXT NOT NULL UNIQUE,
        user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        second_factor_done INTEGER NOT NULL,
        created_at    TEXT NOT NULL,
        last_seen_at  TEXT NOT NULL,
        expires_at    TEXT NOT NULL,
        source        TEXT NOT NULL,
        user_agent    TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX sessions_by_user ON sessions(user_id);

    CREATE TABLE groups (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        permissions TEXT NOT NULL
    );

    CREATE TABLE user_groups (
        user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        PRIMARY KEY (user_id, group_id)
    );

    CREATE TABLE ceremonies (
        id         TEXT PRIMARY KEY,
        user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL,
        state      TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );

    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE secrets (
        name       TEXT PRIMARY KEY,
        ciphertext BLOB NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE login_failures (
        key        TEXT PRIMARY KEY,
        failures   INTEGER NOT NULL,
        last_at    TEXT NOT NULL,
        locked_until TEXT
    );

    ALTER TABLE audit_log ADD COLUMN detail TEXT NOT NULL DEFAULT '';
    ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
    ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
    CREATE INDEX audit_by_actor ON audit_log(actor, id);
    CREATE INDEX audit_by_action ON audit_log(action, id);
    "#,
    // 3: the last TOTP time step accepted per user, so a code cannot be used twice.
    r#"
    ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
    "#,
    // 4: what a job's work recorded for reconciliation after a crash (its last checkpoint and the
    // state it saved there, and the point of no return it passed), and results tagged by kind.
    r#"
    ALTER TABLE jobs ADD COLUMN checkpoint TEXT;
    ALTER TABLE jobs ADD COLUMN checkpoint_data TEXT;
    ALTER TABLE jobs ADD COLUMN point_of_no_return TEXT;
    UPDATE jobs SET result = json_object('kind', kind, 'report', json(result))
        WHERE result IS NOT NULL AND json_valid(result);
    "#,
    // 5: the event bus's durable outbox and its consumers' cursors. AUTOINCREMENT: a sequence
    // number is never reused after pruning, so a cursor always means "everything up to here".
    r#"
    CREATE TABLE outbox (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        at      TEXT NOT NULL,
        topic   TEXT NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE INDEX outbox_by_at ON outbox(at);

    CREATE TABLE outbox_consumers (
        name          TEXT PRIMARY KEY,
        cursor        INTEGER NOT NULL,
        registered_at TEXT NOT NULL
    );
    "#,
    // 6: alerts. Accounts get an email address (for alerts and forgotten passwords). Rules keep
    // only what was changed from their built-in defaults. An alert is one rule's state for one
    // subject; `transitions` numbers its changes so each notification has a stable key.
    // Notifications are the delivery queue: a unique key per message, so reprocessing an event
    // never queues a message twice. `alert_facts` keeps the newest fact per source (a pool's
    // health, a dataset's space) for the weekly summary; `alert_samples` keeps timestamped
    // occurrences for windowed rules (failed sign-ins, backups per drive). Reset tokens are
    // stored only as hashes.
    r#"
    ALTER TABLE users ADD COLUMN email TEXT;
    CREATE UNIQUE INDEX users_by_email ON users(email COLLATE NOCASE) WHERE email IS NOT NULL;

    CREATE TABLE alert_rules (
        id                 TEXT PRIMARY KEY,
        threshold          INTEGER,
        muted              INTEGER NOT NULL DEFAULT 0,
        min_repeat_minutes INTEGER
    );

    CREATE TABLE alerts (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        rule             TEXT NOT NULL,
        subject          TEXT NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('firing','resolved')),
        severity         TEXT NOT NULL,
        title            TEXT NOT NULL,
        message          TEXT NOT NULL,
        facts            TEXT NOT NULL DEFAULT '[]',
        since            TEXT NOT NULL,
        changed_at       TEXT NOT NULL,
        observed_at      TEXT NOT NULL,
        transitions      INTEGER NOT NULL DEFAULT 1,
        notified_firing  INTEGER NOT NULL DEFAULT 0,
        last_notified_at TEXT,
        snoozed_until    TEXT,
        UNIQUE (rule, subject)
    );

    CREATE TABLE alert_history (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        at       TEXT NOT NULL,
        alert_id INTEGER REFERENCES alerts(id) ON DELETE SET NULL,
        rule     TEXT NOT NULL,
        subject  TEXT NOT NULL,
        kind     TEXT NOT NULL,
        channel  TEXT,
        detail   TEXT NOT NULL
    );
    CREATE INDEX alert_history_by_rule ON alert_history(rule, id);

    CREATE TABLE channels (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        name           TEXT NOT NULL UNIQUE COLLATE NOCASE,
        enabled        INTEGER NOT NULL,
        settings       TEXT NOT NULL,
        secret         BLOB,
        notify_on      TEXT NOT NULL,
        rules          TEXT NOT NULL DEFAULT '{}',
        weekly_summary INTEGER NOT NULL DEFAULT 0,
        created_at     TEXT NOT NULL
    );

    CREATE TABLE notifications (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        key             TEXT NOT NULL UNIQUE,
        channel_id      INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        alert_id        INTEGER REFERENCES alerts(id) ON DELETE SET NULL,
        message         TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('pending','sending','sent','failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        created_at      TEXT NOT NULL,
        sent_at         TEXT
    );
    CREATE INDEX notifications_due ON notifications(state, next_attempt_at);

    CREATE TABLE alert_facts (
        kind    TEXT NOT NULL,
        subject TEXT NOT NULL,
        value   TEXT NOT NULL,
        at      TEXT NOT NULL,
        PRIMARY KEY (kind, subject)
    );

    CREATE TABLE alert_samples (
        kind    TEXT NOT NULL,
        subject TEXT NOT NULL,
        at      TEXT NOT NULL,
        ok      INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX alert_samples_by_kind ON alert_samples(kind, at);

    CREATE TABLE password_resets (
        token_hash TEXT PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at    TEXT
    );
    "#,
    // 7: restore points (Keepsake's own; Sanoid's and Immich's are listed live, not stored), restore
    // drills, resets that can be undone, and the intent of an operation that stops Immich or
    // swaps databases, so a restarted agent can finish putting things back.
    r#"
    CREATE TABLE restore_points (
        id               TEXT PRIMARY KEY,
        kind             TEXT NOT NULL CHECK (kind IN ('scheduled','manual','pre_update','pre_restore','pre_reset')),
        state            TEXT NOT NULL CHECK (state IN ('creating','complete')),
        created_at       TEXT NOT NULL,
        completed_at     TEXT,
        note             TEXT,
        pinned           INTEGER NOT NULL DEFAULT 0,
        immich_version   TEXT,
        postgres_version TEXT,
        size             INTEGER NOT NULL DEFAULT 0,
        parts            TEXT NOT NULL DEFAULT '[]',
        job_id           INTEGER
    );
    CREATE INDEX restore_points_by_time ON restore_points(created_at);

    CREATE TABLE restore_drills (
        job_id      INTEGER PRIMARY KEY,
        point_id    TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        ok          INTEGER NOT NULL,
        detail      TEXT NOT NULL,
        tables      TEXT NOT NULL DEFAULT '[]'
    );

    CREATE TABLE instance_resets (
        job_id    INTEGER PRIMARY KEY,
        point_id  TEXT NOT NULL,
        reset_at  TEXT NOT NULL,
        undone_at TEXT
    );

    CREATE TABLE restore_intents (
        job_id     INTEGER PRIMARY KEY,
        what       TEXT NOT NULL,
        state      TEXT NOT NULL,
        started_at TEXT NOT NULL
    );
    "#,
    // 8: USB backup drives (enrolled by filesystem UUID) and the history of their backup and
    // verification runs (a skipped scheduled run has no job).
    r#"
    CREATE TABLE drives (
        uuid                  TEXT PRIMARY KEY,
        name                  TEXT NOT NULL,
        trigger               TEXT NOT NULL CHECK (trigger IN ('plug_in','schedule','manual')),
        schedule_hour         INTEGER,
        include_thumbs        INTEGER NOT NULL DEFAULT 0,
        include_encoded_video INTEGER NOT NULL DEFAULT 0,
        enrolled_at           TEXT NOT NULL,
        size                  INTEGER,
        free                  INTEGER
    );

    CREATE TABLE drive_runs (
        id              INTEGER PRIMARY KEY,
        uuid            TEXT NOT NULL REFERENCES drives(uuid) ON DELETE CASCADE,
        job_id          INTEGER,
        kind            TEXT NOT NULL CHECK (kind IN ('backup','verify')),
        started_at      TEXT NOT NULL,
        finished_at     TEXT,
        outcome         TEXT NOT NULL CHECK (outcome IN ('running','succeeded','failed','cancelled','skipped')),
        files_total     INTEGER NOT NULL DEFAULT 0,
        bytes_total     INTEGER NOT NULL DEFAULT 0,
        files_copied    INTEGER NOT NULL DEFAULT 0,
        bytes_copied    INTEGER NOT NULL DEFAULT 0,
        files_set_aside INTEGER NOT NULL DEFAULT 0,
        files_verified  INTEGER NOT NULL DEFAULT 0,
        error           TEXT
    );
    CREATE INDEX drive_runs_by_drive ON drive_runs(uuid, kind, started_at);
    "#,
];

pub(super) fn apply(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let current = current as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::TooNew { found: current, known: MIGRATIONS.len() });
    }
    for (i, sql) in MIGRATIONS[current..].iter().enumerate() {
        let version = current + i + 1;
        // Each migration and its version bump commit together, so a crash mid-way leaves the
        // database at the previous version, never between two.
        let tx = conn.transaction().map_err(|source| StoreError::Migrate { version, source })?;
        tx.execute_batch(sql).map_err(|source| StoreError::Migrate { version, source })?;
        if version == 2 {
            super::audit::seal_existing(&tx).map_err(|source| StoreError::Migrate { version, source })?;
        }
        tx.pragma_update(None, "user_version", version as i64)
            .map_err(|source| StoreError::Migrate { version, source })?;
        tx.commit().map_err(|source| StoreError::Migrate { version, source })?;
        tracing::info!(version, "applied state database migration");
    }
    Ok(())
}
