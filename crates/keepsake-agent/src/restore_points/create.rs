//! Making a restore point: dump the database, snapshot the datasets, bundle the configuration,
//! verify every part, write the manifest, and only then mark the point complete.
//!
//! Order matters for consistency without stopping Immich: the dump comes first (pg_dump reads one
//! consistent view), the snapshots right after. A photo uploaded in between is in the snapshot
//! but not the database, which is harmless (Immich can list untracked files); the other order
//! would leave the database naming files the snapshot lacks.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;
use keepsake_api::{JobResult, RestorePart, RestorePartKind, RestorePointKind, RestorePointReport};
use serde::Serialize;

use super::{Inner, RestoreError, database, listing, zfs};
use crate::jobs::{JobContext, JobFailure, Outcome};
use crate::store::PointRow;

/// The whole `restore_point.create` job: a point, then retention.
pub async fn run(inner: &Arc<Inner>, ctx: &JobContext, kind: RestorePointKind, note: Option<String>) -> Outcome {
    let point = make_point(inner, ctx, kind, note).await.map_err(|e| fail(ctx, e))?;
    ctx.progress(1, Some(1), "steps", "applying retention");
    // Pruning only after a point was made and verified: a failing box never thins its history.
    let pruned = match listing::prune(inner).await {
        Ok(p) => p,
        Err(e) => {
            ctx.warn(format!("retention could not run this time: {e}"));
            Vec::new()
        }
    };
    for id in &pruned {
        ctx.info(format!("retention removed {id}"));
    }
    Ok(Some(JobResult::RestorePointCreated(RestorePointReport { point_id: point.id, size: point.size, pruned })))
}

pub(crate) fn fail(ctx: &JobContext, e: RestoreError) -> JobFailure {
    if matches!(e, RestoreError::Sync(super::sync::SyncError::Cancelled)) {
        return JobFailure::Cancelled;
    }
    ctx.error(e.to_string());
    JobFailure::Failed(e.to_string())
}

#[derive(Serialize)]
struct Manifest<'a> {
    format: u32,
    id: &'a str,
    kind: RestorePointKind,
    created_at: chrono::DateTime<Utc>,
    immich_version: Option<&'a str>,
    postgres_version: &'a str,
    parts: &'a [RestorePart],
}

/// Makes one point. On any failure (or a cancel) everything it began is removed; a crash midway
/// leaves a `creating` row that the next start removes with its parts.
pub async fn make_point(
    inner: &Arc<Inner>,
    ctx: &JobContext,
    kind: RestorePointKind,
    note: Option<String>,
) -> Result<PointRow, RestoreError> {
    let layout = inner.layout()?.clone();
    let id = new_id(inner, kind)?;
    inner.store.insert_point(&id, kind, note.as_deref(), ctx.id())?;
    ctx.info(format!("making restore point {id}"));
    let made = build(inner, ctx, &layout, &id, kind).await;
    match made {
        Ok(()) => Ok(inner.store.point(&id)?.ok_or_else(|| RestoreError::NotFound(id.clone()))?),
        Err(e) => {
            if let Err(cleanup) = inner.remove_point(&id).await {
                ctx.warn(format!("could not remove the unfinished point {id}: {cleanup}; it is removed at next start"));
            }
            Err(e)
        }
    }
}

fn cancelled(ctx: &JobContext, step: &str, id: &str) -> Result<(), RestoreError> {
    ctx.checkpoint(step, &serde_json::json!({ "point": id }))
        .map_err(|_| RestoreError::Sync(super::sync::SyncError::Cancelled))
}

async fn build(
    inner: &Arc<Inner>,
    ctx: &JobContext,
    layout: &super::Layout,
    id: &str,
    kind: RestorePointKind,
) -> Result<(), RestoreError> {
    let dir = inner.config.points_dir.join(id);
    tokio::fs::create_dir_all(dir.join("config"))
        .await
        .map_err(RestoreError::io(format!("cannot create {}", dir.display())))?;
    let docker = inner.stack.docker().await?;
    let db = inner.stack.database().clone();
    let immich_version = inner.stack.immich_version().await;
    let pg_version = database::server_version(&docker, &db).await?;
    let name = keepsake_dump::DumpName::new(Utc::now(), immich_version.as_deref(), &pg_version)
        .map_err(|e| RestoreError::Refused(e.to_string()))?;
    let mut parts = Vec::new();

    cancelled(ctx, "dumping the database", id)?;
    ctx.progress(0, None, "bytes", "dumping the database");
    let dest = dir.join(name.as_str());
    let progress_ctx = ctx.clone();
    let info = database::dump(&docker, &db, &dest, move |n| {
        progress_ctx.progress(n, None, "bytes", "dumping the database");
    })
    .await?;
    ctx.info(format!(
        "database dumped: {} of SQL in {} compressed ({})",
        crate::host::storage::human(info.uncompressed_size),
        crate::host::storage::human(info.size),
        name.as_str()
    ));
    parts.push(RestorePart {
        kind: RestorePartKind::Database,
        name: name.as_str().to_owned(),
        size: info.size,
        checksum: info.blake3_hex.clone(),
    });

    cancelled(ctx, "snapshotting", id)?;
    ctx.progress(0, None, "steps", "snapshotting the library and the database files");
    zfs::snapshot_recursive(&layout.root, id).await?;
    let entries = zfs::entries(&layout.root).await?;
    for dataset in [&layout.library, &layout.postgres] {
        let snap = format!("{dataset}@{id}");
        let e = entries.get(&snap).ok_or_else(|| {
            RestoreError::Refused(format!(
                "the snapshot {snap} is missing right after it was taken; is {dataset} a child of --zfs-root?"
            ))
        })?;
        parts.push(RestorePart {
            kind: RestorePartKind::Snapshot,
            name: snap,
            size: e.referenced,
            checksum: e.guid.clone(),
        });
    }

    cancelled(ctx, "saving the configuration", id)?;
    parts.extend(write_config(inner, &dir).await?);

    cancelled(ctx, "verifying", id)?;
    ctx.progress(0, None, "steps", "verifying every part");
    verify_parts(layout, &dir, &parts).await?;
    write_manifest(
        &dir,
        &Manifest {
            format: 1,
            id,
            kind,
            created_at: Utc::now(),
            immich_version: immich_version.as_deref(),
            postgres_version: &pg_version,
            parts: &parts,
        },
    )
    .await?;
    let pg_short = pg_version.split(' ').next().unwrap_or_default().to_owned();
    inner.store.complete_point(id, immich_version.as_deref(), Some(&pg_short), &parts)?;
    let size: u64 = parts.iter().map(|p| p.size).sum();
    ctx.info(format!("restore point {id} is complete: {} in {} parts", crate::host::storage::human(size), parts.len()));
    ctx.publish(&crate::events::Event::RestorePointCreated { id: id.to_owned(), kind: kind.as_str().to_owned(), size });
    Ok(())
}

