//! Round trip: a random tree with pathological names is mirrored, changed, mirrored again, then
//! restored into an empty folder, which must equal the source byte for byte (names, contents,
//! mtimes to 2 s). On a plain folder and on a real exFAT drive (exfat-fuse on a loop device).

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use common::*;
use keepsake_mirror::{NoProgress, RestoreOptions, Selection, VerifyScope};
use proptest::prelude::*;

fn round_trip(drive: &Path, seed: u64) {
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    std::fs::create_dir(&src).expect("mkdir");
    gen_tree(&src, seed, 40);
    std::os::unix::fs::symlink("plain", src.join("link")).expect("symlink");
    let o = opts("2026-01-01T10:00:00Z");
    let r1 = mirror_one(drive, &src, &o).expect("first mirror");
    assert!(r1.skipped.iter().any(|s| s.path == "lib/link"), "symlink listed as skipped: {:?}", r1.skipped);
    assert_eq!(r1.files_copied, r1.files_total);

    // A second run with no change copies nothing.
    let r2 = mirror_one(drive, &src, &o).expect("second mirror");
    assert_eq!(r2.files_copied, 0, "{r2:?}");
    assert_eq!(r2.files_unchanged, r1.files_total);

    mutate_tree(&src, seed);
    let r3 = mirror_one(drive, &src, &opts("2026-01-02T10:00:00Z")).expect("third mirror");
    // And a run right after copies and sets aside nothing (the manifest of a run with deletions
    // carries tombstones, which must not confuse the next one).
    let r4 = mirror_one(drive, &src, &opts("2026-01-02T11:00:00Z")).expect("fourth mirror");
    assert_eq!((r4.files_copied, r4.files_set_aside, r4.files_unchanged), (0, 0, r3.files_total), "{r4:?}");
    let no = AtomicBool::new(false);
    let v = keepsake_mirror::verify(drive, VerifyScope::Full, &NoProgress, &no).expect("verify");
    assert_eq!(v.problem_count, 0, "{:?}", v.problems);
    assert_eq!(v.files_checked, r3.files_total);

    std::fs::remove_file(src.join("link")).expect("rm link");
    let dest = work.path().join("restored");
    let rr = keepsake_mirror::restore(drive, &Selection::All, &dest, &RestoreOptions::default(), &NoProgress, &no)
        .expect("restore");
    assert_eq!(rr.files_restored, r3.files_total);
    assert_same_tree(&src, &dest.join("lib"));

    // A second restore finds everything in place.
    let rr2 = keepsake_mirror::restore(drive, &Selection::All, &dest, &RestoreOptions::default(), &NoProgress, &no)
        .expect("restore again");
    assert_eq!((rr2.files_restored, rr2.files_unchanged), (0, r3.files_total));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn pathological_names_round_trip_on_a_plain_folder(seed in any::<u64>()) {
        let drive = tempfile::tempdir().expect("drive");
        round_trip(drive.path(), seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn pathological_names_round_trip_on_exfat(seed in any::<u64>()) {
        let d = Exfat::new("rt", 256);
        round_trip(&d.mnt, seed);
    }
}

/// A name that changed only its Unicode normalisation is not copied again, and NFC/NFD twins in one
/// folder both survive (exFAT on macOS would merge them).
#[test]
fn normalisation_changes_do_not_copy_again_and_twins_are_kept_apart() {
    let d = Exfat::new("nfc", 64);
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("src");
    std::fs::create_dir(&src).expect("mkdir");
    std::fs::write(src.join("caf\u{e9}.jpg"), b"one").expect("write");
    let o = opts("2026-01-01T10:00:00Z");
    mirror_one(&d.mnt, &src, &o).expect("mirror");
    // The copy on the drive carries the source's mtime (exfat-fuse needs atime set with it).
    let mt = |p: &std::path::Path| std::fs::metadata(p).expect("stat").modified().expect("mtime");
    let (a, b) = (mt(&src.join("caf\u{e9}.jpg")), mt(&d.mnt.join("lib/caf\u{e9}.jpg")));
    let diff = a.duration_since(b).or_else(|_| b.duration_since(a)).expect("diff");
    assert!(diff.as_secs() <= 2, "drive mtime {b:?} vs source {a:?}");
    let f = std::fs::File::open(src.join("caf\u{e9}.jpg")).expect("open");
    let t = f.metadata().expect("stat").modified().expect("mtime");
    drop(f);
    std::fs::rename(src.join("caf\u{e9}.jpg"), src.join("cafe\u{301}.jpg")).expect("rename to NFD");
    std::fs::File::options()
        .write(true)
        .open(src.join("cafe\u{301}.jpg"))
        .expect("open")
        .set_modified(t)
        .expect("mtime");
    let r = mirror_one(&d.mnt, &src, &o).expect("mirror NFD");
    assert_eq!((r.files_copied, r.files_unchanged), (0, 1), "{r:?}");
    // Now both forms at once: two distinct files on the drive.
    std::fs::write(src.join("caf\u{e9}.jpg"), b"two").expect("write");
    let r = mirror_one(&d.mnt, &src, &o).expect("mirror twins");
    assert_eq!(r.files_copied, 1, "{r:?}");
    let dest = work.path().join("out");
    let no = AtomicBool::new(false);
    keepsake_mirror::restore(&d.mnt, &Selection::All, &dest, &RestoreOptions::default(), &NoProgress, &no)
        .expect("restore");
    assert_same_tree(&src, &dest.join("lib"));
}
