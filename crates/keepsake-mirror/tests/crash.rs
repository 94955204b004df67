//! Runs that end badly, on a real exFAT drive: SIGKILL mid-copy, the drive pulled (lazy unmount)
//! and the FUSE daemon killed. Never a panic, never a partial file in place, never a damaged
//! manifest; the next run completes and the tree verifies.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::*;
use keepsake_mirror::{MirrorError, NoProgress, ProblemKind, Progress, RestoreOptions, Selection, Source, VerifyScope};

const CHILD_DRIVE: &str = "KEEPSAKE_MIRROR_TEST_CHILD_DRIVE";
const CHILD_SRC: &str = "KEEPSAKE_MIRROR_TEST_CHILD_SRC";
/// Big files (4 MiB each) in the kill test: more than one durability batch (256 MiB), so the
/// first batch is in place while the next is still being copied, however fast the drive.
const BIG: usize = 96;

/// Entry point of the child process of the kill test: a plain mirror run, killed by the parent.
/// Without the variables set (a normal test run) it does nothing.
#[test]
fn child_process_entry_for_the_kill_test() {
    let (Some(drive), Some(src)) = (std::env::var_os(CHILD_DRIVE), std::env::var_os(CHILD_SRC)) else { return };
    let o = opts("2026-04-01T10:00:00Z");
    let sources = [Source { name: "lib".into(), root: src.into() }];
    keepsake_mirror::mirror(Path::new(&drive), &sources, &o, &NoProgress, &AtomicBool::new(false))
        .expect("child mirror");
}

fn big_file(p: &Path, i: u64, mib: usize) {
    let mut rng = Rng(i * 7919 + 1);
    let block: Vec<u8> = (0..1 << 16).map(|_| rng.next() as u8).collect();
    let mut data = Vec::with_capacity(mib << 20);
    for k in 0..(mib << 4) {
        data.extend(block.iter().map(|b| b.wrapping_add(k as u8)));
    }
    std::fs::write(p, data).expect("write big file");
}

fn is_temporary(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.to_ascii_lowercase().starts_with(".keepsake-partial-"))
}

/// The files in place under `dir`: temporary copies beside them are not.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    if dir.exists() {
        walk(dir, &mut |p, is_dir| {
            if !is_dir && !is_temporary(p) {
                v.push(p.to_path_buf())
            }
        });
    }
    v
}

/// Temporary copies anywhere on the drive, with their sizes.
fn temporary_copies(drive: &Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut v = Vec::new();
    walk(drive, &mut |p, is_dir| {
        if !is_dir && is_temporary(p) {
            v.push((p.to_path_buf(), std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)))
        }
    });
    v
}

/// After a run that ended (or its rerun): no temporary copy is left and the list of folders that
/// could hold them is gone.
fn assert_no_temporary_copies(drive: &Path) {
    let left = temporary_copies(drive);
    assert!(left.is_empty(), "temporary copies left on the drive: {left:?}");
    assert!(!drive.join(".keepsake/partials").exists(), "the list of folders with temporary copies was kept");
}

/// Every file visible in the mirrored folder is a complete copy of its source, as it is now or as
/// it was at the previous run (`before`).
fn assert_no_partial_files(drive: &Path, src: &Path, before: &dyn Fn(&Path) -> Option<Vec<u8>>) {
    for f in files_under(&drive.join("lib")) {
        let rel = f.strip_prefix(drive.join("lib")).expect("under lib");
        let a = std::fs::read(&f).expect("read drive copy");
        let b = std::fs::read(src.join(rel)).unwrap_or_default();
        assert!(
            a == b || Some(&a) == before(rel).as_ref(),
            "{} on the drive is not a complete copy ({} of {} bytes)",
            rel.display(),
            a.len(),
            b.len()
        );
    }
}

