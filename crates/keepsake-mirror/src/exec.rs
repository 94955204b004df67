//! Second pass of a mirror run: executes the plan in manifest order. Copies run on worker threads,
//! each into a temporary file beside its destination (crate::partial); the main thread renames
//! finished copies into place, sets deleted entries aside and appends every
//! line of the next manifest to the journal (`.keepsake/journal`), syncing it in batches. At the
//! end the journal becomes the manifest by one rename.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::copy::{self, Job, Outcome};
use crate::fsutil::{dev_of, drive_err_root, fsync_dir, make_dirs};
use crate::manifest::{DELETED, Kind, Line, Writer};
use crate::names::{display, esc_field};
use crate::partial::{self, Partials};
use crate::plan::{Op, PlanReader};
use crate::progress::Throttle;
use crate::scan::ScanStats;
use crate::{MirrorError, MirrorOptions, MirrorReport, Phase, Progress, Skipped};

/// At most this many plan operations wait in order behind an unfinished copy.
const WINDOW: usize = 4096;
/// The journal and the folders of placed copies are fsynced this often (and at the end). Between
/// two, a barrier already flushes everything on exfat-fuse and with syncfs on kernel filesystems.
const SYNC_EVERY: Duration = Duration::from_secs(5);
/// A durability barrier is shared by up to this many copies, bytes, or this much waiting.
/// (Each barrier is a flush of the whole device on exfat-fuse: a few per second at most.)
const BARRIER_FILES: u64 = 2048;
const BARRIER_BYTES: u64 = 256 << 20;
const BARRIER_EVERY: Duration = Duration::from_millis(1000);

struct Slot {
    op: Op,
    seq: Option<u64>,
}

pub struct Exec<'a> {
    pub root: &'a Path,
    pub opts: &'a MirrorOptions,
    pub journal: Writer,
    pub report: MirrorReport,
    pub stats: ScanStats,
    pub progress: &'a Throttle<'a>,
    pub cancel: &'a AtomicBool,
    date: String,
    index: Option<BufWriter<File>>,
    touched: BTreeSet<PathBuf>,
    unsynced: u64,
    last_sync: Instant,
    placed_unflushed: bool,
    placed_since_flush: u64,
    /// The folder last set aside: (drive path/, path in the day's folder/), for its files' index lines.
    aside_dir: Option<(String, String)>,
    files_done: u64,
    /// Bytes not copied this run (unchanged, adopted).
    bytes_done: u64,
    /// Bytes written by the copy threads so far (placed or not), for smooth progress on big files.
    written: std::sync::Arc<std::sync::atomic::AtomicU64>,
    run_id: String,
    /// The drive's device number at the start: a path under a lazily unmounted drive resolves to
    /// the folder beneath it, where a syncfs would succeed on the wrong filesystem.
    root_dev: Option<u64>,
    /// Folders announced to hold temporary copies, and each unplaced copy's temporary path.
    partials: Partials,
    tmps: HashMap<u64, PathBuf>,
}

impl<'a> Exec<'a> {
    pub fn new(
        root: &'a Path,
        opts: &'a MirrorOptions,
        journal: Writer,
        report: MirrorReport,
        stats: ScanStats,
        progress: &'a Throttle<'a>,
        cancel: &'a AtomicBool,
    ) -> Self {
        Exec {
            root,
            opts,
            journal,
            report,
            stats,
            progress,
            cancel,
            date: opts.now.format("%Y-%m-%d").to_string(),
            index: None,
            touched: BTreeSet::new(),
            unsynced: 0,
            last_sync: Instant::now(),
            placed_unflushed: false,
            placed_since_flush: 0,
            aside_dir: None,
            files_done: 0,
            bytes_done: 0,
            written: Default::default(),
            run_id: format!("{}-{}", std::process::id(), opts.now.timestamp_nanos_opt().unwrap_or(0)),
            root_dev: dev_of(root),
            partials: Partials::new(root),
            tmps: HashMap::new(),
        }
    }