/// The configuration bundle: options.nix (when the host has one) and the agent's settings.
async fn write_config(inner: &Arc<Inner>, dir: &Path) -> Result<Vec<RestorePart>, RestoreError> {
    let mut parts = Vec::new();
    for src in &inner.config.config_files {
        let (Some(name), Ok(bytes)) = (src.file_name(), tokio::fs::read(src).await) else { continue };
        let name = format!("config/{}", name.to_string_lossy());
        if name != "config/agent-settings.json" {
            parts.push(write_part(dir, &name, &bytes).await?);
        }
    }
    let settings: std::collections::BTreeMap<String, String> = inner.store.settings_all()?.into_iter().collect();
    let json = serde_json::to_vec_pretty(&settings).unwrap_or_default();
    parts.push(write_part(dir, "config/agent-settings.json", &json).await?);
    Ok(parts)
}

async fn write_part(dir: &Path, name: &str, bytes: &[u8]) -> Result<RestorePart, RestoreError> {
    let path = dir.join(name);
    write_atomic(&path, bytes).await?;
    // Hashed from the disk, not from memory: what is checked later is what was written.
    let (size, checksum) =
        keepsake_dump::hash_file(&path).await.map_err(|e| RestoreError::Corrupt(format!("{name}: {e}")))?;
    Ok(RestorePart { kind: RestorePartKind::Config, name: name.to_owned(), size, checksum })
}

/// Temp file, fsync, rename, fsync the folder.
pub(super) async fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RestoreError> {
    let (path, bytes) = (path.to_owned(), bytes.to_vec());
    // Private like everything in the state folder.
    tokio::task::spawn_blocking(move || crate::atomic_file::write(&path, &bytes, 0o600))
        .await
        .map_err(|e| RestoreError::Refused(format!("writing a file stopped: {e}")))?
        .map_err(RestoreError::io("cannot write a restore point file"))
}

async fn write_manifest(dir: &Path, m: &Manifest<'_>) -> Result<(), RestoreError> {
    let json = serde_json::to_vec_pretty(m).unwrap_or_default();
    write_atomic(&dir.join("manifest.json"), &json).await
}

/// Reads every file part back and checks its hash; checks every snapshot still has its GUID.
pub(super) async fn verify_parts(
    layout: &super::Layout,
    dir: &Path,
    parts: &[RestorePart],
) -> Result<(), RestoreError> {
    let mut snapshots = None;
    for p in parts {
        match p.kind {
            RestorePartKind::Database | RestorePartKind::Config => {
                keepsake_dump::verify(&dir.join(&p.name), p.size, &p.checksum)
                    .await
                    .map_err(|e| RestoreError::Corrupt(format!("{}: {e}", p.name)))?;
            }
            RestorePartKind::Snapshot => {
                if snapshots.is_none() {
                    snapshots = Some(zfs::entries(&layout.root).await?);
                }
                let found = snapshots.as_ref().and_then(|s| s.get(&p.name)).map(|e| e.guid.as_str());
                if found != Some(p.checksum.as_str()) {
                    return Err(RestoreError::Corrupt(format!(
                        "the snapshot {} is missing or was replaced (GUID {found:?}, expected {})",
                        p.name, p.checksum
                    )));
                }
            }
        }
    }
    Ok(())
}

/// `keepsake-20261203T175000Z-manual`, unique (a second point in the same second gets `-2`).
fn new_id(inner: &Inner, kind: RestorePointKind) -> Result<String, RestoreError> {
    let base = format!("keepsake-{}-{}", Utc::now().format("%Y%m%dT%H%M%SZ"), kind.as_str());
    let mut id = base.clone();
    let mut n = 1;
    while inner.store.point(&id)?.is_some() {
        n += 1;
        id = format!("{base}-{n}");
    }
    Ok(id)
}
