//! At start, after a crash: whatever restore points work was cut off is finished or removed.
//! - an operation that had stopped Immich (its intent is still recorded): if it died between the
//!   two renames of a database swap, the old database gets its name back; Immich's database and
//!   server are started again;
//! - points still `creating`: their snapshots, files and rows are removed (an interrupted point is
//!   never shown as usable, and the next run starts clean);
//! - leftover clones (`<pool>/keepsake-clone-*`) are destroyed, scratch databases dropped.
//!
//! Each step is independent and logs what it could not do; nothing here stops the agent.

use super::{Inner, database, restore, zfs};

pub async fn run(inner: &Inner) {
    let Ok(layout) = inner.layout() else { return };
    match inner.store.intents() {
        Ok(intents) => {
            for intent in intents {
                tracing::warn!(
                    job = intent.job_id,
                    what = intent.what,
                    state = intent.state,
                    "finishing an operation a previous agent left"
                );
                if let Err(e) = repair_database(inner).await {
                    tracing::error!(error = %e, "could not check Immich's database after a crash");
                }
                if let Err(e) = inner.stack.start_database().await {
                    tracing::error!(error = %e, "could not start Immich's database after a crash");
                }
                match inner.stack.start_server().await {
                    Ok(()) => {
                        let _ = inner.store.clear_intent(intent.job_id);
                    }
                    Err(e) => tracing::error!(error = %e, "could not start Immich after a crash"),
                }
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot read restore intents"),
    }
    match inner.store.points() {
        Ok(points) => {
            for p in points.into_iter().filter(|p| !p.complete) {
                match inner.remove_point(&p.id).await {
                    Ok(()) => {
                        tracing::warn!(point = p.id, "removed a restore point an interrupted job left unfinished")
                    }
                    Err(e) => tracing::error!(point = p.id, error = %e, "cannot remove an unfinished restore point"),
                }
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot read restore points"),
    }
    // Folders of points that never got a row (killed between mkdir and insert: impossible today,
    // the row comes first, but cheap to keep tidy), clone mountpoints and staged drive dumps.
    if let Ok(mut rd) = tokio::fs::read_dir(&inner.config.points_dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            let known = inner.store.point(&name).ok().flatten().is_some();
            // `.drive-restore-<job>`: a dump a restore from a drive copied off the drive.
            let staged = name.starts_with(".clone-") || name.starts_with(".drive-restore-");
            if staged || (name.starts_with("keepsake-") && !known) {
                let _ = tokio::fs::remove_dir_all(e.path()).await;
            }
        }
    }
    match zfs::children_with_prefix(&layout.pool, restore::recover_clone_prefix()).await {
        Ok(clones) => {
            for c in clones {
                if let Err(e) = zfs::destroy_dataset(&c).await {
                    tracing::error!(clone = c, error = %e, "cannot destroy a leftover clone");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot list leftover clones"),
    }
    if let Err(e) = drop_scratch(inner).await {
        tracing::warn!(error = %e, "cannot drop leftover scratch databases (is Immich's database running?)");
    }
}

/// If a swap died after renaming the live database away and before renaming the restored one in,
/// the live database is missing: give the old one its name back.
async fn repair_database(inner: &Inner) -> Result<(), super::RestoreError> {
    let docker = inner.stack.docker().await?;
    let db = inner.stack.database().clone();
    let names = database::databases(&docker, &db).await?;
    if names.contains(&db.database) {
        return Ok(());
    }
    let before = format!("{}before_", database::SCRATCH_PREFIX);
    if let Some(old) = names.iter().filter(|n| n.starts_with(&before)).max() {
        let sql = format!("ALTER DATABASE {} RENAME TO {}", database::ident(old), database::ident(&db.database));
        database::psql(&docker, &db, "postgres", &sql).await?;
        tracing::warn!(from = old, "gave Immich's database its name back after an interrupted swap");
    }
    Ok(())
}

async fn drop_scratch(inner: &Inner) -> Result<(), super::RestoreError> {
    let docker = inner.stack.docker().await?;
    let db = inner.stack.database().clone();
    for name in database::databases(&docker, &db).await? {
        if name.starts_with(database::SCRATCH_PREFIX) && name != db.database {
            database::drop_database(&docker, &db, &name).await?;
            tracing::info!(database = name, "dropped a leftover scratch database");
        }
    }
    Ok(())
}