    fn derr(&self, path: &Path) -> impl Fn(io::Error) -> MirrorError + '_ {
        let p = path.to_path_buf();
        move |e| drive_err_root(self.root, &p, e)
    }

    fn jerr(&self) -> impl Fn(io::Error) -> MirrorError + '_ {
        let p = self.journal.path.clone();
        move |e| drive_err_root(self.root, &p, e)
    }

    fn tell(&self, current: Option<&str>) {
        self.progress.maybe(&Progress {
            phase: Phase::Copying,
            files_total: self.stats.files_total,
            bytes_total: self.stats.bytes_total,
            files_done: self.files_done,
            bytes_done: self.bytes_done + self.written.load(Ordering::Relaxed),
            files_copied: self.report.files_copied,
            bytes_copied: self.written.load(Ordering::Relaxed),
            current: current.map(str::to_string),
        });
    }

    /// Runs the plan; on error the journal is left consistent (everything before the failing
    /// operation is recorded) and the caller folds it into the manifest.
    pub fn run(&mut self, plan: &mut PlanReader) -> Result<(), MirrorError> {
        let threads = self.opts.threads.max(1);
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (res_tx, res_rx) = mpsc::channel::<(u64, Result<Outcome, MirrorError>)>();
        let root = self.root;
        let root_dev = self.root_dev;
        let cancel = self.cancel;
        // Set when the run stops early, so workers do not start the jobs still queued.
        let stop = AtomicBool::new(false);
        let stop = &stop;
        std::thread::scope(|s| {
            for _ in 0..threads {
                let rx = Arc::clone(&job_rx);
                let tx = res_tx.clone();
                let written = std::sync::Arc::clone(&self.written);
                s.spawn(move || {
                    let mut buf = Vec::new();
                    loop {
                        let job = match rx.lock().map(|r| r.recv()) {
                            Ok(Ok(j)) => j,
                            _ => return,
                        };
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let r = copy::run(&job, copy::Shared { root, cancel, written: &written, root_dev }, &mut buf);
                        if tx.send((job.seq, r)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(res_tx);
            let res = self.pump(plan, &job_tx, &res_rx, threads);
            stop.store(res.is_err(), Ordering::Relaxed);
            drop(job_tx);
            // Workers finish their current job; results are discarded and their temporary files
            // removed (none was renamed into place).
            for (s, r) in res_rx.iter() {
                if let (Ok(Outcome::Copied { .. }), Some(t)) = (r, self.tmps.get(&s)) {
                    let _ = std::fs::remove_file(t);
                }
            }
            res
        })
    }

    fn pump(
        &mut self,
        plan: &mut PlanReader,
        job_tx: &mpsc::SyncSender<Job>,
        res_rx: &mpsc::Receiver<(u64, Result<Outcome, MirrorError>)>,
        threads: usize,
    ) -> Result<(), MirrorError> {
        let mut window: VecDeque<Slot> = VecDeque::new();
        // Finished copies by seq, with "durable yet".
        let mut results: HashMap<u64, (Result<Outcome, MirrorError>, bool)> = HashMap::new();
        let (mut undurable, mut undurable_bytes, mut first_undurable) = (0u64, 0u64, None::<Instant>);
        let mut seq = 0u64;
        let mut inflight = 0usize;
        let mut plan_done = false;
        let perr = |e: io::Error| MirrorError::Source {
            path: PathBuf::from("(plan file in the temporary folder)"),
            source: e,
        };
        loop {
            while !plan_done && window.len() < WINDOW && inflight < threads * 2 {
                if self.cancel.load(Ordering::Relaxed) {
                    return Err(MirrorError::Cancelled);
                }
                let Some(op) = plan.next_op().map_err(perr)? else {
                    plan_done = true;
                    break;
                };
                let mut slot = Slot { op, seq: None };
                if let Op::Copy { src, line, adopt, revive, .. } = &slot.op {
                    seq += 1;
                    // Listed before the copy thread can create anything there (crate::partial).
                    let root = self.root;
                    self.partials
                        .announce(&line.drive)
                        .map_err(|e| drive_err_root(root, &root.join(partial::LIST), e))?;
                    let tmp = partial::tmp_path(self.root, &line.drive, &self.run_id, seq);
                    self.tmps.insert(seq, tmp.clone());
                    let job = Job {
                        seq,
                        src: src.clone(),
                        dst: self.root.join(&line.drive),
                        tmp,
                        adopt: *adopt,
                        verify: self.opts.verify_written,
                        revive: revive.as_ref().map(|r| (self.root.join(DELETED).join(r), line.hash)),
                    };
                    if job_tx.send(job).is_err() {
                        return Err(MirrorError::Cancelled);
                    }
                    inflight += 1;
                    slot.seq = Some(seq);
                }
                window.push_back(slot);
            }
            // Finish operations at the front, in order. A copy goes into place only once durable:
            // one barrier (syncfs + fsync) covers every copy finished so far, so its cost is shared.
            let mut blocked_on_barrier = false;
            while let Some(front) = window.front() {
                let outcome = match front.seq {
                    Some(s) => match results.get(&s) {
                        None => break,
                        Some((Ok(Outcome::Copied { .. }), false)) => {
                            let due = undurable >= BARRIER_FILES
                                || undurable_bytes >= BARRIER_BYTES
                                || inflight == 0
                                || window.len() >= WINDOW
                                || first_undurable.is_some_and(|t: Instant| t.elapsed() >= BARRIER_EVERY);
                            if !due {
                                blocked_on_barrier = true;
                                break;
                            }
                            self.barrier(&self.tmps[&s])?;
                            for v in results.values_mut() {
                                v.1 = true;
                            }
                            (undurable, undurable_bytes, first_undurable) = (0, 0, None);
                            continue;
                        }
                        Some(_) => Some(results.remove(&s).expect("present").0?),
                    },
                    None => None,
                };
                let slot = window.pop_front().expect("front");
                self.finish(slot, outcome)?;
            }
            if self.placed_unflushed {
                // Hand the journal lines of the copies just placed to the kernel, so a killed
                // process leaves at most a handful of placed copies unlisted (the next run adopts
                // them after comparing size, mtime and content).
                self.journal.flush().map_err(self.jerr())?;
                self.placed_unflushed = false;
            }
            if window.is_empty() && plan_done {
                return Ok(());
            }
            let can_fill = !plan_done && window.len() < WINDOW && inflight < threads * 2;
            if inflight > 0 && (window.front().is_some_and(|f| f.seq.is_some()) || !can_fill) {
                // With a barrier pending, wait only a little for more copies to share it.
                let r = if blocked_on_barrier {
                    match res_rx.recv_timeout(BARRIER_EVERY) {
                        Ok(r) => Some(r),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => return Err(MirrorError::Cancelled),
                    }
                } else {
                    // Wake up now and then to report the bytes of big copies in progress.
                    match res_rx.recv_timeout(Duration::from_millis(100)) {
                        Ok(r) => Some(r),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => return Err(MirrorError::Cancelled),
                    }
                };
                // Throttled to ten a second: keeps big copies moving on the progress bar.
                self.tell(None);
                if let Some((s, r)) = r {
                    inflight -= 1;
                    let needs_barrier = matches!(r, Ok(Outcome::Copied { .. }));
                    if let Ok(Outcome::Copied { size, .. }) = &r {
                        undurable += 1;
                        undurable_bytes += size;
                        first_undurable.get_or_insert_with(Instant::now);
                    }
                    results.insert(s, (r, !needs_barrier));
                }
            }
        }
    }

    /// Makes every copy written so far durable: syncfs for kernel filesystems, plus an fsync of one
    /// file, which exfat-fuse turns into a flush of the whole volume.
    fn barrier(&self, one_tmp: &Path) -> Result<(), MirrorError> {
        self.syncfs()?;
        File::open(one_tmp).and_then(|f| f.sync_all()).map_err(self.derr(one_tmp))
    }

    /// Writes back everything dirty on the drive's filesystem (a kernel filesystem; FUSE ignores it).
    fn syncfs(&self) -> Result<(), MirrorError> {
        use std::os::fd::AsRawFd;
        let root = File::open(self.root).map_err(self.derr(self.root))?;
        self.same_drive(&root)?;
        // SAFETY: syncfs on a descriptor we own.
        if unsafe { libc::syncfs(root.as_raw_fd()) } != 0 {
            return Err(self.derr(self.root)(io::Error::last_os_error()));
        }
        Ok(())
    }

    /// DriveGone when the drive's folder is no longer the drive (pulled and lazily unmounted).
    fn same_drive(&self, root: &File) -> Result<(), MirrorError> {
        let dev = root.metadata().map_err(self.derr(self.root))?;
        if self.root_dev.is_some_and(|d| d != std::os::unix::fs::MetadataExt::dev(&dev)) {
            return Err(MirrorError::DriveGone { path: self.root.to_path_buf() });
        }
        Ok(())
    }

    fn finish(&mut self, slot: Slot, outcome: Option<Outcome>) -> Result<(), MirrorError> {
        match slot.op {
            Op::Keep(l) => {
                if l.kind == Kind::File {
                    self.files_done += 1;
                    self.bytes_done += l.size;
                    self.report.files_unchanged += 1;
                }
                self.journal.entry(&l).map_err(self.jerr())?;
                self.tell(None);
            }
            Op::NewDir(l) => {
                // Through make_dirs even for one level: a top-level folder made on the empty mount
                // point of a pulled drive would succeed, on the appliance's own disk.
                let p = self.root.join(&l.drive);
                if !p.is_dir() {
                    make_dirs(self.root, self.root_dev, &p)?;
                    self.touched.insert(p.parent().unwrap_or(self.root).to_path_buf());
                }
                self.journal.entry(&l).map_err(self.jerr())?;
            }
            Op::Copy { line, old, revive, .. } => {
                let seq = slot.seq.expect("copy has a seq");
                let tmp = self.tmps.remove(&seq);
                match outcome.expect("copy has an outcome") {
                    Outcome::Copied { size, mtime, hash, verified } => {
                        let tmp = tmp.expect("a copy has a temporary path");
                        let dst = self.root.join(&line.drive);
                        self.place(&tmp, &dst)?;
                        let l = Line { size, mtime, hash, ..line };
                        self.journal.entry(&l).map_err(self.jerr())?;
                        self.placed(1)?;
                        self.report.files_copied += 1;
                        self.report.bytes_copied += size;
                        self.report.files_verified += u64::from(verified);
                        self.files_done += 1;
                        self.unsynced += 1;
                        self.tell(Some(&display(&l.orig)));
                    }
                    Outcome::Revived { size, mtime, hash } => {
                        let from = match &revive {
                            Some(r) => self.root.join(DELETED).join(r),
                            None => unreachable!("revived without a revive path"),
                        };
                        let dst = self.root.join(&line.drive);
                        self.place(&from, &dst)?;
                        let l = Line { size, mtime, hash, ..line };
                        self.journal.entry(&l).map_err(self.jerr())?;
                        self.placed(1)?;
                        self.report.files_unchanged += 1;
                        self.files_done += 1;
                        self.bytes_done += size;
                        self.unsynced += 1;
                    }
                    Outcome::Adopted { size, mtime, hash } => {
                        let l = Line { size, mtime, hash, ..line };
                        self.journal.entry(&l).map_err(self.jerr())?;
                        self.report.files_unchanged += 1;
                        self.files_done += 1;
                        self.bytes_done += size;
                    }
                    Outcome::SourceUnreadable(reason) => {
                        self.report.skipped.push(Skipped { path: display(&line.orig), reason });
                        // Keep the previous copy rather than losing it.
                        if let Some(old) = old {
                            self.journal.entry(&old).map_err(self.jerr())?;
                        }
                    }
                }
            }
            Op::AsideFile(l) => {
                if let Some(to) = self.set_aside(&l)? {
                    self.index_line(&l, &to)?;
                }
                self.report.files_set_aside += 1;
            }
            Op::AsideDir(l) => {
                self.aside_dir = self.set_aside(&l)?.map(|to| (format!("{}/", l.drive), format!("{to}/")));
            }
            Op::AsideIndex(l) => {
                // Where the file now is: under the folder's name in deleted/ (which may have a ~N).
                let to = match &self.aside_dir {
                    Some((from, to)) if l.drive.starts_with(from.as_str()) => {
                        Some(format!("{to}{}", &l.drive[from.len()..]))
                    }
                    _ => None,
                };
                if let Some(to) = to {
                    self.index_line(&l, &to)?;
                }
                self.report.files_set_aside += 1;
            }
        }
        if self.unsynced > 0 && self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(())
    }

    /// Notes copies placed; their journal lines go to the kernel every few dozen, so a killed
    /// process leaves only a few placed copies unlisted even in a big batch.
    fn placed(&mut self, n: u64) -> Result<(), MirrorError> {
        self.placed_unflushed = true;
        self.placed_since_flush += n;
        if self.placed_since_flush >= 32 {
            self.journal.flush().map_err(self.jerr())?;
            self.placed_since_flush = 0;
        }
        Ok(())
    }

    /// Renames a finished temporary copy (or a set-aside one brought back) into place.
    fn place(&mut self, from: &Path, dst: &Path) -> Result<(), MirrorError> {
        let parent = dst.parent().unwrap_or(self.root).to_path_buf();
        match std::fs::rename(from, dst) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound && from.exists() => {
                // Someone removed the folder on the drive (a revived copy comes from deleted/).
                make_dirs(self.root, self.root_dev, &parent)?;
                std::fs::rename(from, dst).map_err(self.derr(dst))?;
            }
            Err(e) => return Err(self.derr(dst)(e)),
        }
        self.touched.insert(parent);
        Ok(())
    }

    /// Makes the renames so far and the journal durable. One syncfs covers every folder a rename
    /// touched on a kernel filesystem, and one folder's fsync is a flush of the whole volume on
    /// exfat-fuse (whose syncfs does nothing): an fsync per folder cost a device flush each, about
    /// a sixth of a cold copy's time in the benchmark (docs/PERFORMANCE.md).
    pub fn sync(&mut self) -> Result<(), MirrorError> {
        let touched = std::mem::take(&mut self.touched);
        // One folder's fsync still goes to the drive's filesystem itself: on exfat-fuse it is the
        // whole-volume flush, and a dead FUSE daemon answers it with an error (syncfs and a
        // cached root would not notice).
        if let Some(d) = touched.iter().next_back() {
            fsync_dir(d).map_err(self.derr(d))?;
        }
        if touched.is_empty() {
            self.same_drive(&File::open(self.root).map_err(self.derr(self.root))?)?;
        } else {
            self.syncfs()?;
        }
        self.journal.sync().map_err(self.jerr())?;
        self.unsynced = 0;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Moves a file or folder to `.keepsake/deleted/<date>/<drive path>` (a free name if taken).
    /// Returns the new path relative to the day's folder, None if the entry was already gone.
    fn set_aside(&mut self, l: &Line) -> Result<Option<String>, MirrorError> {
        // The tombstone reaches the journal before the rename, so a killed run never lists a moved file.
        self.journal.tomb(l.kind, &l.drive).map_err(self.jerr())?;
        self.journal.flush().map_err(self.jerr())?;
        let from = self.root.join(&l.drive);
        if std::fs::symlink_metadata(&from).is_err() {
            if !self.root.join(".keepsake").is_dir() {
                return Err(MirrorError::DriveGone { path: self.root.to_path_buf() });
            }
            return Ok(None); // already gone from the drive: nothing to keep
        }
        let base = self.root.join(DELETED).join(&self.date).join(&l.drive);
        let parent = base.parent().expect("has parent").to_path_buf();
        make_dirs(self.root, self.root_dev, &parent)?;
        let mut to = base.clone();
        let mut n = 1;
        while std::fs::symlink_metadata(&to).is_ok() {
            n += 1;
            let name = base.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            to = parent.join(crate::names::with_suffix(&name, n));
        }
        std::fs::rename(&from, &to).map_err(self.derr(&from))?;
        let day = self.root.join(DELETED).join(&self.date);
        let rel = to.strip_prefix(&day).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| l.drive.clone());
        self.touched.insert(from.parent().unwrap_or(self.root).to_path_buf());
        self.touched.insert(parent);
        self.unsynced += 1;
        Ok(Some(rel))
    }

    /// Records a set-aside file in `.keepsake/deleted/<date>/index.txt` (original path → drive path).
    fn index_line(&mut self, l: &Line, drive: &str) -> Result<(), MirrorError> {
        if self.index.is_none() {
            let p = self.root.join(DELETED).join(&self.date).join("index.txt");
            if let Some(d) = p.parent() {
                make_dirs(self.root, self.root_dev, d)?;
            }
            let f = OpenOptions::new().create(true).append(true).open(&p).map_err(self.derr(&p))?;
            self.index = Some(BufWriter::new(f));
        }
        let hash = blake3::Hash::from_bytes(l.hash).to_hex();
        let line = format!("{}\t{}\t{}\t{}\t{}\n", esc_field(&l.orig), drive, l.size, l.mtime, hash);
        let root = self.root.to_path_buf();
        let w = self.index.as_mut().expect("opened");
        w.write_all(line.as_bytes()).map_err(|e| drive_err_root(&root, &root, e))
    }

    /// Ends the run: the journal gets its END line and becomes the manifest.
    pub fn commit(mut self) -> Result<MirrorReport, MirrorError> {
        if let Some(mut w) = self.index.take() {
            let root = self.root.to_path_buf();
            w.flush().and_then(|_| w.get_ref().sync_all()).map_err(|e| drive_err_root(&root, &root, e))?;
        }
        self.sync()?;
        let jpath = self.journal.path.clone();
        let root = self.root;
        self.journal.finish().map_err(|e| drive_err_root(root, &jpath, e))?;
        let mpath = root.join(crate::manifest::MANIFEST);
        std::fs::rename(&jpath, &mpath).map_err(|e| drive_err_root(root, &mpath, e))?;
        let ks = root.join(crate::manifest::KS_DIR);
        fsync_dir(&ks).map_err(|e| drive_err_root(root, &ks, e))?;
        // Every temporary copy was renamed into place: nothing is left for a sweep to find.
        let list = root.join(partial::LIST);
        self.partials.done().map_err(|e| drive_err_root(root, &list, e))?;
        Ok(self.report)
    }

    /// After an error: make what was done so far durable, so the journal can be folded in.
    pub fn abandon(mut self) {
        if let Some(mut w) = self.index.take() {
            let _ = w.flush();
        }
        let _ = self.sync();
    }
}
