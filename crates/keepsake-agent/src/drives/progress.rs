//! Running a mirror operation (blocking, on its own thread) from a job: its progress becomes the
//! job's (bytes done of total, with files, throughput and time left in words), and the job's
//! cancel becomes the operation's cancel flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use keepsake_mirror::{Phase, Progress};

use crate::jobs::JobContext;

/// Runs `f` on a blocking thread with a progress sink and a cancel flag tied to `ctx`.
pub async fn run_mirror<T: Send + 'static>(
    ctx: &JobContext,
    f: impl FnOnce(&dyn keepsake_mirror::ProgressSink, &AtomicBool) -> T + Send + 'static,
) -> T {
    let cancel = Arc::new(AtomicBool::new(ctx.is_cancelled()));
    let watcher = {
        let (ctx, cancel) = (ctx.clone(), cancel.clone());
        tokio::spawn(async move {
            ctx.cancelled().await;
            cancel.store(true, Ordering::SeqCst);
        })
    };
    let sink_ctx = ctx.clone();
    let thread_cancel = cancel.clone();
    let out = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let sink = move |p: &Progress| report(&sink_ctx, p, started);
        f(&sink, &thread_cancel)
    })
    .await;
    watcher.abort();
    match out {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn report(ctx: &JobContext, p: &Progress, started: Instant) {
    ctx.progress(p.bytes_done, Some(p.bytes_total), "bytes", &describe(p, started.elapsed().as_secs_f64()));
}

/// The progress in words: "Copying: 1,204 of 5,000 files, 1.2 GB of 4.0 GB, 35 MB/s, about 2
/// minutes left".
pub fn describe(p: &Progress, elapsed_secs: f64) -> String {
    let phase = match p.phase {
        Phase::Scanning => "Looking for changes",
        Phase::Copying => "Copying",
        Phase::SettingAside => "Setting aside files deleted in Immich",
        Phase::Verifying => "Reading back what was written",
        Phase::Purging => "Removing set-aside files past their time",
        Phase::Done => "Done",
    };
    let mut s = format!(
        "{phase}: {} of {} files, {} of {}",
        p.files_done,
        p.files_total,
        bytes(p.bytes_done),
        bytes(p.bytes_total)
    );
    if p.phase == Phase::Copying && elapsed_secs >= 1.0 && p.bytes_copied > 0 {
        let rate = p.bytes_copied as f64 / elapsed_secs;
        s.push_str(&format!(", {}/s", bytes(rate as u64)));
        let left = p.bytes_total.saturating_sub(p.bytes_done) as f64 / rate;
        s.push_str(&format!(", {}", eta(left)));
    }
    s
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

fn eta(secs: f64) -> String {
    if secs < 60.0 {
        "less than a minute left".into()
    } else if secs < 3600.0 {
        format!("about {} minutes left", (secs / 60.0).round() as u64)
    } else {
        format!("about {:.1} hours left", secs / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_as_words_with_rate_and_time_left() {
        let p = Progress {
            phase: Phase::Copying,
            files_total: 5000,
            bytes_total: 4_000_000_000,
            files_done: 1204,
            bytes_done: 1_000_000_000,
            files_copied: 1204,
            bytes_copied: 1_000_000_000,
            current: None,
        };
        let s = describe(&p, 100.0);
        assert_eq!(s, "Copying: 1204 of 5000 files, 1.0 GB of 4.0 GB, 10.0 MB/s, about 5 minutes left");
        assert_eq!(bytes(999), "999 B");
    }
}
