//! Every fixture in `tests/fixtures/` (see its README for where each came from), parsed.

use std::path::Path;

use keepsake_zpool::{Counters, DataErrors, PoolStatus, Section, State, parse_list, parse_status};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn one(name: &str) -> PoolStatus {
    let mut pools = parse_status(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(pools.len(), 1, "{name}");
    pools.remove(0)
}

fn c(read: u64, write: u64, checksum: u64) -> Counters {
    Counters { read, write, checksum }
}

#[test]
fn every_fixture_is_listed_in_the_readme_and_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name == "README.md" {
            continue;
        }
        assert!(readme.contains(&format!("`{name}`")), "{name} is not described in the README");
        let text = fixture(&name);
        if name.contains("zfs-list") {
            assert!(!parse_list(&text).unwrap().is_empty(), "{name}");
        } else {
            assert!(!parse_status(&text).unwrap().is_empty(), "{name}");
        }
    }
}

#[test]
fn openzfs_two_healthy_pools_with_logs_cache_and_a_spare() {
    let pools = parse_status(&fixture("openzfs-2.2-healthy-two-pools-p.txt")).unwrap();
    assert_eq!(pools.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["rpool", "tank"]);
    for p in &pools {
        assert_eq!(p.state, State::Online);
        assert_eq!(p.totals(), Counters::default());
        assert_eq!(p.errors, DataErrors::None);
        assert_eq!((p.status.as_ref(), p.action.as_ref()), (None, None));
        assert!(p.counters_exact());
    }
    let tank = &pools[1];
    assert_eq!(tank.scan.as_deref(), Some("scrub repaired 0B in 05:41:07 with 0 errors on Sun Mar  9 06:05:08 2025"));
    let sections: Vec<(&str, usize, &Section)> =
        tank.config.iter().map(|v| (v.name.as_str(), v.depth, &v.section)).collect();
    assert_eq!(
        sections,
        [
            ("tank", 0, &Section::Data),
            ("mirror-0", 1, &Section::Data),
            ("ata-ST8000VN004-2M2101_WSD1AAAA", 2, &Section::Data),
            ("ata-ST8000VN004-2M2101_WSD1BBBB", 2, &Section::Data),
            ("nvme-INTEL_SSDPEL1K100GA_PHKM0000000100A-part1", 1, &Section::Logs),
            ("nvme-INTEL_SSDPEL1K100GA_PHKM0000000100A-part2", 1, &Section::Cache),
            ("ata-ST8000VN004-2M2101_WSD1CCCC", 1, &Section::Spares),
        ]
    );
    let spare = tank.config.last().unwrap();
    assert_eq!((&spare.state, spare.errors, &spare.note), (&State::Other("AVAIL".into()), None, &None));
}

#[test]
fn openzfs_mirror_with_checksum_errors_repaired_by_a_scrub() {
    let p = one("openzfs-2.2-mirror-checksum-repaired-p.txt");
    assert_eq!(p.state, State::Online);
    assert_eq!(p.totals(), c(0, 0, 24));
    assert_eq!(p.errors, DataErrors::None);
    assert!(p.status.as_deref().unwrap().contains("\nattempt was made to correct the error."));
    assert_eq!(p.see.as_deref(), Some("https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-9P"));
    assert!(p.detail().contains("zpool clear"));
}

#[test]
fn openzfs_degraded_raidz_resilvering_with_abbreviated_counters() {
    let p = one("openzfs-2.2-raidz-degraded-resilvering.txt");
    assert_eq!(p.state, State::Degraded);
    assert_eq!(p.scan.as_deref().unwrap().lines().count(), 3);
    assert!(p.scan.as_deref().unwrap().ends_with("11.90% done, 03:31:18 to go"));
    let old = p.config.iter().find(|v| v.name == "4820194762394862411").unwrap();
    assert_eq!((old.depth, &old.state, old.note.as_deref()), (3, &State::Unavail, Some("was /dev/sdb1")));
    assert_eq!(old.errors, Some(c(1228, 98, 3 << 20)));
    assert!(!old.exact);
    let new = p.config.iter().find(|v| v.name == "sde").unwrap();
    assert_eq!(new.note.as_deref(), Some("(resilvering)"));
    // replacing-1 and raidz1-0 show 0: the sums of the disks below count.
    assert_eq!(p.totals(), c(1228, 98, (3 << 20) + 1075));
    assert!(!p.counters_exact());
}

