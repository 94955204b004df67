//! Deleted files are set aside and purged after N days; verify finds damaged, truncated and
//! missing copies; list, summary and partial restores work from the drive alone.

mod common;

use std::sync::atomic::AtomicBool;

use common::*;
use keepsake_mirror::{NoProgress, ProblemKind, RestoreOptions, Selection, VerifyScope};

fn put(p: &std::path::Path, data: &[u8]) {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, data).expect("write");
}

#[test]
fn deletions_are_set_aside_then_purged_after_the_kept_days() {
    let drive = tempfile::tempdir().expect("drive");
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    put(&src.join("keep.jpg"), b"keep");
    put(&src.join("gone?.jpg"), b"gone file");
    put(&src.join("album/a.jpg"), b"a");
    put(&src.join("album/sub/b.jpg"), b"b");
    let mut o = opts("2026-03-01T10:00:00Z");
    o.keep_deleted_days = 7;
    mirror_one(drive.path(), &src, &o).expect("mirror");

    std::fs::remove_file(src.join("gone?.jpg")).expect("rm");
    std::fs::remove_dir_all(src.join("album")).expect("rm dir");
    let r = mirror_one(drive.path(), &src, &o).expect("mirror after deletes");
    assert_eq!((r.files_set_aside, r.files_purged, r.files_total), (3, 0, 1), "{r:?}");
    let day = drive.path().join(".keepsake/deleted/2026-03-01");
    assert_eq!(std::fs::read(day.join("lib/gone%3F.jpg")).expect("set aside file"), b"gone file");
    assert_eq!(std::fs::read(day.join("lib/album/sub/b.jpg")).expect("set aside folder"), b"b");
    assert!(!drive.path().join("lib/album").exists());
    let index = std::fs::read_to_string(day.join("index.txt")).expect("index");
    assert!(index.contains("lib/gone?.jpg\tlib/gone%3F.jpg"), "{index}");
    assert!(index.contains("lib/album/sub/b.jpg"), "{index}");
    let listing = keepsake_mirror::list(drive.path(), "lib").expect("list");
    assert_eq!(listing.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["keep.jpg"]);

    // A file deleted again the same day does not overwrite the first one set aside.
    put(&src.join("gone?.jpg"), b"second life");
    mirror_one(drive.path(), &src, &o).expect("mirror re-added");
    std::fs::remove_file(src.join("gone?.jpg")).expect("rm");
    mirror_one(drive.path(), &src, &o).expect("mirror deleted again");
    assert_eq!(std::fs::read(day.join("lib/gone%3F.jpg")).expect("first"), b"gone file");
    assert_eq!(std::fs::read(day.join("lib/gone%3F~2.jpg")).expect("second"), b"second life");
    let index = std::fs::read_to_string(day.join("index.txt")).expect("index");
    assert!(index.contains("lib/gone?.jpg\tlib/gone%3F~2.jpg\t11\t"), "the index says where it went: {index}");

    let mut later = opts("2026-03-07T10:00:00Z");
    later.keep_deleted_days = 7;
    let r = mirror_one(drive.path(), &src, &later).expect("six days later");
    assert_eq!(r.files_purged, 0);
    assert!(day.exists());
    let mut later = opts("2026-03-08T10:00:00Z");
    later.keep_deleted_days = 7;
    let r = mirror_one(drive.path(), &src, &later).expect("seven days later");
    assert_eq!(r.files_purged, 4, "{r:?}");
    assert!(!day.exists());
    let no = AtomicBool::new(false);
    let v = keepsake_mirror::verify(drive.path(), VerifyScope::Full, &NoProgress, &no).expect("verify");
    assert_eq!((v.files_checked, v.problem_count), (1, 0));
}

