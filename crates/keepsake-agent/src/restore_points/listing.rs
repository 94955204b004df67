//! Every restore point, side by side: Keepsake's own (from the store), Sanoid's routine snapshots
//! of the library and database datasets (from ZFS, grouped by snapshot name), and Immich's own
//! dumps in `UPLOAD_LOCATION/backups` (from the folder, read-only). Also retention: which of
//! Keepsake's points stay, and why.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Duration, Local, Utc};
use keepsake_api::{
    DrillStatus, RestorePart, RestorePartKind, RestorePoint, RestorePointKind, RestorePointList, RestorePointSource,
    RestorePointState, RestoreScope, RetentionSettings, UndoReset,
};
use keepsake_retention::{Point, Policy};

use super::{Inner, KEEPSAKE_SCOPES, RestoreError, zfs};
use crate::store::PointRow;

/// Where a point came from, resolved from its id.
#[derive(Debug, Clone)]
pub enum Source {
    Keepsake(PointRow),
    /// Sanoid's snapshot name and the datasets that have it.
    Sanoid {
        name: String,
        library: bool,
        postgres: bool,
    },
    /// One of Immich's dump files.
    Immich {
        path: PathBuf,
    },
}

pub fn policy(r: &RetentionSettings) -> Policy {
    Policy {
        keep_last: r.keep_last,
        keep_hourly: r.keep_hourly,
        keep_daily: r.keep_daily,
        keep_weekly: r.keep_weekly,
        keep_monthly: r.keep_monthly,
        keep_yearly: r.keep_yearly,
        keep_within: None,
    }
}

/// What retention decides for each of Keepsake's complete points: why it stays (empty: it goes),
/// and when a safety point expires.
pub struct Verdicts {
    pub reasons: BTreeMap<String, Vec<String>>,
    pub expires: BTreeMap<String, DateTime<Utc>>,
}

pub fn decide(points: &[PointRow], settings: &RetentionSettings, now: DateTime<Utc>) -> Verdicts {
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut expires = BTreeMap::new();
    let complete: Vec<&PointRow> = points.iter().filter(|p| p.complete).collect();
    let scheduled: Vec<Point<String>> = complete
        .iter()
        .filter(|p| p.kind == RestorePointKind::Scheduled)
        .map(|p| Point { id: p.id.clone(), time: p.created_at, pinned: p.pinned })
        .collect();
    let pol = policy(settings);
    if !scheduled.is_empty() && !pol.is_empty() {
        let zone = *Local::now().offset();
        if let Ok(decisions) = keepsake_retention::apply(&pol, &scheduled, zone, now) {
            for d in decisions {
                reasons.insert(d.id.clone(), d.reasons.iter().map(|r| r.as_str().to_owned()).collect());
            }
        }
    }
    for p in &complete {
        let r = reasons.entry(p.id.clone()).or_default();
        if p.pinned && !r.iter().any(|x| x == "pinned") {
            r.push("pinned".into());
        }
        match p.kind {
            RestorePointKind::Scheduled if pol.is_empty() => r.push("kept (no retention policy)".into()),
            RestorePointKind::Scheduled => {}
            RestorePointKind::Manual => r.push("manual".into()),
            RestorePointKind::PreUpdate | RestorePointKind::PreRestore | RestorePointKind::PreReset => {
                let until = p.completed_at.unwrap_or(p.created_at) + Duration::days(settings.safety_days as i64);
                expires.insert(p.id.clone(), until);
                if until > now {
                    r.push("safety".into());
                }
            }
        }
    }
    // Whatever the policy says, the newest complete point always stays.
    if let Some(newest) = complete.iter().max_by_key(|p| p.created_at) {
        let r = reasons.entry(newest.id.clone()).or_default();
        if r.is_empty() {
            r.push("newest".into());
        }
    }
    Verdicts { reasons, expires }
}