#[test]
fn openzfs_permanent_errors_listed_with_dash_v() {
    let p = one("openzfs-2.2-single-disk-permanent-errors-pv.txt");
    assert_eq!(p.state, State::Online);
    // The disk and the pool row both show the same 6 errors: counted once.
    assert_eq!(p.totals(), c(0, 0, 6));
    assert_eq!(
        p.errors,
        DataErrors::Files(vec![
            "/backup/photos/2019/IMG_0412.JPG".into(),
            "backup/photos@autosnap_2025-03-01_00:00:01_daily:/2019/IMG_0412.JPG".into(),
            "backup/library:<0x2e1>".into(),
        ])
    );
    assert!(p.errors.any());
    assert_eq!(p.config[1].name, "usb-WD_Elements_25A3_575834314141-0:0");
}

#[test]
fn openzfs_faulted_disk_in_a_mirror_with_a_data_error_count() {
    let p = one("openzfs-2.2-mirror-faulted-data-errors-p.txt");
    assert_eq!(p.state, State::Degraded);
    assert_eq!(p.errors, DataErrors::Count(2));
    let faulted = &p.config[2];
    assert_eq!((&faulted.state, faulted.note.as_deref()), (&State::Faulted, Some("too many errors")));
    assert_eq!(p.config[3].note.as_deref(), Some("(repairing)"));
    // Disks: 41 read + 4 checksum; the mirror's own 4 and the pool's 2 are the same errors.
    assert_eq!(p.totals(), c(41, 0, 4));
    assert!(p.status.as_deref().unwrap().ends_with("degraded state."));
    assert_eq!(
        p.action.as_deref(),
        Some("Replace the faulted device, or use 'zpool clear' to mark the device\nrepaired.")
    );
}

#[test]
fn openzfs_suspended_pool() {
    let p = one("openzfs-2.2-suspended-p.txt");
    assert_eq!(p.state, State::Suspended);
    assert_eq!(p.config[0].state, State::Unavail);
    assert_eq!(p.config[0].note.as_deref(), Some("insufficient replicas"));
    assert_eq!(p.config[1].state, State::Removed);
    assert_eq!(p.totals(), c(3, 112, 0));
    assert!(matches!(&p.errors, DataErrors::Other(t) if t.contains("suspended")));
    assert!(!p.errors.any());
}

#[test]
fn openzfs_special_and_dedup_classes_a_spare_in_use_and_the_slow_column() {
    let p = one("openzfs-2.2-special-dedup-spare-inuse-ps.txt");
    assert_eq!(p.state, State::Degraded);
    assert_eq!(
        p.other,
        vec![
            (
                "remove".to_owned(),
                "Removal of vdev 2 copied 14.2G in 0h3m, completed on Fri Feb 28 18:03:11 2025\n42.1K memory used for removed device mappings".to_owned()
            ),
            ("checkpoint".to_owned(), "created Mon Mar 10 05:00:00 2025, consumes 1.02M".to_owned()),
        ]
    );
    // SLOW is not an error counter: sdb's 7 slow I/Os count nowhere.
    let sdb = p.config.iter().find(|v| v.name == "sdb").unwrap();
    assert_eq!(sdb.errors, Some(Counters::default()));
    let spare = p.config.iter().find(|v| v.name == "spare-0").unwrap();
    assert_eq!((spare.depth, spare.errors), (2, Some(c(0, 0, 3))));
    let inuse = p.config.last().unwrap();
    assert_eq!(
        (&inuse.section, &inuse.state, inuse.note.as_deref()),
        (&Section::Spares, &State::Other("INUSE".into()), Some("currently in use"))
    );
    assert_eq!(p.config.iter().find(|v| v.name == "nvme1n1p3").unwrap().section, Section::Dedup);
    assert_eq!(p.config.iter().find(|v| v.name == "nvme0n1p4").unwrap().section, Section::Special);
    assert_eq!(p.totals(), c(2, 0, 4));
}