#[test]
fn verify_finds_a_flipped_byte_a_truncated_file_and_a_missing_file() {
    let d = Exfat::new("verify", 64);
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    for i in 0..10 {
        put(&src.join(format!("d/f{i}.bin")), &vec![i as u8; 10_000 + i]);
    }
    mirror_one(&d.mnt, &src, &opts("2026-03-01T10:00:00Z")).expect("mirror");
    let no = AtomicBool::new(false);
    let v = keepsake_mirror::verify(&d.mnt, VerifyScope::Full, &NoProgress, &no).expect("verify");
    assert_eq!((v.files_checked, v.problem_count), (10, 0));

    let f1 = d.mnt.join("lib/d/f1.bin");
    let mut data = std::fs::read(&f1).expect("read");
    data[5000] ^= 0x10;
    std::fs::write(&f1, data).expect("flip");
    std::fs::File::options()
        .write(true)
        .open(d.mnt.join("lib/d/f2.bin"))
        .expect("open")
        .set_len(100)
        .expect("truncate");
    std::fs::remove_file(d.mnt.join("lib/d/f3.bin")).expect("rm");

    let v = keepsake_mirror::verify(&d.mnt, VerifyScope::Full, &NoProgress, &no).expect("verify");
    assert_eq!(v.problem_count, 3, "{:?}", v.problems);
    let kinds: Vec<(String, ProblemKind)> = v.problems.iter().map(|p| (p.path.clone(), p.kind.clone())).collect();
    assert!(kinds.contains(&("lib/d/f1.bin".into(), ProblemKind::HashDiffers)), "{kinds:?}");
    assert!(
        kinds.contains(&("lib/d/f2.bin".into(), ProblemKind::SizeDiffers { expected: 10_002, found: 100 })),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("lib/d/f3.bin".into(), ProblemKind::Missing)), "{kinds:?}");

    let all = keepsake_mirror::verify(&d.mnt, VerifyScope::Sample { percent: 100, seed: 1 }, &NoProgress, &no)
        .expect("sample");
    assert_eq!((all.files_checked, all.problem_count), (10, 3));
    let none =
        keepsake_mirror::verify(&d.mnt, VerifyScope::Sample { percent: 0, seed: 1 }, &NoProgress, &no).expect("sample");
    assert_eq!(none.files_checked, 0);
    let some = keepsake_mirror::verify(&d.mnt, VerifyScope::Sample { percent: 50, seed: 9 }, &NoProgress, &no)
        .expect("sample");
    let again = keepsake_mirror::verify(&d.mnt, VerifyScope::Sample { percent: 50, seed: 9 }, &NoProgress, &no)
        .expect("sample");
    assert_eq!(some, again, "a sample is reproducible from its seed");

    // Restoring the damaged file is an error naming it; healthy files restore.
    let dest = work.path().join("out");
    let err = keepsake_mirror::restore(
        &d.mnt,
        &Selection::Paths(vec!["lib/d/f1.bin".into()]),
        &dest,
        &RestoreOptions::default(),
        &NoProgress,
        &no,
    )
    .expect_err("damaged copy");
    assert!(err.to_string().contains("lib/d/f1.bin"), "{err}");
    assert!(!dest.join("lib/d/f1.bin").exists(), "no partial file left");
    let ok = keepsake_mirror::restore(
        &d.mnt,
        &Selection::Paths(vec!["lib/d/f4.bin".into()]),
        &dest,
        &RestoreOptions::default(),
        &NoProgress,
        &no,
    )
    .expect("restore one");
    assert_eq!(ok.files_restored, 1);

    // The next mirror run copies the damaged files again, though their sources did not change.
    let r = mirror_one(&d.mnt, &src, &opts("2026-03-02T10:00:00Z")).expect("repairing mirror");
    assert_eq!((r.files_copied, r.files_unchanged), (3, 7), "{r:?}");
    let v = keepsake_mirror::verify(&d.mnt, VerifyScope::Full, &NoProgress, &no).expect("verify");
    assert_eq!((v.files_checked, v.problem_count), (10, 0), "{:?}", v.problems);
    assert!(!d.mnt.join(".keepsake/damaged").exists());
    let s = keepsake_mirror::summary(&d.mnt).expect("summary").expect("a backup");
    assert_eq!((s.files, s.sources.clone(), s.written_by.as_deref()), (10, vec!["lib".to_string()], Some("test")));
}

#[test]
fn restore_of_a_folder_keeps_differing_files_unless_told_to_overwrite() {
    let drive = tempfile::tempdir().expect("drive");
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    put(&src.join("a/x.jpg"), b"x");
    put(&src.join("a/y.jpg"), b"y");
    put(&src.join("b/z.jpg"), b"z");
    mirror_one(drive.path(), &src, &opts("2026-03-01T10:00:00Z")).expect("mirror");
    let dest = work.path().join("out");
    put(&dest.join("lib/a/x.jpg"), b"local edit");
    let no = AtomicBool::new(false);
    let sel = Selection::Paths(vec!["lib/a/".into()]);
    let r = keepsake_mirror::restore(drive.path(), &sel, &dest, &RestoreOptions { overwrite: false }, &NoProgress, &no)
        .expect("restore");
    assert_eq!((r.files_restored, r.conflicts.clone()), (1, vec!["lib/a/x.jpg".to_string()]));
    assert_eq!(std::fs::read(dest.join("lib/a/x.jpg")).expect("read"), b"local edit");
    assert!(!dest.join("lib/b").exists());
    let r = keepsake_mirror::restore(drive.path(), &sel, &dest, &RestoreOptions { overwrite: true }, &NoProgress, &no)
        .expect("restore");
    assert_eq!((r.files_restored, r.files_unchanged), (1, 1));
    assert_eq!(std::fs::read(dest.join("lib/a/x.jpg")).expect("read"), b"x");
    let top = keepsake_mirror::list(drive.path(), "").expect("list");
    assert_eq!((top.len(), top[0].name.as_str(), top[0].files, top[0].dir), (1, "lib", 3, true));
    assert!(keepsake_mirror::summary(work.path()).expect("summary").is_none());
    assert!(matches!(keepsake_mirror::list(work.path(), ""), Err(keepsake_mirror::MirrorError::NotABackup { .. })));
}