/// Removes the points retention no longer keeps. Called only after a point was made and verified.
pub async fn prune(inner: &Inner) -> Result<Vec<String>, RestoreError> {
    let settings = inner.settings()?;
    let points = inner.store.points()?;
    let v = decide(&points, &settings.retention, Utc::now());
    let mut removed = Vec::new();
    for p in points.iter().filter(|p| p.complete) {
        if v.reasons.get(&p.id).is_some_and(|r| !r.is_empty()) {
            continue;
        }
        // Read again just before: a pin set a moment ago wins.
        if inner.store.point(&p.id)?.is_none_or(|now| now.pinned) {
            continue;
        }
        inner.remove_point(&p.id).await?;
        removed.push(p.id.clone());
    }
    Ok(removed)
}

fn keepsake_point(p: &PointRow, v: &Verdicts) -> RestorePoint {
    RestorePoint {
        id: p.id.clone(),
        source: RestorePointSource::Keepsake,
        kind: Some(p.kind),
        state: if p.complete { RestorePointState::Complete } else { RestorePointState::Creating },
        created_at: p.created_at,
        note: p.note.clone(),
        pinned: p.pinned,
        immich_version: p.immich_version.clone(),
        postgres_version: p.postgres_version.clone(),
        size: p.size,
        parts: p.parts.clone(),
        scopes: if p.complete { KEEPSAKE_SCOPES.to_vec() } else { Vec::new() },
        kept_because: v.reasons.get(&p.id).cloned().unwrap_or_default(),
        expires_at: v.expires.get(&p.id).copied(),
        read_only: false,
    }
}

/// Sanoid's snapshots of the library and database datasets, one point per snapshot name.
fn sanoid_points(layout: &super::Layout, entries: &BTreeMap<String, zfs::Entry>) -> Vec<RestorePoint> {
    let mut by_name: BTreeMap<String, RestorePoint> = BTreeMap::new();
    for (full, e) in entries {
        let Some((dataset, snap)) = full.split_once('@') else { continue };
        let library = dataset == layout.library;
        if !snap.starts_with(zfs::SANOID_PREFIX) || !(library || dataset == layout.postgres) {
            continue;
        }
        let p = by_name.entry(snap.to_owned()).or_insert_with(|| RestorePoint {
            id: format!("sanoid:{snap}"),
            source: RestorePointSource::Sanoid,
            kind: None,
            state: RestorePointState::Complete,
            created_at: e.created.unwrap_or_else(Utc::now),
            note: None,
            pinned: false,
            immich_version: None,
            postgres_version: None,
            size: 0,
            parts: Vec::new(),
            scopes: Vec::new(),
            kept_because: Vec::new(),
            expires_at: None,
            read_only: true,
        });
        p.size += e.referenced;
        p.parts.push(RestorePart {
            kind: RestorePartKind::Snapshot,
            name: full.clone(),
            size: e.referenced,
            checksum: e.guid.clone(),
        });
        if library {
            p.scopes.extend([RestoreScope::Library, RestoreScope::Files]);
        } else {
            p.scopes.push(RestoreScope::Database);
        }
    }
    for p in by_name.values_mut() {
        if p.scopes.contains(&RestoreScope::Library) && p.scopes.contains(&RestoreScope::Database) {
            p.scopes.insert(0, RestoreScope::Instance);
        }
    }
    by_name.into_values().collect()
}

/// Immich up to 2.4 wrote `pg_dumpall` cluster dumps (roles, `\connect`), which cannot be loaded
/// into one scratch database; names without a version are from that era too. They are listed but
/// offered for no restore (the help page shows how to load one by hand).
fn cluster_dump(name: &keepsake_dump::DumpName) -> bool {
    let Some(v) = name.immich_version() else { return true };
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) <= (2, 4)
}