#[test]
fn openzfs_zfs_list_exact_and_for_people() {
    let exact = parse_list(&fixture("openzfs-2.2-zfs-list-Hp.txt")).unwrap();
    let human = parse_list(&fixture("openzfs-2.2-zfs-list-H.txt")).unwrap();
    assert_eq!(exact.len(), 5);
    assert!(exact.iter().all(|d| d.exact));
    let photos = exact.iter().find(|d| d.name == "tank/photos").unwrap();
    assert_eq!((photos.used_bytes, photos.available_bytes), (3221225472000, 4398046511104));
    assert_eq!(photos.free_percent(), 57);
    assert_eq!(
        human.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        exact.iter().map(|d| d.name.as_str()).collect::<Vec<_>>()
    );
    let photos = human.iter().find(|d| d.name == "tank/photos").unwrap();
    assert!(!photos.exact);
    assert_eq!(photos.free_percent(), 57);
    assert_eq!(human[2].available_bytes, 4 << 40);
}

#[test]
fn zfs_fuse_mirror_healthy_then_corrupted_then_cleared() {
    let healthy = one("zfs-fuse-0.7-mirror-healthy.txt");
    assert_eq!((healthy.name.as_str(), &healthy.state), ("fault", &State::Online));
    assert_eq!(healthy.scan.as_deref(), Some("none requested"), "zfs-fuse's `scrub:` is the scan line");
    assert_eq!(healthy.totals(), Counters::default());
    assert_eq!(healthy.config.iter().map(|v| v.depth).collect::<Vec<_>>(), [0, 1, 2, 2]);
    assert!(healthy.counters_exact());

    let damaged = one("zfs-fuse-0.7-mirror-corrupted-scrubbed.txt");
    assert_eq!(damaged.state, State::Online);
    assert_eq!(damaged.totals(), c(0, 0, 292));
    let a = &damaged.config[2];
    assert_eq!((a.name.as_str(), a.note.as_deref()), ("/tmp/keepsake-zfs-fault/a.img", Some("29.1M repaired")));
    assert_eq!(damaged.errors, DataErrors::None);
    assert_eq!(damaged.see.as_deref(), Some("http://www.sun.com/msg/ZFS-8000-9P"));
    assert!(damaged.scan.as_deref().unwrap().starts_with("scrub completed after 0h0m with 0 errors"));
    assert!(damaged.detail().starts_with("One or more devices has experienced an unrecoverable error."));

    let cleared = one("zfs-fuse-0.7-mirror-cleared.txt");
    assert_eq!(cleared.totals(), Counters::default());
    assert_eq!(cleared.config[2].note.as_deref(), Some("29.1M repaired"), "the note outlives zpool clear");
    assert_eq!((cleared.status.as_ref(), cleared.action.as_ref()), (None, None));
}

#[test]
fn zfs_fuse_single_vdev_with_permanent_errors() {
    let p = one("zfs-fuse-0.7-single-permanent-errors.txt");
    // The pool row says 197 and the only device 458: the same errors, counted once.
    assert_eq!(p.config[0].errors, Some(c(0, 0, 197)));
    assert_eq!(p.totals(), c(0, 0, 458));
    assert_eq!(p.errors, DataErrors::Count(195));
    assert!(p.errors.any());
    assert_eq!(p.see.as_deref(), Some("http://www.sun.com/msg/ZFS-8000-8A"));

    let v = one("zfs-fuse-0.7-single-permanent-errors-v.txt");
    assert_eq!(v.errors, DataErrors::Files(vec!["/tmp/keepsake-zfs-single/mnt/photos.bin".into()]));
    assert_eq!(v.totals(), p.totals());
}

#[test]
fn zfs_fuse_three_pools_at_once() {
    let pools = parse_status(&fixture("zfs-fuse-0.7-three-pools.txt")).unwrap();
    let summary: Vec<(&str, Counters, bool)> =
        pools.iter().map(|p| (p.name.as_str(), p.totals(), p.errors.any())).collect();
    assert_eq!(
        summary,
        [("fault", c(0, 0, 0), false), ("keepsake-lab", c(0, 0, 0), false), ("single", c(0, 0, 458), true),]
    );
}

#[test]
fn zfs_fuse_zfs_list_without_dash_p() {
    let list = parse_list(&fixture("zfs-fuse-0.7-zfs-list-H.txt")).unwrap();
    assert_eq!(list.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["fault", "keepsake-lab", "single"]);
    let fault = &list[0];
    assert_eq!((fault.used_bytes, fault.available_bytes, fault.exact), (51694796, 43725619, false));
    assert_eq!(fault.free_percent(), 45);
    assert_eq!(list[1].used_bytes, 364 * 1024);
}
