//! A full drive, on a small real exFAT image: the free-space check refuses a run that cannot fit
//! (with the numbers) and changes nothing; a drive that fills up during the copies (ENOSPC) is
//! NoSpace too and the backup still verifies.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use common::*;
use keepsake_mirror::{MirrorError, NoProgress, Phase, Progress, RestoreOptions, Selection, Source, VerifyScope};

fn put(p: &Path, i: u64, len: usize) {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    let mut rng = Rng(i + 11);
    let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    std::fs::write(p, data).expect("write");
}

fn verify_clean(drive: &Path, files: u64) {
    let v = keepsake_mirror::verify(drive, VerifyScope::Full, &NoProgress, &AtomicBool::new(false)).expect("verify");
    assert_eq!((v.files_checked, v.problem_count), (files, 0), "{:?}", v.problems);
}

#[test]
fn a_run_that_cannot_fit_is_refused_with_numbers_and_changes_nothing() {
    let d = Exfat::new("full", 32);
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    for i in 0..10 {
        put(&src.join(format!("a/f{i}.bin")), i, 1 << 20);
    }
    mirror_one(&d.mnt, &src, &opts("2026-05-01T10:00:00Z")).expect("first mirror");
    let manifest = std::fs::read(d.mnt.join(".keepsake/manifest.v1")).expect("manifest");

    for i in 0..40 {
        put(&src.join(format!("b/g{i}.bin")), 100 + i, 1 << 20);
    }
    std::fs::remove_file(src.join("a/f0.bin")).expect("rm");
    std::fs::remove_file(src.join("a/f1.bin")).expect("rm");
    let err = mirror_one(&d.mnt, &src, &opts("2026-05-02T10:00:00Z")).expect_err("cannot fit");
    let MirrorError::NoSpace { needed, available } = err else { panic!("expected NoSpace, got {err:?}") };
    assert!(needed > 40 << 20 && available < needed && available > 0, "needed {needed}, available {available}");
    let msg = MirrorError::NoSpace { needed, available }.to_string();
    assert!(msg.contains(&needed.to_string()) && msg.contains(&available.to_string()), "{msg}");

    assert_eq!(std::fs::read(d.mnt.join(".keepsake/manifest.v1")).expect("manifest"), manifest, "manifest unchanged");
    assert!(!d.mnt.join(".keepsake/deleted").exists(), "nothing set aside");
    assert!(!d.mnt.join("lib/b").exists(), "nothing copied");
    assert!(d.mnt.join("lib/a/f0.bin").exists());
    verify_clean(&d.mnt, 10);
}

#[test]
fn a_drive_that_fills_up_during_the_copies_is_no_space_and_the_backup_still_verifies() {
    let d = Exfat::new("enospc", 32);
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    for i in 0..6 {
        put(&src.join(format!("a/f{i}.bin")), i, 1 << 20);
    }
    // Unchanged, and first in manifest order: its progress report comes before any copy is placed.
    put(&src.join("0keep.bin"), 99, 1000);
    mirror_one(&d.mnt, &src, &opts("2026-05-01T10:00:00Z")).expect("first mirror");
    for i in 0..6 {
        put(&src.join(format!("a/f{i}.bin")), 50 + i, (1 << 20) + 7); // changed
    }
    for i in 0..8 {
        put(&src.join(format!("b/g{i}.bin")), 100 + i, 1 << 20);
    }
    // Something else fills the drive once the copies have started.
    let filler = d.mnt.join("filler.bin");
    let filled = std::sync::Mutex::new(false);
    let sink = |p: &Progress| {
        let mut f = filled.lock().expect("lock");
        if !*f && p.phase == Phase::Copying {
            *f = true;
            let mut out = std::fs::File::create(&filler).expect("filler");
            let block = vec![0u8; 1 << 20];
            while out.write_all(&block).is_ok() {}
            let _ = out.sync_all();
        }
    };
    let sources = [Source { name: "lib".into(), root: src.clone() }];
    let mut o = opts("2026-05-02T10:00:00Z");
    o.threads = 1;
    let err = keepsake_mirror::mirror(&d.mnt, &sources, &o, &sink, &AtomicBool::new(false)).expect_err("drive full");
    assert!(*filled.lock().expect("lock"), "the filler ran");
    assert!(matches!(err, MirrorError::NoSpace { .. }), "expected NoSpace, got {err:?}");
    // Everything the drive says it holds is there and intact (old or new versions).
    verify_clean(&d.mnt, 7 + count_new(&d.mnt));

    std::fs::remove_file(&filler).expect("rm filler");
    let r = mirror_one(&d.mnt, &src, &opts("2026-05-02T11:00:00Z")).expect("rerun");
    assert_eq!(r.files_total, 15);
    verify_clean(&d.mnt, 15);
    let dest = work.path().join("out");
    keepsake_mirror::restore(
        &d.mnt,
        &Selection::All,
        &dest,
        &RestoreOptions::default(),
        &NoProgress,
        &AtomicBool::new(false),
    )
    .expect("restore");
    assert_same_tree(&src, &dest.join("lib"));
}

/// New files the interrupted run managed to record.
fn count_new(drive: &Path) -> u64 {
    keepsake_mirror::list(drive, "lib/b").map(|v| v.iter().map(|e| e.files).sum()).unwrap_or(0)
}