/// Immich's own dumps in `<library>/backups`.
async fn immich_points(library: &std::path::Path) -> Result<Vec<(RestorePoint, PathBuf)>, std::io::Error> {
    let dir = library.join("backups");
    let mut out = Vec::new();
    let mut rd = match tokio::fs::read_dir(&dir).await {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    while let Some(entry) = rd.next_entry().await? {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Ok(name) = keepsake_dump::DumpName::parse(&file) else { continue };
        let meta = entry.metadata().await?;
        if !meta.is_file() {
            continue;
        }
        let created = name
            .created()
            .map(|t| t.and_utc())
            .or_else(|| meta.modified().ok().map(DateTime::<Utc>::from))
            .unwrap_or_else(Utc::now);
        out.push((
            RestorePoint {
                id: format!("immich:{file}"),
                source: RestorePointSource::Immich,
                kind: None,
                state: RestorePointState::Complete,
                created_at: created,
                note: None,
                pinned: false,
                immich_version: name.immich_version().map(str::to_owned),
                postgres_version: name.pg_version().map(str::to_owned),
                size: meta.len(),
                parts: vec![RestorePart {
                    kind: RestorePartKind::Database,
                    name: file,
                    size: meta.len(),
                    // Immich keeps no hash of its dumps; hashing gigabytes on every listing is
                    // not worth it, and gzip's own checksum catches damage during the restore.
                    checksum: String::new(),
                }],
                scopes: if cluster_dump(&name) { Vec::new() } else { vec![RestoreScope::Database] },
                kept_because: Vec::new(),
                expires_at: None,
                read_only: true,
            },
            entry.path(),
        ));
    }
    Ok(out)
}

pub async fn list(inner: &Inner) -> Result<RestorePointList, RestoreError> {
    let layout = inner.layout()?;
    let settings = inner.settings()?;
    let rows = inner.store.points()?;
    let v = decide(&rows, &settings.retention, Utc::now());
    let mut points: Vec<RestorePoint> = rows.iter().map(|p| keepsake_point(p, &v)).collect();
    let mut warnings = Vec::new();
    match zfs::entries(&layout.root).await {
        Ok(entries) => points.extend(sanoid_points(layout, &entries)),
        Err(e) => warnings.push(format!("Sanoid's snapshots could not be listed: {e}")),
    }
    match zfs::mountpoint(&layout.library).await {
        Ok(lib) => match immich_points(&lib).await {
            Ok(found) => points.extend(found.into_iter().map(|(p, _)| p)),
            Err(e) => warnings.push(format!("Immich's own dumps could not be listed: {e}")),
        },
        Err(e) => warnings.push(format!("the library dataset could not be read: {e}")),
    }
    points.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let drill = inner.store.last_drill()?.map(|d| DrillStatus {
        next_due: settings.drill_every_days.map(|days| d.finished_at + Duration::days(days as i64)),
        job_id: d.job_id,
        point_id: d.point_id,
        finished_at: d.finished_at,
        ok: d.ok,
        detail: d.detail,
        tables: d.tables,
    });
    let undo_reset = inner.store.open_reset()?.and_then(|r| {
        let point = rows.iter().find(|p| p.id == r.point_id && p.complete)?;
        Some(UndoReset {
            point_id: r.point_id.clone(),
            reset_at: r.reset_at,
            until: if point.pinned { None } else { v.expires.get(&point.id).copied() },
        })
    });
    Ok(RestorePointList { points, drill, undo_reset, warnings })
}

/// One point by id, from whichever source has it.
pub async fn find(inner: &Inner, id: &str) -> Result<RestorePoint, RestoreError> {
    list(inner).await?.points.into_iter().find(|p| p.id == id).ok_or_else(|| RestoreError::NotFound(id.to_owned()))
}

/// Resolves an id to where its data is.
pub async fn source(inner: &Inner, id: &str) -> Result<(RestorePoint, Source), RestoreError> {
    let layout = inner.layout()?;
    if id.starts_with("immich:") {
        let lib = zfs::mountpoint(&layout.library).await?;
        let found = immich_points(&lib).await.map_err(RestoreError::io("cannot read Immich's backups folder"))?;
        let (p, path) = found
            .into_iter()
            .find(|(p, _)| p.id == id)
            .ok_or_else(|| RestoreError::NotFound(format!("{id} (no such file in Immich's backups folder)")))?;
        return Ok((p, Source::Immich { path }));
    }
    let point = find(inner, id).await?;
    if let Some(name) = id.strip_prefix("sanoid:") {
        let library = point.parts.iter().any(|p| p.name == format!("{}@{name}", layout.library));
        let postgres = point.parts.iter().any(|p| p.name == format!("{}@{name}", layout.postgres));
        return Ok((point, Source::Sanoid { name: name.to_owned(), library, postgres }));
    }
    let row = inner.store.point(id)?.ok_or_else(|| RestoreError::NotFound(id.to_owned()))?;
    if !row.complete {
        return Err(RestoreError::Refused(format!("{id} is still being made (or was interrupted); it cannot be used")));
    }
    Ok((point, Source::Keepsake(row)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, kind: RestorePointKind, days_ago: i64, pinned: bool) -> PointRow {
        let t = Utc::now() - Duration::days(days_ago);
        PointRow {
            id: id.into(),
            kind,
            complete: true,
            created_at: t,
            completed_at: Some(t),
            note: None,
            pinned,
            immich_version: None,
            postgres_version: None,
            size: 1,
            parts: Vec::new(),
            job_id: None,
        }
    }

    fn settings(daily: u32) -> RetentionSettings {
        RetentionSettings {
            keep_last: 1,
            keep_hourly: 0,
            keep_daily: daily,
            keep_weekly: 0,
            keep_monthly: 0,
            keep_yearly: 0,
            safety_days: 30,
        }
    }

    #[test]
    fn scheduled_points_follow_the_policy_manual_stay_safety_points_expire() {
        let points = vec![
            row("s0", RestorePointKind::Scheduled, 0, false),
            row("s1", RestorePointKind::Scheduled, 1, false),
            row("s2", RestorePointKind::Scheduled, 2, false),
            row("s9", RestorePointKind::Scheduled, 9, true),
            row("m", RestorePointKind::Manual, 400, false),
            row("pre-new", RestorePointKind::PreRestore, 3, false),
            row("pre-old", RestorePointKind::PreUpdate, 31, false),
        ];
        let v = decide(&points, &settings(2), Utc::now());
        let kept = |id: &str| v.reasons.get(id).is_some_and(|r| !r.is_empty());
        assert!(kept("s0") && kept("s1") && !kept("s2"), "{:?}", v.reasons);
        assert_eq!(v.reasons["s9"], vec!["pinned"]);
        assert_eq!(v.reasons["m"], vec!["manual"]);
        assert_eq!(v.reasons["pre-new"], vec!["safety"]);
        assert!(!kept("pre-old") && v.expires.contains_key("pre-old"));
    }

    #[test]
    fn immichs_cluster_dumps_are_not_offered_for_restore() {
        let dump = |n: &str| keepsake_dump::DumpName::parse(n).unwrap();
        assert!(cluster_dump(&dump("immich-db-backup-1733000000000.sql.gz")));
        assert!(cluster_dump(&dump("immich-db-backup-20250729T114018-v1.136.0-pg14.17.sql.gz")));
        assert!(cluster_dump(&dump("immich-db-backup-20251203T114018-v2.4.1-pg14.17.sql.gz")));
        assert!(!cluster_dump(&dump("immich-db-backup-20260101T114018-v2.5.0-pg16.1.sql.gz")));
    }

    #[test]
    fn the_newest_point_always_stays() {
        let points = vec![row("old-pre", RestorePointKind::PreReset, 90, false)];
        let v = decide(&points, &settings(7), Utc::now());
        assert_eq!(v.reasons["old-pre"], vec!["newest"]);
    }
}