#[test]
fn a_source_renamed_only_in_case_keeps_its_folder_and_the_other_sources_are_untouched() {
    use keepsake_mirror::Source;
    let d = Exfat::new("srccase", 64);
    let work = tempfile::tempdir().expect("work");
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    put(&a.join("x.jpg"), b"x");
    put(&b.join("y.jpg"), b"y");
    let no = AtomicBool::new(false);
    let o = opts("2026-03-01T10:00:00Z");
    let run = |names: [&str; 2]| {
        let sources =
            [Source { name: names[0].into(), root: a.clone() }, Source { name: names[1].into(), root: b.clone() }];
        keepsake_mirror::mirror(&d.mnt, &sources, &o, &NoProgress, &no).expect("mirror")
    };
    run(["Library", "upload"]);
    let r = run(["library", "upload"]);
    assert_eq!((r.files_copied, r.files_set_aside, r.files_unchanged), (0, 0, 2), "{r:?}");
    let dest = work.path().join("out");
    keepsake_mirror::restore(&d.mnt, &Selection::All, &dest, &RestoreOptions::default(), &NoProgress, &no)
        .expect("restore");
    assert_eq!(std::fs::read(dest.join("library/x.jpg")).expect("renamed source restored"), b"x");
    assert_eq!(std::fs::read(dest.join("upload/y.jpg")).expect("other source"), b"y");
    let s = keepsake_mirror::summary(&d.mnt).expect("summary").expect("backup");
    assert_eq!(s.sources, ["library", "upload"]);
    // Dropping a source sets its folder aside (purged later), it does not vanish at once.
    let sources = [Source { name: "upload".into(), root: b.clone() }];
    let r = keepsake_mirror::mirror(&d.mnt, &sources, &o, &NoProgress, &no).expect("mirror");
    assert_eq!(r.files_set_aside, 1);
    assert!(d.mnt.join(".keepsake/deleted/2026-03-01/Library/x.jpg").exists());
}

#[test]
fn progress_is_throttled_ordered_and_shows_big_copies_moving() {
    use keepsake_mirror::{Phase, Progress, Source};
    let drive = tempfile::tempdir().expect("drive");
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    for i in 0..200 {
        put(&src.join(format!("d{}/f{i}.txt", i % 7)), b"small");
    }
    let big: Vec<u8> = (0..(64u32 << 20) / 4).flat_map(|i| i.to_le_bytes()).collect();
    put(&src.join("big.bin"), &big);
    let seen = std::sync::Mutex::new(Vec::<(std::time::Instant, Progress)>::new());
    let sink = |p: &Progress| seen.lock().expect("lock").push((std::time::Instant::now(), p.clone()));
    let start = std::time::Instant::now();
    let sources = [Source { name: "lib".into(), root: src.clone() }];
    let mut o = opts("2026-03-01T10:00:00Z");
    o.verify_written = false;
    let r = keepsake_mirror::mirror(drive.path(), &sources, &o, &sink, &AtomicBool::new(false)).expect("mirror");
    let secs = start.elapsed().as_secs_f64();
    let seen = seen.into_inner().expect("lock");
    let phases: Vec<Phase> = seen.iter().map(|(_, p)| p.phase).collect();
    assert_eq!(phases.first(), Some(&Phase::Scanning));
    assert_eq!(phases.last(), Some(&Phase::Done));
    let last = &seen.last().expect("reports").1;
    assert_eq!((last.files_total, last.bytes_total, last.files_copied), (201, r.bytes_total, 201));
    assert!((seen.len() as f64) <= secs * 10.0 + 10.0, "{} reports in {secs:.1} s", seen.len());
    let copying: Vec<&Progress> = seen.iter().map(|(_, p)| p).filter(|p| p.phase == Phase::Copying).collect();
    assert!(copying.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done), "bytes_done never goes back");
    assert!(copying.iter().all(|p| p.bytes_done <= p.bytes_total && p.files_total == 201));
    if secs > 0.5 {
        // The big copy shows up before it is finished and placed.
        assert!(copying.iter().any(|p| p.bytes_copied > 0 && p.bytes_copied < big.len() as u64), "{copying:?}");
    }
}

