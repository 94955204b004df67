//! Shared test helpers: a real exFAT drive (image + loop device + exfat-fuse, torn down on drop),
//! a generator of trees with pathological names, and a byte-for-byte tree comparison.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

use keepsake_mirror::{MirrorOptions, NoProgress, Source};

fn run(cmd: &str, args: &[&OsStr]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| {
        panic!("{cmd} is needed for the exFAT tests and could not run ({e}); install packages exfatprogs, exfat-fuse and util-linux (see /work/shared/LAB.md)")
    });
    assert!(out.status.success(), "{cmd} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A real exFAT filesystem on a loop device, mounted with exfat-fuse. Unmounted and detached on drop.
pub struct Exfat {
    pub dir: tempfile::TempDir,
    pub mnt: PathBuf,
    pub img: PathBuf,
    pub dev: String,
    mounted: bool,
}

impl Exfat {
    pub fn new(tag: &str, mib: u64) -> Exfat {
        let dir = tempfile::Builder::new().prefix(&format!("mirror-{tag}-")).tempdir().expect("tempdir");
        let img = dir.path().join(format!("mirror-{tag}.img"));
        let mnt = dir.path().join(format!("mirror-{tag}-mnt"));
        std::fs::create_dir(&mnt).expect("mkdir");
        std::fs::File::create(&img).and_then(|f| f.set_len(mib << 20)).expect("image");
        run("mkfs.exfat", &[OsStr::new("-L"), OsStr::new("MIRRORTEST"), img.as_os_str()]);
        let dev = run("losetup", &[OsStr::new("-f"), OsStr::new("--show"), img.as_os_str()]);
        let mut d = Exfat { dir, mnt, img, dev, mounted: false };
        d.mount();
        d
    }

    pub fn mount(&mut self) {
        run("mount.exfat-fuse", &[OsStr::new(&self.dev), self.mnt.as_os_str()]);
        self.mounted = true;
    }

    pub fn umount(&mut self) {
        if self.mounted {
            run("umount", &[self.mnt.as_os_str()]);
            self.mounted = false;
        }
    }

    /// Lazy unmount: the drive disappears from its path while files are still open (a pulled drive).
    pub fn umount_lazy(&mut self) {
        run("umount", &[OsStr::new("-l"), self.mnt.as_os_str()]);
        self.mounted = false;
    }

    /// The pid of the exfat-fuse daemon serving this mount (found by its exact command line).
    pub fn fuse_pid(&self) -> Option<i32> {
        let want = format!("mount.exfat-fuse\0{}\0{}\0", self.dev, self.mnt.display());
        for e in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
            if let Ok(c) = std::fs::read(e.path().join("cmdline"))
                && c == want.as_bytes()
            {
                return Some(pid);
            }
        }
        None
    }

    pub fn mark_unmounted(&mut self) {
        self.mounted = false;
    }
}