fn verify_clean(drive: &Path) -> keepsake_mirror::VerifyReport {
    let v = keepsake_mirror::verify(drive, VerifyScope::Full, &NoProgress, &AtomicBool::new(false)).expect("verify");
    assert_eq!(v.problem_count, 0, "{:?}", v.problems);
    v
}

#[test]
fn sigkill_mid_copy_leaves_no_partial_file_and_the_rerun_completes() {
    let d = Exfat::new("kill", 1024);
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    for i in 0..40 {
        put_small(&src.join(format!("small/s{i:02}.txt")), &format!("small {i}"));
    }
    mirror_one(&d.mnt, &src, &opts("2026-04-01T09:00:00Z")).expect("first mirror");
    // Changed files and many big new ones, so the kill lands in the middle of the copies.
    for i in 0..10 {
        put_small(&src.join(format!("small/s{i:02}.txt")), &format!("changed {i} with more bytes"));
    }
    for i in 0..BIG as u64 {
        std::fs::create_dir_all(src.join("big")).expect("mkdir");
        big_file(&src.join(format!("big/b{i:02}.bin")), i, 4);
    }
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--exact", "child_process_entry_for_the_kill_test", "--nocapture", "--test-threads=1"])
        .env(CHILD_DRIVE, &d.mnt)
        .env(CHILD_SRC, &src)
        .spawn()
        .expect("spawn child");
    let start = Instant::now();
    loop {
        // Copies are placed in batches (one durability barrier per second or so): kill right
        // after the first batch, while the next ones are being copied.
        let placed = files_under(&d.mnt.join("lib/big")).len();
        if placed >= 3 {
            break;
        }
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("the child finished ({status}) before it could be killed: make the test tree bigger");
        }
        assert!(start.elapsed() < Duration::from_secs(120), "the child never started copying big files");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let placed = files_under(&d.mnt.join("lib/big")).len();
    assert!(placed < BIG, "all {BIG} big files were in place before the kill: make the test tree bigger");

    assert!(d.mnt.join(".keepsake/journal").exists(), "the killed run left its journal");
    // Whatever copies were under way are listed for the next run to remove.
    let listed = std::fs::read_to_string(d.mnt.join(".keepsake/partials")).expect("the killed run's list of folders");
    for (t, _) in temporary_copies(&d.mnt) {
        let folder = t.parent().and_then(|f| f.strip_prefix(&d.mnt).ok()).expect("on the drive");
        assert!(
            listed.lines().any(|l| Path::new(l) == folder),
            "{} is in a folder the list does not name: {listed:?}",
            t.display()
        );
    }
    let before = |rel: &Path| {
        let name = rel.to_str()?.strip_prefix("small/s")?.strip_suffix(".txt")?;
        Some(format!("small {}", name.parse::<u32>().ok()?).into_bytes())
    };
    assert_no_partial_files(&d.mnt, &src, &before);
    // What the drive holds verifies already (manifest + journal); the only allowed difference is a
    // changed file renamed into place in the instant before its journal line was written.
    let v = keepsake_mirror::verify(&d.mnt, VerifyScope::Full, &NoProgress, &AtomicBool::new(false))
        .expect("verify after kill");
    for p in &v.problems {
        let rel = p.path.strip_prefix("lib/").expect("lib/");
        let same_as_new = std::fs::read(d.mnt.join("lib").join(rel)).ok() == std::fs::read(src.join(rel)).ok();
        assert!(p.kind == ProblemKind::HashDiffers && same_as_new, "after the kill: {p:?}");
    }

    let r = mirror_one(&d.mnt, &src, &opts("2026-04-01T10:05:00Z")).expect("rerun");
    assert!(!d.mnt.join(".keepsake/journal").exists());
    assert!(r.files_copied <= (BIG - placed + 10) as u64, "the rerun copied again what was in place: {r:?}");
    assert_eq!(r.files_total, BIG as u64 + 40);
    let v = verify_clean(&d.mnt);
    assert_eq!(v.files_checked, BIG as u64 + 40);
    assert_no_temporary_copies(&d.mnt);
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

fn put_small(p: &Path, s: &str) {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, s).expect("write");
}