#[test]
fn a_drive_inside_a_source_is_not_copied_into_itself() {
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    put(&src.join("a.jpg"), b"a");
    let drive = src.join("mnt/drive");
    std::fs::create_dir_all(&drive).expect("mkdir");
    let r = mirror_one(&drive, &src, &opts("2026-03-01T10:00:00Z")).expect("mirror");
    assert!(r.skipped.iter().any(|s| s.path == "lib/mnt/drive"), "{:?}", r.skipped);
    assert_eq!(r.files_total, 1);
    assert!(!drive.join("lib/mnt/drive/lib").exists());
}

#[test]
fn a_lost_manifest_is_rebuilt_without_copying_again() {
    let d = Exfat::new("lost", 64);
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    for i in 0..20 {
        put(&src.join(format!("d/f{i}?.txt")), format!("file {i}").as_bytes());
    }
    mirror_one(&d.mnt, &src, &opts("2026-03-01T10:00:00Z")).expect("mirror");
    // A damaged manifest is a clear error...
    let m = d.mnt.join(".keepsake/manifest.v1");
    let text = std::fs::read_to_string(&m).expect("manifest");
    std::fs::write(&m, &text[..text.len() / 2]).expect("truncate");
    let err = mirror_one(&d.mnt, &src, &opts("2026-03-01T11:00:00Z")).expect_err("damaged manifest");
    assert!(err.to_string().contains("move it aside"), "{err}");
    // ...and once it is moved aside, the copies on the drive are adopted after a content check.
    std::fs::remove_file(&m).expect("rm");
    let r = mirror_one(&d.mnt, &src, &opts("2026-03-01T12:00:00Z")).expect("mirror");
    assert_eq!((r.files_copied, r.files_unchanged), (0, 20), "{r:?}");
    let no = AtomicBool::new(false);
    let v = keepsake_mirror::verify(&d.mnt, VerifyScope::Full, &NoProgress, &no).expect("verify");
    assert_eq!((v.files_checked, v.problem_count), (20, 0));
}

#[test]
fn a_file_deleted_and_put_back_unchanged_comes_back_from_deleted_without_a_copy() {
    let d = Exfat::new("revive", 64);
    let work = tempfile::tempdir().expect("work");
    let src = work.path().join("src");
    put(&src.join("album/a?.jpg"), b"photo a");
    put(&src.join("album/b.jpg"), b"photo b");
    let o = opts("2026-03-01T10:00:00Z");
    mirror_one(&d.mnt, &src, &o).expect("mirror");
    // "Delete" the album (moved to Immich's trash), back up, then restore it from the trash.
    let trash = work.path().join("trash");
    std::fs::rename(src.join("album"), &trash).expect("to trash");
    let r = mirror_one(&d.mnt, &src, &o).expect("mirror after delete");
    assert_eq!(r.files_set_aside, 2);
    std::fs::rename(&trash, src.join("album")).expect("from trash");
    put(&src.join("album/b.jpg"), b"photo B"); // this one did change
    let r = mirror_one(&d.mnt, &src, &opts("2026-03-02T10:00:00Z")).expect("mirror after undo");
    assert_eq!((r.files_copied, r.files_unchanged), (1, 1), "{r:?}");
    assert!(!d.mnt.join(".keepsake/deleted/2026-03-01/lib/album/a%3F.jpg").exists(), "moved back");
    assert_eq!(std::fs::read(d.mnt.join("lib/album/a%3F.jpg")).expect("back in place"), b"photo a");
    let no = AtomicBool::new(false);
    let v = keepsake_mirror::verify(&d.mnt, VerifyScope::Full, &NoProgress, &no).expect("verify");
    assert_eq!((v.files_checked, v.problem_count), (2, 0), "{:?}", v.problems);
    let dest = work.path().join("out");
    keepsake_mirror::restore(&d.mnt, &Selection::All, &dest, &RestoreOptions::default(), &NoProgress, &no)
        .expect("restore");
    assert_same_tree(&src, &dest.join("lib"));
}