impl Drop for Exfat {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.mnt).status();
        }
        // A lazily unmounted or killed mount may still be around: make sure it is gone.
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).output();
        for _ in 0..50 {
            let ok =
                Command::new("losetup").arg("-d").arg(&self.dev).output().map(|o| o.status.success()).unwrap_or(true);
            if ok {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

pub fn opts(now: &str) -> MirrorOptions {
    MirrorOptions {
        keep_deleted_days: 30,
        now: chrono::DateTime::parse_from_rfc3339(now).expect("time").with_timezone(&chrono::Utc),
        threads: 2,
        verify_written: true,
        reserve_bytes: 0,
        written_by: "test".into(),
    }
}

pub fn mirror_one(
    drive: &Path,
    src: &Path,
    o: &MirrorOptions,
) -> Result<keepsake_mirror::MirrorReport, keepsake_mirror::MirrorError> {
    let sources = [Source { name: "lib".into(), root: src.to_path_buf() }];
    keepsake_mirror::mirror(drive, &sources, o, &NoProgress, &AtomicBool::new(false))
}

/// Tiny deterministic generator (xorshift), so a failing seed reproduces.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Names that exFAT cannot store as they are, or that collide there.
pub fn name_pool() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "a.jpg",
        "A.jpg",
        "A.JPG",
        "x~2.jpg",
        "what?.txt",
        "a:b|c<d>e\"f*g\\h",
        "trail. ",
        "dots...",
        "100%.jpg",
        "%41",
        "caf\u{e9}.txt",
        "cafe\u{301}.txt",
        "tab\tname",
        "new\nline",
        "\u{1F600}.png",
        " lead",
        "*",
        ".hidden",
        "\u{df}",
        "SS",
        "ss",
        "CON",
        "plain",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    v.push(b"bad\xe9\xff.bin".to_vec());
    // Linux allows 255 bytes, so names only outgrow exFAT's 255 UTF-16 units once escaped.
    v.push(format!("{}.jpeg", ":".repeat(120)).into_bytes());
    v.push(format!("{}x.jpeg", ":?".repeat(60)).into_bytes());
    v.push(format!("{}\u{e9}", "\u{e9}".repeat(126)).into_bytes());
    v.push("L".repeat(254).into_bytes());
    v.push("l".repeat(254).into_bytes());
    v
}

pub fn write_file(p: &Path, rng: &mut Rng) {
    let len = match rng.below(4) {
        0 => 0,
        1 => rng.below(100) as usize,
        2 => rng.below(5000) as usize,
        _ => 70_000 + rng.below(300_000) as usize,
    };
    let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    std::fs::write(p, data).expect("write source file");
}

/// A random tree of up to `files` files in nested folders with names from [`name_pool`].
pub fn gen_tree(root: &Path, seed: u64, files: usize) {
    let mut rng = Rng(seed | 1);
    let pool = name_pool();
    let mut dirs = vec![root.to_path_buf()];
    for _ in 0..files {
        let parent = dirs[rng.below(dirs.len() as u64) as usize].clone();
        let name = &pool[rng.below(pool.len() as u64) as usize];
        let p = parent.join(OsStr::from_bytes(name));
        if p.exists() {
            continue;
        }
        if rng.below(4) == 0 && dirs.len() < 12 {
            std::fs::create_dir(&p).expect("mkdir");
            dirs.push(p);
        } else {
            write_file(&p, &mut rng);
        }
    }
}

/// Changes some files, deletes some, adds some.
pub fn mutate_tree(root: &Path, seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(31) | 1);
    let mut all = Vec::new();
    walk(root, &mut |p, is_dir| {
        if !is_dir {
            all.push(p.to_path_buf())
        }
    });
    all.sort();
    for p in &all {
        match rng.below(6) {
            0 => std::fs::remove_file(p).expect("rm"),
            1 => write_file(p, &mut rng),
            2 => {
                // Same size, new content and mtime.
                let mut d = std::fs::read(p).expect("read");
                for b in d.iter_mut() {
                    *b = b.wrapping_add(1);
                }
                std::fs::write(p, d).expect("write");
                let f = std::fs::File::options().write(true).open(p).expect("open");
                f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60)).expect("mtime");
            }
            _ => {}
        }
    }
    gen_tree(root, seed ^ 0xdead_beef, 15);
}

pub fn walk(dir: &Path, f: &mut dyn FnMut(&Path, bool)) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let e = e.expect("entry");
        let t = e.file_type().expect("type");
        if t.is_dir() {
            f(&e.path(), true);
            walk(&e.path(), f);
        } else if t.is_file() {
            f(&e.path(), false);
        }
    }
}

/// Relative path → (is folder, content, mtime in seconds) of every folder and regular file.
pub fn snapshot(root: &Path) -> BTreeMap<Vec<u8>, (bool, Vec<u8>, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut m = BTreeMap::new();
    walk(root, &mut |p, is_dir| {
        let rel = p.strip_prefix(root).expect("under root").as_os_str().as_bytes().to_vec();
        let md = std::fs::metadata(p).expect("stat");
        let content = if is_dir { Vec::new() } else { std::fs::read(p).expect("read") };
        m.insert(rel, (is_dir, content, if is_dir { 0 } else { md.mtime() }));
    });
    m
}

/// Asserts two trees hold the same names, contents and (to 2 s) mtimes.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let (sa, sb) = (snapshot(a), snapshot(b));
    let ka: Vec<_> = sa.keys().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
    let kb: Vec<_> = sb.keys().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
    assert_eq!(ka, kb, "different paths");
    for (k, (da, ca, ma)) in &sa {
        let (db, cb, mb) = &sb[k];
        let name = String::from_utf8_lossy(k);
        assert_eq!(da, db, "{name}: file vs folder");
        assert!(ca == cb, "{name}: content differs ({} vs {} bytes)", ca.len(), cb.len());
        assert!((ma - mb).abs() <= 2, "{name}: mtime {ma} vs {mb}");
    }
}