/// Mirrors with a progress sink that runs `pull` once, after the first copies are in place.
fn mirror_and_pull(
    drive: &Path,
    src: &Path,
    pull: &(dyn Fn() + Sync),
) -> Result<keepsake_mirror::MirrorReport, MirrorError> {
    let done = std::sync::Mutex::new(false);
    let sink = |p: &Progress| {
        let mut d = done.lock().expect("lock");
        // Bytes, not placed files: copies are placed in batches, and on a fast run the first
        // report with a placed file can be the last one, after the manifest is written.
        if !*d && p.phase == keepsake_mirror::Phase::Copying && p.bytes_copied >= 16 << 20 {
            *d = true;
            pull();
        }
    };
    let sources = [Source { name: "lib".into(), root: src.to_path_buf() }];
    let mut o = opts("2026-04-02T10:00:00Z");
    o.threads = 1;
    keepsake_mirror::mirror(drive, &sources, &o, &sink, &AtomicBool::new(false))
}

fn drive_gone_then_rerun(tag: &str, kill_daemon: bool) {
    let mut d = Exfat::new(tag, 256);
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    for i in 0..5 {
        put_small(&src.join(format!("old/o{i}.txt")), &format!("old {i}"));
    }
    mirror_one(&d.mnt, &src, &opts("2026-04-02T09:00:00Z")).expect("first mirror");
    // Enough data that the pull lands well before the end (copies are placed in batches).
    for i in 0..40 {
        std::fs::create_dir_all(src.join("big")).expect("mkdir");
        big_file(&src.join(format!("big/b{i:02}.bin")), i, 4);
    }
    let mnt = d.mnt.clone();
    let pid = d.fuse_pid().expect("the exfat-fuse daemon of this mount");
    let pull = || {
        if kill_daemon {
            // SAFETY: a plain signal to the FUSE daemon this test started (found by its exact command line).
            unsafe { libc_kill(pid) };
        } else {
            let ok = Command::new("umount").arg("-l").arg(&mnt).status().expect("umount -l").success();
            assert!(ok, "umount -l");
        }
    };
    let res = mirror_and_pull(&d.mnt, &src, &pull);
    match &res {
        Err(MirrorError::DriveGone { .. }) => {}
        Err(MirrorError::Drive { .. }) => {}
        other => panic!("expected DriveGone, got {other:?}"),
    }
    // Nothing was written where the drive was: a pulled drive leaves its empty mount point behind,
    // and copies made there would land on the appliance's own disk.
    if !kill_daemon {
        let beneath: Vec<_> = std::fs::read_dir(&d.mnt).expect("mount point").flatten().map(|e| e.path()).collect();
        assert!(beneath.is_empty(), "the run wrote onto the mount point of the pulled drive: {beneath:?}");
    }
    // Plug the drive in again.
    d.mark_unmounted();
    let _ = Command::new("umount").arg("-l").arg(&d.mnt).output();
    let start = Instant::now();
    while d.fuse_pid().is_some() {
        assert!(start.elapsed() < Duration::from_secs(30), "the old exfat-fuse daemon does not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    d.mount();
    let s = keepsake_mirror::summary(&d.mnt).expect("the manifest is readable").expect("a backup");
    assert!(s.files >= 5, "{s:?}");
    if !kill_daemon {
        // A clean detach: what the drive says it holds is there.
        verify_clean(&d.mnt);
    }
    let r = mirror_one(&d.mnt, &src, &opts("2026-04-02T10:10:00Z")).expect("rerun");
    assert_eq!(r.files_total, 45);
    let v = verify_clean(&d.mnt);
    assert_eq!(v.files_checked, 45);
    assert_no_temporary_copies(&d.mnt);
}

unsafe fn libc_kill(pid: i32) {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    unsafe { kill(pid, 9) };
}

#[test]
fn a_drive_pulled_mid_run_is_drive_gone_and_the_rerun_completes() {
    drive_gone_then_rerun("pull", false);
}

#[test]
fn a_dead_fuse_daemon_is_drive_gone_and_the_rerun_completes() {
    drive_gone_then_rerun("fusekill", true);
}

#[test]
fn cancel_inside_a_big_file_stops_cleanly_and_the_rerun_completes() {
    let drive = tempfile::tempdir().expect("drive");
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    for i in 0..3 {
        put_small(&src.join(format!("s{i}.txt")), "small");
    }
    mirror_one(drive.path(), &src, &opts("2026-04-03T09:00:00Z")).expect("first mirror");
    std::fs::create_dir_all(src.join("big")).expect("mkdir");
    for i in 0..3 {
        big_file(&src.join(format!("big/b{i}.bin")), i, 96);
    }
    let cancel = AtomicBool::new(false);
    let res = std::thread::scope(|s| {
        s.spawn(|| {
            // Cancel once a copy is well under way (more than 16 MiB written to a temporary file).
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(60) {
                if temporary_copies(drive.path()).iter().any(|(_, len)| *len > 16 << 20) {
                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let sources = [Source { name: "lib".into(), root: src.clone() }];
        keepsake_mirror::mirror(drive.path(), &sources, &opts("2026-04-03T10:00:00Z"), &NoProgress, &cancel)
    });
    assert!(matches!(res, Err(MirrorError::Cancelled)), "expected Cancelled, got {res:?}");
    assert_no_temporary_copies(drive.path());
    assert!(!drive.path().join(".keepsake/journal").exists(), "journal folded into the manifest");
    let v = verify_clean(drive.path());
    assert!(v.files_checked >= 3);
    let r = mirror_one(drive.path(), &src, &opts("2026-04-03T10:05:00Z")).expect("rerun");
    assert_eq!(r.files_total, 6);
    assert_eq!(verify_clean(drive.path()).files_checked, 6);
    assert_no_temporary_copies(drive.path());
}

/// A power cut can lose the last lines of `.keepsake/partials` while a temporary copy's folder
/// entry survives: after an interrupted run every folder the backup holds is looked at too. A
/// source file named like a temporary copy is backed up under an escaped name and never removed.
#[test]
fn after_an_interrupted_run_leftovers_unlisted_by_a_power_cut_are_removed_and_lookalike_files_kept() {
    let d = Exfat::new("powercut", 64);
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    put_small(&src.join("a/photo.jpg"), "photo");
    put_small(&src.join("a/.keepsake-partial-1-1"), "a user's file with an unlucky name");
    put_small(&src.join("b/c/deep.jpg"), "deep");
    mirror_one(&d.mnt, &src, &opts("2026-04-04T09:00:00Z")).expect("first mirror");
    assert!(d.mnt.join("lib/a/%2Ekeepsake-partial-1-1").is_file(), "the lookalike is stored escaped");
    // What a power cut can leave: copies under way, their folders unlisted, and the journal.
    std::fs::write(d.mnt.join("lib/a/.keepsake-partial-77-1"), b"half a photo").expect("stray");
    std::fs::write(d.mnt.join("lib/b/c/.KEEPSAKE-PARTIAL-77-2"), b"half a photo").expect("stray");
    std::fs::copy(d.mnt.join(".keepsake/manifest.v1"), d.mnt.join(".keepsake/journal")).expect("journal");
    let r = mirror_one(&d.mnt, &src, &opts("2026-04-04T10:00:00Z")).expect("rerun");
    assert_eq!((r.files_total, r.files_copied), (3, 0), "{r:?}");
    assert_no_temporary_copies(&d.mnt);
    assert_eq!(verify_clean(&d.mnt).files_checked, 3);
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
