//! Blocking calls that can hang in the kernel, kept off the async runtime with a real timeout.
//!
//! A system call on a wedged mount (statvfs on a hung NFS or FUSE filesystem, a read of a file on
//! it) does not return, and no `tokio::time::timeout` around it can fire while it holds a runtime
//! thread. So each such call runs on its own detached thread and its answer comes back over a
//! oneshot channel that is awaited with a timeout; when the time is up the caller goes on and the
//! thread is left behind.
//!
//! Not tokio's blocking pool: the runtime joins the pool's threads when it shuts down, so one thread
//! stuck forever would keep the agent from stopping, and a handful would use up the pool. A
//! detached thread that never returns costs one thread. Once a call on a key (a path) has timed
//! out, later calls on that key are answered at once until it returns, so a mount that stays hung
//! does not collect a new thread at every self-check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Why a blocking call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum Blocked {
    /// It did not return within the time given; it may still return later.
    #[error("no answer from {key} within {}: {hint}", secs(*.waited))]
    TimedOut { key: String, waited: Duration, hint: &'static str },
    /// An earlier call on the same key timed out and has still not returned, so none was started.
    #[error("no answer from {key}: a check started {} ago is still waiting; {hint}", secs(*.since))]
    StillWaiting { key: String, since: Duration, hint: &'static str },
    /// No thread could be started for it (the process is out of threads or memory).
    #[error("cannot start a thread to check {key}: {source}")]
    NoThread { key: String, source: std::io::Error },
    /// The call panicked; a bug.
    #[error("the check of {key} failed unexpectedly (see the agent's log)")]
    Panicked { key: String },
}

/// Keys whose call timed out and has not returned since: the call's number and when it started.
fn stuck() -> &'static Mutex<HashMap<String, (u64, Instant)>> {
    static STUCK: OnceLock<Mutex<HashMap<String, (u64, Instant)>>> = OnceLock::new();
    STUCK.get_or_init(Default::default)
}

fn lock_stuck() -> std::sync::MutexGuard<'static, HashMap<String, (u64, Instant)>> {
    stuck().lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` on a detached thread and waits at most until `deadline` for its result. `key` names
/// what it touches (a path), for the messages and for the one-stuck-call-per-key rule; `hint` is
/// the likely cause shown when it does not answer ("the filesystem may be hung").
pub async fn run<T: Send + 'static>(
    key: &str,
    deadline: Instant,
    hint: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Blocked> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    if let Some((_, since)) = lock_stuck().get(key) {
        return Err(Blocked::StillWaiting { key: key.to_owned(), since: since.elapsed(), hint });
    }
    // Set by the thread under the `stuck` lock when it is done, so that marking the key stuck on
    // timeout (also under the lock) can never outlive the call.
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (thread_key, thread_done) = (key.to_owned(), Arc::clone(&done));
    let spawned = std::thread::Builder::new().name("keepsake-probe".into()).spawn(move || {
        // Unmarks the key however the call ends, a panic included.
        struct Finish(String, u64, Arc<AtomicBool>);
        impl Drop for Finish {
            fn drop(&mut self) {
                let mut stuck = lock_stuck();
                self.2.store(true, Ordering::Relaxed);
                if stuck.get(&self.0).is_some_and(|(id, _)| *id == self.1) {
                    stuck.remove(&self.0);
                }
            }
        }
        let _finish = Finish(thread_key, id, thread_done);
        let _ = tx.send(f());
    });
    if let Err(source) = spawned {
        return Err(Blocked::NoThread { key: key.to_owned(), source });
    }
    match tokio::time::timeout_at(deadline.into(), rx).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(Blocked::Panicked { key: key.to_owned() }),
        Err(_) => {
            let mut stuck = lock_stuck();
            if !done.load(Ordering::Relaxed) {
                stuck.insert(key.to_owned(), (id, started));
            }
            // The time it was given, not the time measured: the message should say "3 s" for a
            // 3 s timeout however late the timer fired on a busy machine.
            Err(Blocked::TimedOut { key: key.to_owned(), waited: deadline.saturating_duration_since(started), hint })
        }
    }
}

/// `3 s`, `2.5 s`, `250 ms`: durations as the messages show them.
pub fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms % 1000 < 50 || ms % 1000 >= 950 {
        format!("{} s", (ms + 500) / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_come_back() {
        let v = run("test:answers", Instant::now() + Duration::from_secs(5), "", || 41 + 1).await.unwrap();
        assert_eq!(v, 42);
    }

    /// The point of this module: a call that never returns does not hold up the caller past its
    /// deadline, does not tie up a runtime thread (the test runtime has only one), and a second
    /// call on the same key is answered at once instead of starting another thread.
    #[tokio::test]
    async fn a_call_that_never_returns_times_out_and_is_not_started_twice() {
        let (unblock, blocked) = std::sync::mpsc::channel::<()>();
        let t = Instant::now();
        let err = run("test:/hung", Instant::now() + Duration::from_millis(200), "it may be hung", move || {
            let _ = blocked.recv();
        })
        .await
        .unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2), "waited {:?}", t.elapsed());
        assert!(matches!(err, Blocked::TimedOut { .. }), "{err:?}");
        assert!(err.to_string().starts_with("no answer from test:/hung within "), "{err}");
        assert!(err.to_string().ends_with("it may be hung"), "{err}");

        let err =
            run("test:/hung", Instant::now() + Duration::from_secs(5), "it may be hung", || ()).await.unwrap_err();
        assert!(matches!(err, Blocked::StillWaiting { .. }), "{err:?}");
        assert!(err.to_string().contains("is still waiting"), "{err}");

        // Once the stuck call returns, the key is free again.
        unblock.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match run("test:/hung", Instant::now() + Duration::from_secs(5), "", || 7).await {
                Ok(v) => break assert_eq!(v, 7),
                Err(Blocked::StillWaiting { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[tokio::test]
    async fn a_panic_is_an_error_not_a_crash() {
        let err = run("test:panics", Instant::now() + Duration::from_secs(5), "", || -> u8 { panic!("boom") })
            .await
            .unwrap_err();
        assert!(matches!(err, Blocked::Panicked { .. }), "{err:?}");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(secs(Duration::from_millis(250)), "250 ms");
        assert_eq!(secs(Duration::from_secs(3)), "3 s");
        assert_eq!(secs(Duration::from_millis(3004)), "3 s");
        assert_eq!(secs(Duration::from_millis(2500)), "2.5 s");
    }
}
